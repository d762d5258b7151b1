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


EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)
US = 1_000_000  # microseconds in a second


def to_microseconds(timestamp: datetime) -> int:
    """A naive timestamp as whole microseconds since 1970-01-01 (the unit `group_spans` works in)."""
    return (timestamp - EPOCH) // MICROSECOND


def from_microseconds(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


@dataclass(frozen=True)
class SessionSpans:
    """The sessions of one station's sorted timestamps, as parallel columns.

    Row `i` is a session: its key, first and last timestamp (microseconds
    since 1970), how many timestamps fall inside it (duplicates included) and
    the position of its first timestamp in the input.
    """

    group_by: list
    start: Any  # numpy int64 arrays
    end: Any
    counts: Any
    first_index: Any
    duplicates: int
    duplicate_samples: list

    def __len__(self) -> int:
        return len(self.group_by)


def group_spans(
    timestamps,
    gap_seconds: float,
    keying: str = DEFAULT_KEYING,
    max_session_seconds: float = DEFAULT_MAX_SESSION_SECONDS,
    samples: int = 20,
) -> SessionSpans:
    """`group_sessions` for a sorted numpy int64 array of microseconds, without a Python loop per timestamp.

    The same rule: distinct timestamps are cut where the gap to the previous
    one is >= `gap_seconds` or where the run would exceed
    `max_session_seconds`; runs sharing a key (keys never decrease along the
    time order) form one session. Equal timestamps are never split.
    """
    import numpy as np

    if gap_seconds <= 0:
        raise ValueError(f"gap must be positive, got {gap_seconds!r}")
    if max_session_seconds < 0:
        raise ValueError(f"maximum session duration must not be negative, got {max_session_seconds!r}")
    if keying not in KEYINGS:
        raise ValueError(f"unknown session keying {keying!r}; expected one of {', '.join(KEYINGS)}")
    ts = np.asarray(timestamps, dtype=np.int64)
    total = len(ts)
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SessionSpans([], empty, empty, empty, empty, 0, [])
    if total > 1 and bool((ts[1:] < ts[:-1]).any()):
        raise ValueError("timestamps out of order")

    new_value = np.ones(total, dtype=bool)
    new_value[1:] = ts[1:] != ts[:-1]
    distinct_index = np.flatnonzero(new_value)
    distinct = ts[distinct_index]

    # Duplicate groups: a repeated value whose previous row was not yet a repeat.
    repeat = ~new_value
    group_starts = repeat.copy()
    group_starts[1:] &= ~repeat[:-1]
    duplicate_positions = np.flatnonzero(group_starts)
    duplicate_samples = [from_microseconds(v) for v in ts[duplicate_positions[:samples]]]

    run_starts, run_ends = _cut_distinct(distinct, gap_seconds, max_session_seconds)
    keys = _keys(distinct[run_starts], keying)
    opens = np.ones(len(keys), dtype=bool)
    opens[1:] = keys[1:] != keys[:-1]
    session_runs = np.flatnonzero(opens)
    session_last_runs = np.append(session_runs[1:], len(keys)) - 1
    first_index = distinct_index[run_starts[session_runs]]
    counts = np.diff(np.append(first_index, total))
    return SessionSpans(
        group_by=keys[session_runs].tolist(),
        start=distinct[run_starts[session_runs]],
        end=distinct[run_ends[session_last_runs]],
        counts=counts,
        first_index=first_index,
        duplicates=len(duplicate_positions),
        duplicate_samples=duplicate_samples,
    )


def _cut_distinct(distinct, gap_seconds: float, max_session_seconds: float):
    """First and last position (in `distinct`) of each run of sorted distinct µs values."""
    import numpy as np

    gap_us = int(round(gap_seconds * 1_000_000))
    max_us = int(round(max_session_seconds * 1_000_000))
    cut = np.ones(len(distinct), dtype=bool)
    cut[1:] = np.diff(distinct) >= gap_us
    run_starts = np.flatnonzero(cut)
    run_ends = np.append(run_starts[1:], len(distinct)) - 1
    too_long = np.flatnonzero(distinct[run_ends] - distinct[run_starts] > max_us)
    if len(too_long):
        # The cap depends on where the previous piece began: walk only the
        # runs that exceed it, one piece (not one timestamp) at a time.
        extra = []
        for position in too_long:
            begin, last = int(run_starts[position]), int(run_ends[position])
            while True:
                begin = int(np.searchsorted(distinct, distinct[begin] + max_us, side="right"))
                if begin > last:
                    break
                extra.append(begin)
        run_starts = np.union1d(run_starts, np.asarray(extra, dtype=np.int64))
        run_ends = np.append(run_starts[1:], len(distinct)) - 1
    return run_starts, run_ends


def _keys(run_starts_us, keying: str):
    """`session_key` of each run start (µs), as a numpy string array."""
    import numpy as np

    first_values = run_starts_us.astype("datetime64[us]")
    if keying == "date":
        return np.datetime_as_string(first_values.astype("datetime64[D]"))
    if keying == "night":
        return np.datetime_as_string((first_values - np.timedelta64(12, "h")).astype("datetime64[D]"))
    return np.datetime_as_string(first_values.astype("datetime64[s]"))
