"""One ordered read of a station's capture timestamps, as a numpy array.

The hot read of a regroup and of a preview: every timestamped capture of the
station, from the (deployment_id, timestamp) index, as sorted int64
microseconds since 1970 (what `grouping.group_spans` takes).

A row-by-row fetch makes one Python object per capture, which costs more than
the database's own scan. So the index range is read in a few time windows,
each as ONE string aggregated inside the database (SQLite `group_concat`,
PostgreSQL `string_agg`), and the text is parsed as one byte array when its
values have one fixed width: SQLite's stored `YYYY-MM-DD HH:MM:SS.ffffff`, or
PostgreSQL's `YYYY-MM-DD HH:MM:SS` of whole seconds. Other forms go through
numpy's ISO parser. An aggregate promises no order, so the array is sorted
when it is not already (cheap when it is).

Windows are cut at bounds between the station's first and last timestamp,
compared the way the column compares, so every row falls in exactly one.
`tick` is called after every window, so a caller can check for cancel while
a large station is read.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import numpy as np

from ..extensions import db

WINDOW_ROWS = 250_000
_AGGREGATE = {"sqlite": "group_concat(timestamp, ',')", "postgresql": "string_agg(timestamp::text, ',')"}
_MARK = {"sqlite": "?", "postgresql": "%s"}
_RANGE = "FROM capture WHERE deployment_id = {p} AND timestamp IS NOT NULL"
_MISSING = "SELECT COUNT(*) FROM capture WHERE deployment_id = {p} AND timestamp IS NULL"
_WIDTHS = (26, 19)  # with microseconds; whole seconds


@dataclass(frozen=True)
class StationTimestamps:
    """A station's timestamps in order (int64 µs since 1970) and how many captures have none."""

    values: np.ndarray
    missing: int


def read_timestamps(deployment_id: int, tick: Callable[[], None] | None = None, expected_rows: int = 0) -> StationTimestamps:
    """Read the station's timestamps in order and count its captures without one.

    `expected_rows` (the station's cached count) sizes the read windows.
    Runs on `db.session`'s connection and does not commit.
    """
    connection = db.session.connection()
    dialect = connection.dialect.name
    p = _MARK[dialect]
    cursor = connection.connection.driver_connection.cursor()
    try:
        values = _read_windows(cursor, dialect, deployment_id, tick, expected_rows)
        cursor.execute(_MISSING.format(p=p), (deployment_id,))
        (missing,) = cursor.fetchone()
    finally:
        cursor.close()
    return StationTimestamps(values, int(missing))


def _read_windows(cursor, dialect: str, deployment_id: int, tick, expected_rows: int) -> np.ndarray:
    p = _MARK[dialect]
    cursor.execute(f"SELECT MIN(timestamp), MAX(timestamp) {_RANGE.format(p=p)}", (deployment_id,))
    low, high = cursor.fetchone()
    if low is None:
        return np.zeros(0, dtype=np.int64)
    bounds = _bounds(low, high, expected_rows, as_text=dialect == "sqlite")
    parts = []
    for first, last in zip([None, *bounds], [*bounds, None]):
        sql, params = f"SELECT {_AGGREGATE[dialect]} {_RANGE.format(p=p)}", [deployment_id]
        if first is not None:
            sql, params = f"{sql} AND timestamp >= {p}", [*params, first]
        if last is not None:
            sql, params = f"{sql} AND timestamp < {p}", [*params, last]
        cursor.execute(sql, params)
        (joined,) = cursor.fetchone()
        if joined:
            parts.append(parse_joined(joined))
        if tick is not None:
            tick()
    values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    if len(values) > 1 and bool((values[1:] < values[:-1]).any()):
        values.sort(kind="stable")
    return values


def _bounds(low, high, expected_rows: int, as_text: bool) -> list:
    """Inner window bounds between the first and last timestamp, about WINDOW_ROWS rows apart."""
    count = max(1, -(-expected_rows // WINDOW_ROWS))
    if as_text:
        # SQLite compares the stored text: bounds take the form SQLAlchemy stores.
        try:
            low, high = datetime.fromisoformat(low), datetime.fromisoformat(high)
        except ValueError:
            return []
    step = (high - low) / count
    bounds = [low + step * i for i in range(1, count)]
    return [b.isoformat(sep=" ", timespec="microseconds") for b in bounds] if as_text else bounds


PARSE_SLICE_ROWS = 65536


def parse_joined(joined: str) -> np.ndarray:
    """Comma-joined ISO timestamps → int64 µs since 1970.

    A fixed-width text is viewed as rows of bytes (no copy) and converted a
    slice of rows at a time, so the temporaries stay small whatever its length.
    """
    if joined.isascii():
        data = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
        for width in _WIDTHS:
            if (len(data) + 1) % (width + 1) == 0:
                rows = (len(data) + 1) // (width + 1)
                # The last row has no trailing comma: view `width` bytes of each row.
                chars = np.lib.stride_tricks.as_strided(data, shape=(rows, width), strides=(width + 1, 1), writeable=False)
                parts = []
                for start in range(0, rows, PARSE_SLICE_ROWS):
                    block = chars[start : start + PARSE_SLICE_ROWS]
                    if not _fixed_form(block, width, data, start):
                        break
                    parts.append(_fixed_width_to_microseconds(block, width))
                else:
                    return np.concatenate(parts)
    return parse_texts(joined.split(","))


def parse_texts(texts: list[str]) -> np.ndarray:
    """ISO timestamps one by one (space or T between date and time) → int64 µs since 1970."""
    return np.array([text.replace(" ", "T", 1) for text in texts], dtype="datetime64[us]").astype(np.int64)


def _fixed_form(chars: np.ndarray, width: int, data: np.ndarray, first_row: int) -> bool:
    positions, expected = [4, 7, 13, 16], b"--::"
    if width == 26:
        positions, expected = [4, 7, 13, 16, 19], b"--::."
    if not (chars[:, positions] == np.frombuffer(expected, dtype=np.uint8)).all():
        return False
    # Every byte between two rows is a comma (the last row has none after it).
    total_rows = (len(data) + 1) // (width + 1)
    between = np.arange(first_row, min(first_row + len(chars), total_rows - 1)) * (width + 1) + width
    if not (data[between] == 44).all():
        return False
    digits = chars[:, [i for i in range(width) if i not in (4, 7, 10, 13, 16, 19)]]
    return bool(np.isin(chars[:, 10], (32, 84)).all() and ((digits >= 48) & (digits <= 57)).all())


def _fixed_width_to_microseconds(chars: np.ndarray, width: int) -> np.ndarray:
    def number(first: int, count: int) -> np.ndarray:
        value = chars[:, first].astype(np.int64) - 48
        for position in range(first + 1, first + count):
            value = value * 10 + (chars[:, position].astype(np.int64) - 48)
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
    micro = number(20, 6) if width == 26 else 0
    return seconds * 1_000_000 + micro
