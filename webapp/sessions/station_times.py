"""A station's capture times, read once and kept per app.

The regroup preview, the gap histogram, the session timeline and the
schedule-fit check all start from the station's sorted timestamps. Reading
them is the expensive part (sessions/timestamps.py: one ordered index read),
and they change only when captures are added, so each app keeps the latest
read of a station under a fingerprint of its capture counters and reuses it
until a sync changes them.

Times are int64 microseconds of the station's local clock (naive, counted
from 1970-01-01), as `grouping.group_spans` takes them.
"""
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from flask import current_app

from ..gaps import BIN_COUNT, MIN_SUGGESTED_GAP_SECONDS, bin_index
from ..grouping import US
from ..models import Deployment
from .timestamps import read_timestamps

# Gaps at least this long are off-windows or night breaks: no admissible session gap is shorter.
LONG_GAP_US = MIN_SUGGESTED_GAP_SECONDS * US
# The cache holds at most this many timestamps over all stations (8 bytes each, plus derived arrays).
CACHE_MAX_TIMESTAMPS = 8_000_000


@dataclass
class StationTimes:
    """One station's timestamps in order (duplicates included), with what is derived from them on demand."""

    values: np.ndarray  # int64 µs, sorted
    _distinct: np.ndarray | None = field(default=None, repr=False)
    _gap_bins: list[int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def distinct(self) -> np.ndarray:
        """The distinct timestamps, in order."""
        if self._distinct is None:
            values = self.values
            keep = np.ones(len(values), dtype=bool)
            keep[1:] = values[1:] != values[:-1]
            self._distinct = values[keep]
        return self._distinct

    def gaps_us(self) -> np.ndarray:
        """Every gap between consecutive distinct timestamps."""
        return np.diff(self.distinct)

    def gap_bins(self) -> list[int]:
        """How many gaps fall in each histogram bin of `gaps` (computed once)."""
        if self._gap_bins is None:
            # Schedules repeat a few step lengths: bin each distinct length once.
            lengths, counts = np.unique(self.gaps_us(), return_counts=True)
            bins = [0] * BIN_COUNT
            for length, count in zip(lengths.tolist(), counts.tolist()):
                bins[bin_index(length / US)] += count
            self._gap_bins = bins
        return self._gap_bins

    def long_gaps_seconds(self) -> list[float]:
        """Every gap of at least a minute, in seconds (off-windows, night breaks)."""
        gaps = self.gaps_us()
        return (gaps[gaps >= LONG_GAP_US] / US).tolist()


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
    """The station's capture counters: `captures_version` moves with every insert of captures,
    and the cached count and first/last time with every refresh. Reading them costs nothing
    (a count over a large station's index would cost more than the cached answer saves)."""
    return (deployment.id, deployment.captures_version, deployment.captures_count,
            deployment.first_capture_timestamp, deployment.last_capture_timestamp)


def station_times(deployment: Deployment) -> StationTimes:
    """The station's StationTimes, from the app's cache while its captures are unchanged."""
    deployment_id = deployment.id
    key = fingerprint(deployment)
    cache = app_cache("station_times", CACHE_MAX_TIMESTAMPS, len)
    times = cache.get(key)
    if times is None:
        times = StationTimes(read_timestamps(deployment_id, expected_rows=deployment.captures_count or 0).values)
        cache.put(key, times, replaces=lambda k: k[0] == deployment_id)
    return times


