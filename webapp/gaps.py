"""Gaps between a station's consecutive captures: a log-scale histogram and the
schedule-fit check. Pure: no database, no Flask, no clock.

A gap here is the time between two consecutive distinct capture timestamps,
in seconds. Burst schedules (e.g. two hours on, two hours off) leave their
off-windows as recurring gaps of nearly the same length; a session gap set
within a few percent of such an off-window makes the grouping depend on clock
jitter, which is what `schedule_fit` detects.
"""
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

HISTOGRAM_MIN_SECONDS = 1
HISTOGRAM_MAX_SECONDS = 7 * 86400
BINS_PER_DECADE = 12
# Within this fraction of the session gap, an off-window flips with jitter.
FIT_TOLERANCE = 0.10
# An off-window length seen this often (within the tolerance) is part of the schedule.
REGULAR_MIN_OCCURRENCES = 3
SUGGESTION_STEP_SECONDS = 900
MIN_SUGGESTED_GAP_SECONDS = 60
MAX_SUGGESTED_GAP_SECONDS = 604800

_LOG_MIN = math.log10(HISTOGRAM_MIN_SECONDS)
_LOG_MAX = math.log10(HISTOGRAM_MAX_SECONDS)
BIN_COUNT = math.ceil((_LOG_MAX - _LOG_MIN) * BINS_PER_DECADE)


def bin_edges() -> list[float]:
    """The histogram's bin edges in seconds, BIN_COUNT + 1 of them, from 1 s to 7 days."""
    step = (_LOG_MAX - _LOG_MIN) / BIN_COUNT
    return [10 ** (_LOG_MIN + i * step) for i in range(BIN_COUNT + 1)]


def bin_index(seconds: float) -> int:
    """The bin a gap falls in; shorter than 1 s → the first, longer than 7 days → the last."""
    if seconds <= HISTOGRAM_MIN_SECONDS:
        return 0
    position = (math.log10(seconds) - _LOG_MIN) / (_LOG_MAX - _LOG_MIN) * BIN_COUNT
    return min(BIN_COUNT - 1, max(0, int(position)))


def histogram(gaps: Iterable[float]) -> list[int]:
    """How many gaps fall in each of the BIN_COUNT log-scale bins."""
    counts = [0] * BIN_COUNT
    for seconds in gaps:
        counts[bin_index(seconds)] += 1
    return counts


def axis_position(seconds: float) -> float:
    """Where `seconds` lies on the log axis, from 0.0 (1 s) to 1.0 (7 days), clamped."""
    if seconds <= HISTOGRAM_MIN_SECONDS:
        return 0.0
    return min(1.0, (math.log10(seconds) - _LOG_MIN) / (_LOG_MAX - _LOG_MIN))


AXIS_TICKS = (
    (1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"),
    (6 * 3600, "6 h"), (86400, "1 d"), (7 * 86400, "7 d"),
)


def format_seconds(seconds: float) -> str:
    """A gap for people: "45 s", "12 min", "2 h 1 min", "3 d 4 h"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    if seconds < 86400:
        hours_, rest = divmod(seconds, 3600)
        return f"{hours_} h" + (f" {rest // 60} min" if rest // 60 else "")
    days, rest = divmod(seconds, 86400)
    return f"{days} d" + (f" {rest // 3600} h" if rest // 3600 else "")


@dataclass(frozen=True)
class ScheduleFit:
    """A recurring off-window that lies within FIT_TOLERANCE of the session gap."""

    gap_seconds: int
    band: tuple[float, float]
    off_window_seconds: float  # the median of the off-windows in the band
    occurrences: int
    suggested_gap_seconds: int | None

    def message(self) -> str:
        """The warning as shown on the station page and in a regroup's log."""
        text = (
            f"This station's schedule has a regular off-window of about {format_seconds(self.off_window_seconds)} "
            f"({self.occurrences} times), within ±{int(FIT_TOLERANCE * 100)} % of its session gap of "
            f"{format_seconds(self.gap_seconds)}: small clock jitter will flip sessions between splitting and "
            "merging there."
        )
        if self.suggested_gap_seconds is not None:
            text += (
                f" Choose a gap outside {format_seconds(self.band[0])} – {format_seconds(self.band[1])}, "
                f"e.g. {self.suggested_gap_seconds / 3600:g} h."
            )
        return text


def schedule_fit(gaps: Iterable[float], gap_seconds: float) -> ScheduleFit | None:
    """The schedule-fit risk of `gap_seconds` for these gaps, or None when there is none.

    There is a risk when at least REGULAR_MIN_OCCURRENCES gaps lie within
    ±FIT_TOLERANCE of the session gap. The suggestion is the nearest multiple
    of 15 minutes above the band (or, failing that, below it) whose own band
    holds no recurring off-window.
    """
    if gap_seconds <= 0:
        return None
    low, high = gap_seconds * (1 - FIT_TOLERANCE), gap_seconds * (1 + FIT_TOLERANCE)
    # Gaps shorter than this are in no admissible gap's band: in-burst steps
    # are dropped before the suggestion looks for a clear band.
    shortest = MIN_SUGGESTED_GAP_SECONDS * (1 - FIT_TOLERANCE)
    candidates, in_band = [], []
    for g in gaps:
        if g >= shortest:
            candidates.append(g)
        if low <= g <= high:
            in_band.append(g)
    if len(in_band) < REGULAR_MIN_OCCURRENCES:
        return None
    in_band.sort()
    median = in_band[len(in_band) // 2]
    return ScheduleFit(
        gap_seconds=int(gap_seconds),
        band=(low, high),
        off_window_seconds=median,
        occurrences=len(in_band),
        suggested_gap_seconds=_suggest(candidates, in_band),
    )


def _suggest(candidates: Sequence[float], in_band: Sequence[float]) -> int | None:
    def clear(value: float) -> bool:
        lo, hi = value * (1 - FIT_TOLERANCE), value * (1 + FIT_TOLERANCE)
        return sum(1 for g in candidates if lo <= g <= hi) < REGULAR_MIN_OCCURRENCES

    step = SUGGESTION_STEP_SECONDS
    above = math.ceil(max(in_band) * (1 + FIT_TOLERANCE) / step) * step
    while above <= MAX_SUGGESTED_GAP_SECONDS:
        if clear(above):
            return int(above)
        above += step
    below = math.floor(min(in_band) * (1 - FIT_TOLERANCE) / step) * step
    while below >= MIN_SUGGESTED_GAP_SECONDS:
        if clear(below):
            return int(below)
        below -= step
    return None
