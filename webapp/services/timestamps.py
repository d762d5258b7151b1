"""One ordered read of a station's capture timestamps, as a numpy array.

The hot read of a regroup and of a preview: every timestamped capture of the
station, in time order, from the (deployment_id, timestamp) index, as int64
microseconds since 1970 (what `grouping.group_spans` takes). It goes through
the driver's own cursor, since the ORM's row machinery costs three times the
read at 1M rows:

- SQLite hands back the stored text; rows are fetched in chunks and the
  fixed-width text SQLAlchemy writes (`YYYY-MM-DD HH:MM:SS.ffffff`) is parsed
  as one byte array per chunk (any other ISO form goes through numpy's parser);
- PostgreSQL streams the column with `COPY … TO STDOUT (FORMAT BINARY)`, whose
  rows are fixed 14-byte records holding microseconds since 2000-01-01.

`tick` is called at least every chunk, so a caller can check for cancel while
a large station is read.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..extensions import db

SQLITE_CHUNK_ROWS = 32768
_SQLITE_READ = (
    "SELECT timestamp FROM capture WHERE deployment_id = ? AND timestamp IS NOT NULL ORDER BY timestamp"
)
_MISSING = "SELECT COUNT(*) FROM capture WHERE deployment_id = {p} AND timestamp IS NULL"
# Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
_PG_EPOCH_US = 946_684_800 * 1_000_000
_PG_HEADER = 19  # signature (11), flags (4), extension length (4, zero)
_PG_ROW = np.dtype([("fields", ">i2"), ("length", ">i4"), ("value", ">i8")])
_TEXT_WIDTH = 26


@dataclass(frozen=True)
class StationTimestamps:
    """A station's timestamps in order (int64 µs since 1970) and how many captures have none."""

    values: np.ndarray
    missing: int


def read_timestamps(deployment_id: int, tick: Callable[[], None] | None = None) -> StationTimestamps:
    """Read the station's timestamps in order (one statement) and count its captures without one.

    Runs on `db.session`'s connection and does not commit.
    """
    connection = db.session.connection()
    raw = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        values = _read_postgresql(raw, deployment_id, tick)
        mark = "%s"
    else:
        values = _read_sqlite(raw, deployment_id, tick)
        mark = "?"
    cursor = raw.cursor()
    try:
        cursor.execute(_MISSING.format(p=mark), (deployment_id,))
        (missing,) = cursor.fetchone()
    finally:
        cursor.close()
    return StationTimestamps(values, int(missing))


def _read_sqlite(raw, deployment_id: int, tick) -> np.ndarray:
    cursor = raw.cursor()
    parts = []
    try:
        cursor.execute(_SQLITE_READ, (deployment_id,))
        while True:
            rows = cursor.fetchmany(SQLITE_CHUNK_ROWS)
            if not rows:
                break
            parts.append(parse_sqlite_texts([value for (value,) in rows]))
            if tick is not None:
                tick()
    finally:
        cursor.close()
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def parse_sqlite_texts(texts: list[str]) -> np.ndarray:
    """SQLite's stored datetime texts → int64 µs since 1970."""
    joined = "".join(texts)
    if len(joined) == _TEXT_WIDTH * len(texts) and joined.isascii():
        chars = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).reshape(-1, _TEXT_WIDTH)
        separators = chars[:, [4, 7, 13, 16, 19]]
        if (separators == np.frombuffer(b"--::.", dtype=np.uint8)).all() and np.isin(chars[:, 10], (32, 84)).all():
            return _fixed_width_to_microseconds(chars)
    return np.array(texts, dtype="datetime64[us]").astype(np.int64)


def _fixed_width_to_microseconds(chars: np.ndarray) -> np.ndarray:
    digits = chars.astype(np.int64) - 48

    def number(first: int, width: int) -> np.ndarray:
        value = digits[:, first]
        for position in range(first + 1, first + width):
            value = value * 10 + digits[:, position]
        return value

    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    # Days from 1970-01-01 of a proleptic Gregorian date, in whole-array integer steps.
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146097 + day_of_era - 719468
    seconds = days * 86400 + number(11, 2) * 3600 + number(14, 2) * 60 + number(17, 2)
    return seconds * 1_000_000 + number(20, 6)


def _read_postgresql(raw, deployment_id: int, tick) -> np.ndarray:
    blocks = []
    statement = (
        "COPY (SELECT timestamp FROM capture WHERE deployment_id = %s AND timestamp IS NOT NULL "
        "ORDER BY timestamp) TO STDOUT (FORMAT BINARY)"
    )
    with raw.cursor() as cursor:
        with cursor.copy(statement, (deployment_id,)) as copy:
            for block in copy:
                blocks.append(bytes(block))
                if tick is not None:
                    tick()
    data = b"".join(blocks)
    count = max(0, (len(data) - _PG_HEADER - 2) // _PG_ROW.itemsize)
    rows = np.frombuffer(data, dtype=_PG_ROW, count=count, offset=_PG_HEADER) if count else None
    if rows is None:
        return np.zeros(0, dtype=np.int64)
    return rows["value"].astype(np.int64) + _PG_EPOCH_US
