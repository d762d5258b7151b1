"""Timestamps → runs → session keys. Pure: no database, no Flask, no clock.

A run is a stretch of sorted capture timestamps in which no two consecutive
distinct timestamps are `gap` or more apart and whose span does not exceed the
maximum session duration. A session key (`Event.group_by`) is derived from a
run's first timestamp under the project's keying; under `date` and `night`
several runs can share one key, and the session then spans all of them.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Iterator

from .config import DEFAULT_MAX_SESSION_SECONDS

KEYINGS = ("date", "night", "run")
DEFAULT_KEYING = "date"
GROUP_BY_MAX_LENGTH = 32
NIGHT_OFFSET = timedelta(hours=12)


@dataclass(frozen=True)
class Run:
    """One run: its first and last timestamp, and the caller's items at both ends."""

    start: datetime
    end: datetime
    first: Any = None
    last: Any = None

    @property
    def duration_seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class RunCutter:
    """Decides, one sorted timestamp at a time, where a new run starts.

    Kept as a tiny state machine so the database service can cut runs while it
    streams rows, without materialising the timestamps.
    """

    __slots__ = ("gap", "max_span", "run_start", "previous")

    def __init__(self, gap_seconds: float, max_session_seconds: float = DEFAULT_MAX_SESSION_SECONDS):
        if gap_seconds <= 0:
            raise ValueError(f"gap must be positive, got {gap_seconds!r}")
        if max_session_seconds < 0:
            raise ValueError(f"maximum session duration must not be negative, got {max_session_seconds!r}")
        self.gap = timedelta(seconds=gap_seconds)
        self.max_span = timedelta(seconds=max_session_seconds)
        self.run_start: datetime | None = None
        self.previous: datetime | None = None

    def starts_new(self, timestamp: datetime) -> bool:
        """Feed the next timestamp (>= the previous one); True if it opens a new run."""
        previous = self.previous
        if previous is not None and timestamp < previous:
            raise ValueError(f"timestamps out of order: {timestamp} after {previous}")
        self.previous = timestamp
        if (
            previous is None
            or timestamp - previous >= self.gap
            or timestamp - self.run_start > self.max_span
        ):
            self.run_start = timestamp
            return True
        return False


def iter_runs(
    items: Iterable,
    gap_seconds: float,
    max_session_seconds: float = DEFAULT_MAX_SESSION_SECONDS,
    key: Callable[[Any], datetime] | None = None,
) -> Iterator[Run]:
    """Cut items sorted by timestamp into runs (equal timestamps never split a run).

    `key` extracts the timestamp from an item (the item itself by default);
    each Run carries the first and last item of its stretch.
    """
    cutter = RunCutter(gap_seconds, max_session_seconds)
    first = last = None
    start = end = None
    for item in items:
        timestamp = item if key is None else key(item)
        if cutter.starts_new(timestamp):
            if start is not None:
                yield Run(start, end, first, last)
            start, first = timestamp, item
        end, last = timestamp, item
    if start is not None:
        yield Run(start, end, first, last)


def cut_runs(
    timestamps: Iterable[datetime],
    gap_seconds: float,
    max_session_seconds: float = DEFAULT_MAX_SESSION_SECONDS,
) -> list[Run]:
    """Runs of any collection of timestamps (any order, duplicates allowed)."""
    return list(iter_runs(sorted(set(timestamps)), gap_seconds, max_session_seconds))


def session_key(run_start: datetime, keying: str = DEFAULT_KEYING) -> str:
    """The `group_by` of the session a run starting at `run_start` belongs to."""
    if keying == "date":
        return run_start.date().isoformat()
    if keying == "night":
        return (run_start - NIGHT_OFFSET).date().isoformat()
    if keying == "run":
        return run_start.isoformat(timespec="seconds")
    raise ValueError(f"unknown session keying {keying!r}; expected one of {', '.join(KEYINGS)}")


def group_sessions(
    timestamps: Iterable[datetime],
    gap_seconds: float,
    keying: str = DEFAULT_KEYING,
    max_session_seconds: float = DEFAULT_MAX_SESSION_SECONDS,
) -> dict[str, tuple[datetime, datetime]]:
    """Session key → (start, end) for a set of timestamps: the whole rule in one call."""
    sessions: dict[str, tuple[datetime, datetime]] = {}
    for run in cut_runs(timestamps, gap_seconds, max_session_seconds):
        group_by = session_key(run.start, keying)
        if group_by in sessions:
            start, end = sessions[group_by]
            sessions[group_by] = (min(start, run.start), max(end, run.end))
        else:
            sessions[group_by] = (run.start, run.end)
    return sessions
