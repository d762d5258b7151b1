"""A station's distinct capture times, read once and kept per process.

The regroup preview, the gap histogram and the schedule-fit check all start
from the station's sorted distinct timestamps and how many captures share
each. Reading them is the expensive part (one ordered index read), and they
change only when captures are added, so each process keeps the latest read of
a station under a fingerprint of its cached capture counters and reuses it
until a sync changes them.

Times are kept as integer microseconds of the station's local clock (naive,
counted from 1970-01-01): exact, compact (`array`), and compared as cheaply
as Python can compare anything.
"""
import threading
from array import array
from bisect import bisect_right
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from operator import sub

from flask import current_app

from ..extensions import db
from ..gaps import BIN_COUNT, MIN_SUGGESTED_GAP_SECONDS, bin_index
from ..models import Deployment
from .sql import dialect_name

EPOCH = datetime(1970, 1, 1)
MICROSECOND = timedelta(microseconds=1)
US = 1_000_000
# Gaps at least this long are indexed at load: no admissible session gap is shorter,
# so a rule's boundaries are found among them without a pass over every timestamp.
BREAK_MIN_US = MIN_SUGGESTED_GAP_SECONDS * US
# The cache holds at most this many timestamps over all stations (16 bytes each).
CACHE_MAX_TIMESTAMPS = 4_000_000
FETCH_ROWS = 20_000

_READ_SQL = "SELECT timestamp FROM capture WHERE deployment_id = {p} AND timestamp IS NOT NULL ORDER BY timestamp"


def to_micros(value: datetime) -> int:
    return (value - EPOCH) // MICROSECOND


def to_datetime(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


@dataclass
class StationTimes:
    """Sorted distinct capture times of one station (µs), with counts and the indexed long gaps."""

    micros: array  # 'q', strictly increasing
    cumulative: array  # 'q', len(micros) + 1: captures before each index
    breaks: list[int]  # indices i ≥ 1 with micros[i] - micros[i - 1] ≥ BREAK_MIN_US
    _gap_bins: list[int] | None = None

    def __len__(self) -> int:
        return len(self.micros)

    def captures_between(self, first: int, last: int) -> int:
        """Captures at the distinct times with indices first…last (inclusive)."""
        return self.cumulative[last + 1] - self.cumulative[first]

    def gap_bins(self) -> list[int]:
        """How many gaps between consecutive distinct times fall in each histogram bin (computed once)."""
        if self._gap_bins is None:
            micros = self.micros
            # Schedules repeat a few step lengths: count equal gaps in C, then bin each length once.
            steps = Counter(map(sub, islice(micros, 1, None), micros))
            bins = [0] * BIN_COUNT
            for step, count in steps.items():
                bins[bin_index(step / US)] += count
            self._gap_bins = bins
        return self._gap_bins

    def long_gaps_seconds(self) -> list[float]:
        """Every gap of at least a minute, in seconds (off-windows, night breaks)."""
        micros = self.micros
        return [(micros[i] - micros[i - 1]) / US for i in self.breaks]

    def runs(self, gap_seconds: float, max_session_seconds: float) -> list[tuple[int, int]]:
        """Runs as (first index, last index), cut exactly as grouping.RunCutter cuts them."""
        micros = self.micros
        count = len(micros)
        if not count:
            return []
        gap_us = round(gap_seconds * US)
        max_us = round(max_session_seconds * US)
        if gap_us >= BREAK_MIN_US:
            starts = [i for i in self.breaks if micros[i] - micros[i - 1] >= gap_us]
        else:
            starts = [i for i in range(1, count) if micros[i] - micros[i - 1] >= gap_us]
        runs = []
        first = 0
        for end in (*starts, count):
            # Within a stretch cut by the gap, the cap starts a run at the first
            # time more than max_us after the run's start.
            while True:
                cut = bisect_right(micros, micros[first] + max_us, first, end)
                if cut >= end:
                    runs.append((first, end - 1))
                    break
                runs.append((first, cut - 1))
                first = cut
            first = end
        return runs


class LruCache:
    """A small thread-safe LRU map; one per app (see `app_cache`), so apps never share entries."""

    def __init__(self, max_weight: int, weigh=lambda value: 1):
        self.max_weight = max_weight
        self.weigh = weigh
        self.items: "OrderedDict[tuple, object]" = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key, value, replaces=lambda key: False) -> None:
        with self.lock:
            for stale in [k for k in self.items if replaces(k)]:
                del self.items[stale]
            self.items[key] = value
            total = sum(self.weigh(v) for v in self.items.values())
            while total > self.max_weight and len(self.items) > 1:
                _, dropped = self.items.popitem(last=False)
                total -= self.weigh(dropped)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


def app_cache(name: str, max_weight: int, weigh=lambda value: 1) -> LruCache:
    """The current app's cache called `name`, made on first use."""
    caches = current_app.extensions.setdefault("ami_caches", {})
    cache = caches.get(name)
    if cache is None:
        cache = caches.setdefault(name, LruCache(max_weight, weigh))
    return cache


def clear_caches() -> None:
    """Empty every cache of the current app (benchmarks time a cold start with it)."""
    for cache in current_app.extensions.get("ami_caches", {}).values():
        cache.clear()


def fingerprint(deployment: Deployment) -> tuple:
    """(station, capture count, first and last capture time) from the station's cached counters.

    Every sync refreshes the counters when it adds captures, so they change
    whenever the captures do, and reading them costs nothing (a count over a
    large station's index would cost more than the cached answer saves).
    """
    return (deployment.id, deployment.captures_count, deployment.first_capture_timestamp,
            deployment.last_capture_timestamp)


def station_times(deployment: Deployment) -> StationTimes:
    """The station's StationTimes, from the app's cache while its captures are unchanged."""
    deployment_id = deployment.id
    key = fingerprint(deployment)
    cache = app_cache("station_times", CACHE_MAX_TIMESTAMPS, len)
    times = cache.get(key)
    if times is None:
        times = read_station_times(deployment_id)
        cache.put(key, times, replaces=lambda k: k[0] == deployment_id)
    return times


def read_station_times(deployment_id: int) -> StationTimes:
    """One ordered read of the station's timestamps through the raw cursor (the fast path at 1M rows)."""
    connection = db.session.connection().connection
    if dialect_name() == "postgresql":
        cursor = connection.cursor(name=f"station_times_{deployment_id}_{threading.get_ident()}")
        cursor.itersize = FETCH_ROWS
        cursor.execute(_READ_SQL.format(p="%s"), (deployment_id,))
        parse = None
    else:
        cursor = connection.cursor()
        cursor.arraysize = FETCH_ROWS
        cursor.execute(_READ_SQL.format(p="?"), (deployment_id,))
        parse = datetime.fromisoformat
    micros = array("q")
    cumulative = array("q", [0])
    breaks: list[int] = []
    previous_raw = object()
    previous = -(2**62)
    seen = 0
    try:
        for (value,) in cursor:
            seen += 1
            if value == previous_raw:
                cumulative[-1] = seen
                continue
            previous_raw = value
            current = ((parse(value) if parse is not None else value) - EPOCH) // MICROSECOND
            if current - previous >= BREAK_MIN_US:
                breaks.append(len(micros))
            micros.append(current)
            cumulative.append(seen)
            previous = current
    finally:
        cursor.close()
    if breaks and breaks[0] == 0:
        breaks.pop(0)  # the first time starts the first run; it follows no gap
    return StationTimes(micros=micros, cumulative=cumulative, breaks=breaks)
