"""Station health: the faults of a station's clock and schedule, found in its ordered timestamps.

Pure numpy over the array a regroup has already read (int64 µs of station-local
time, sorted) and the sessions it has just cut, so a regroup pays a few
vectorised passes for it and no second read. A "night" is the date of
(local time − 12 h), as the `night` keying and the operation calendar count it.

Kinds (thresholds in HealthRules, a project's settings):

- clock_reset: captures dated before the plausible start (a clock back at its
  factory date);
- future_dates: captures dated after the check plus a margin;
- outage: runs of nights without a capture between the first and last
  operating night;
- trigger_storm: nights with far more captures than the station's median night;
- daytime_captures: too many captures between 10:00 and 16:00 at a station
  active at night (a clock 12 h off);
- nights_joined: sessions whose span holds a local noon (one session, two nights).

Nights, storms, outages and daytime are counted over the plausible captures
only, so one clock reset does not turn into years of "outage".
"""
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta

import numpy as np

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
NIGHT_SHIFT_US = 12 * HOUR_US
DAYTIME_US = (10 * HOUR_US, 16 * HOUR_US)
_EPOCH = datetime(1970, 1, 1)
ACTIVE_AT = ("night", "day", "both")
KINDS = ("clock_reset", "future_dates", "time_backwards", "outage", "trigger_storm", "daytime_captures", "nights_joined")
CLOCK_KINDS = ("clock_reset", "future_dates", "time_backwards", "daytime_captures")


@dataclass(frozen=True)
class HealthRules:
    """The thresholds of the checks; a project's settings override the defaults."""

    plausible_start: str = "2010-01-01"
    future_margin_days: int = 1
    outage_nights: int = 3
    storm_factor: float = 5.0
    storm_minimum: int = 500
    daytime_percent: float = 5.0
    active_at: str = "night"
    backwards_minutes: int = 60

    @classmethod
    def of(cls, settings: dict | None) -> "HealthRules":
        """The rules a project's stored settings give (unknown keys ignored, missing ones default)."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in (settings or {}).items() if key in known})

    def as_dict(self) -> dict:
        return asdict(self)


# The form's fields: label, kind, bounds, help. Numbers outside the bounds are refused with their field named.
THRESHOLD_FIELDS = {
    "plausible_start": ("Plausible start", "date", ("1990-01-01", None), "Captures dated before it are a clock reset."),
    "future_margin_days": ("Future margin (days)", int, (0, 365), "Captures dated this far after the check are in the future."),
    "outage_nights": ("Outage (nights)", int, (1, 365), "This many nights or more without a capture is an outage."),
    "storm_factor": ("Trigger storm (× the median night)", float, (1, 1000), "A night this many times busier than the median…"),
    "storm_minimum": ("Trigger storm (at least, captures)", int, (1, 10_000_000), "…and with at least this many captures."),
    "daytime_percent": ("Daytime captures (%)", float, (0, 100), "More than this share between 10:00 and 16:00 is flagged."),
    "backwards_minutes": ("Time going back (minutes)", int, (1, 10_080), "A file dated this much before the one named before it."),
}


def clean_rules(values: dict[str, str]) -> tuple[HealthRules | None, dict[str, list[str]]]:
    """HealthRules from a form's text values (keys as HealthRules' fields), or None and the errors by field."""
    cleaned: dict = {}
    errors: dict[str, list[str]] = {}
    for name, (label, kind, (low, high), _) in THRESHOLD_FIELDS.items():
        text = (values.get(name) or "").strip()
        try:
            if kind == "date":
                day = datetime.strptime(text, "%Y-%m-%d")
                if text < low or day > datetime.now():
                    raise ValueError
                cleaned[name] = text
            else:
                number = kind(text)
                if not low <= number <= high or number != number:
                    raise ValueError
                cleaned[name] = number
        except ValueError:
            bounds = f"a date from {low} to today" if kind == "date" else f"a number from {low:,} to {high:,}"
            errors[name] = [f"{label}: must be {bounds}."]
    active = values.get("active_at")
    if active not in ACTIVE_AT:
        errors["active_at"] = ["Choose night, day or both."]
    else:
        cleaned["active_at"] = active
    return (None if errors else HealthRules(**cleaned)), errors


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _time(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=int(us))).isoformat(timespec="seconds")


def _night(index: int) -> str:
    return (_EPOCH + timedelta(days=int(index))).date().isoformat()


def _problem(kind: str, severity: str, count: int, first: str, last: str, detail: str) -> dict:
    return {"kind": kind, "severity": severity, "count": int(count), "first": first, "last": last, "detail": detail}


def find_problems(values: np.ndarray, span_start: np.ndarray, span_end: np.ndarray, rules: HealthRules,
                  now: datetime) -> list[dict]:
    """The problems of one station: its sorted timestamps (µs) and its sessions' starts and ends (µs).

    `now` is the time of the check (naive UTC); each problem has kind,
    severity, count, first, last and a plain-English detail.
    """
    problems: list[dict] = []
    if len(values) == 0:
        return problems
    start_us = _us(datetime.fromisoformat(rules.plausible_start))
    future_us = _us(now + timedelta(days=rules.future_margin_days))
    # Sorted: the plausible captures are one slice, found by two binary searches.
    low = int(np.searchsorted(values, start_us, side="left"))
    high = int(np.searchsorted(values, future_us, side="right"))
    if low:
        problems.append(_problem(
            "clock_reset", "error", low, _time(values[0]), _time(values[low - 1]),
            f"{low:,} captures are dated before {rules.plausible_start}, the sign of a clock that restarted "
            "at its factory date. Set a clock offset for them.",
        ))
    if high < len(values):
        late = len(values) - high
        problems.append(_problem(
            "future_dates", "error", late, _time(values[high]), _time(values[-1]),
            f"{late:,} captures are dated after {_time(future_us)[:10]}, later than the check; the clock runs ahead.",
        ))
    plausible = values[low:high]
    if len(plausible):
        problems += _night_problems(plausible, rules)
    problems += _joined_nights(span_start, span_end)
    return problems


def _night_problems(values: np.ndarray, rules: HealthRules) -> list[dict]:
    problems = []
    nights = (values - NIGHT_SHIFT_US) // DAY_US  # sorted, as the values are
    edges = np.flatnonzero(np.diff(nights)) + 1
    operating = nights[np.concatenate(([0], edges))]
    per_night = np.diff(np.concatenate(([0], edges, [len(nights)])))

    missing = np.diff(operating) - 1
    runs = np.flatnonzero(missing >= rules.outage_nights)
    if len(runs):
        longest = int(runs[np.argmax(missing[runs])])
        problems.append(_problem(
            "outage", "warning", len(runs), _night(operating[runs[0]] + 1), _night(operating[runs[-1] + 1] - 1),
            f"{len(runs)} stretch{'es' if len(runs) != 1 else ''} of {rules.outage_nights} or more nights without "
            f"a capture; the longest is {int(missing[longest])} nights from {_night(operating[longest] + 1)}.",
        ))

    median = float(np.median(per_night))
    stormy = np.flatnonzero((per_night > rules.storm_factor * median) & (per_night >= rules.storm_minimum))
    if len(stormy):
        worst = int(stormy[np.argmax(per_night[stormy])])
        problems.append(_problem(
            "trigger_storm", "warning", len(stormy), _night(operating[stormy[0]]), _night(operating[stormy[-1]]),
            f"{len(stormy)} night{'s' if len(stormy) != 1 else ''} with more than {rules.storm_factor:g}× the "
            f"station's median of {median:g} captures a night; the most is {int(per_night[worst]):,} on the night "
            f"of {_night(operating[worst])}. A stuck trigger?",
        ))

    if rules.active_at == "night":
        of_day = values % DAY_US
        daytime = (of_day >= DAYTIME_US[0]) & (of_day < DAYTIME_US[1])
        count = int(np.count_nonzero(daytime))
        if count * 100 > rules.daytime_percent * len(values):
            found = values[daytime]
            problems.append(_problem(
                "daytime_captures", "warning", count, _time(found[0]), _time(found[-1]),
                f"{count * 100 / len(values):.0f} % of the captures are between 10:00 and 16:00 at a station that "
                "works at night: is its clock 12 hours off (AM/PM, or UTC against local time)?",
            ))
    return problems


def _joined_nights(span_start: np.ndarray, span_end: np.ndarray) -> list[dict]:
    """Sessions whose span holds a local noon: the last noon at or before the end is at or after the start."""
    if len(span_start) == 0:
        return []
    last_noon = (span_end - NIGHT_SHIFT_US) // DAY_US * DAY_US + NIGHT_SHIFT_US
    joined = np.flatnonzero(last_noon >= span_start)
    if not len(joined):
        return []
    return [_problem(
        "nights_joined", "warning", len(joined), _time(span_start[joined[0]]), _time(span_start[joined[-1]]),
        f"{len(joined):,} session{'s' if len(joined) != 1 else ''} span a local noon, each joining two nights; "
        "the night keying cuts sessions at noon.",
    )]


class BackwardsCounter:
    """time_backwards, counted over files given in name order, one folder's files after another.

    A file dated more than `backwards_minutes` before the file named just
    before it in the same folder counts once: the clock was reset or changed
    while the station ran. Fed by the sync, which lists files in that order.
    """

    def __init__(self, rules: HealthRules):
        self.limit = timedelta(minutes=rules.backwards_minutes)
        self.minutes = rules.backwards_minutes
        self.count = 0
        self.first: datetime | None = None
        self.last: datetime | None = None
        self._folder: str | None = None
        self._time: datetime | None = None

    def add(self, path: str, moment: datetime | None) -> None:
        if moment is None:
            return
        folder = path.rpartition("/")[0]
        if folder == self._folder and self._time - moment > self.limit:
            self.count += 1
            self.first = moment if self.first is None else min(self.first, moment)
            self.last = moment if self.last is None else max(self.last, moment)
        self._folder, self._time = folder, moment

    def add_moments(self, folder: str, moments: np.ndarray) -> None:
        """add() for files of one `folder` in name order, their times a datetime64[us] array (NaT: none)."""
        times = moments[~np.isnat(moments)]
        if not len(times):
            return
        if folder == self._folder and self._time is not None:
            times = np.concatenate((np.array([self._time], dtype="datetime64[us]"), times))
        back = times[1:][times[:-1] - times[1:] > np.timedelta64(self.limit)]
        if len(back):
            self.count += len(back)
            first, last = back.min().item(), back.max().item()
            self.first = first if self.first is None else min(self.first, first)
            self.last = last if self.last is None else max(self.last, last)
        self._folder, self._time = folder, times[-1].item()

    def problem(self, before: dict | None = None) -> dict | None:
        """The problem found, added to `before` (what earlier syncs found), or None if neither found any."""
        count = self.count + (before["count"] if before else 0)
        if not count:
            return None
        firsts = [t for t in (self.first and self.first.isoformat(timespec="seconds"), before and before["first"]) if t]
        lasts = [t for t in (self.last and self.last.isoformat(timespec="seconds"), before and before["last"]) if t]
        return _problem(
            "time_backwards", "warning", count, min(firsts), max(lasts),
            f"{count:,} files are dated more than {self.minutes} minutes before the file named just before them "
            "in their folder: the clock was reset or changed while the station ran.",
        )
