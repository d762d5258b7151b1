"""A station's captures per night, counted by each regroup from its one ordered read and kept on the station.

The operation calendar, its API and `operation.csv` read these instead of
grouping every capture row (400 ms for a year of a 100-station project on
SQLite, against a few ms for the stored counts). They are as fresh as the
station's sessions: stored with the `captures_version` the regroup read
before its timestamps, so a station whose captures changed since (a sync not
yet regrouped, an offset being applied) is counted from its rows instead.
A night is the date of (local time − 12 h).
"""
from datetime import datetime, timedelta

import numpy as np

from ..extensions import db
from ..models import Deployment

DAY_US = 86_400_000_000
NIGHT_SHIFT_US = 12 * 3_600_000_000
_EPOCH = datetime(1970, 1, 1)
# The nights a date can name: a capture before noon of 1 January of year 1 has none (and is a clock fault).
_FIRST_NIGHT = (datetime(1, 1, 1) - _EPOCH).days
_LAST_NIGHT = (datetime(9999, 12, 31) - _EPOCH).days


def count_nights(values: np.ndarray) -> dict[str, int]:
    """`{night YYYY-MM-DD: captures}` of sorted timestamps (int64 µs), nights without captures left out."""
    if len(values) == 0:
        return {}
    nights = (values - NIGHT_SHIFT_US) // DAY_US  # sorted, as the values are
    edges = np.flatnonzero(np.diff(nights)) + 1
    starts = np.concatenate(([0], edges))
    counts = np.diff(np.concatenate((starts, [len(nights)])))
    return {(_EPOCH + timedelta(days=night)).date().isoformat(): count
            for night, count in zip(nights[starts].tolist(), counts.tolist())
            if _FIRST_NIGHT <= night <= _LAST_NIGHT}


def changes(deployment_id: int, counts: dict[str, int], version: int) -> dict:
    """The station columns to write for night counts read at captures `version`: none when stored already."""
    table = Deployment.__table__
    stored = db.session.execute(
        db.select(table.c.night_counts, table.c.night_counts_version).where(table.c.id == deployment_id)
    ).first()
    if stored is not None and stored.night_counts_version == version and stored.night_counts == counts:
        return {}
    return {"night_counts": counts, "night_counts_version": version}
