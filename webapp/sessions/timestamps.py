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
                # The byte after every row but the last must be a comma.
                commas = np.lib.stride_tricks.as_strided(data[width:], shape=(rows - 1,), strides=(width + 1,), writeable=False)
                if not (commas == _COMMA).all():
                    continue
                parts = []
                for start in range(0, rows, PARSE_SLICE_ROWS):
                    microseconds = _fixed_width_to_microseconds(chars[start : start + PARSE_SLICE_ROWS], width)
                    if microseconds is None:
                        break
                    parts.append(microseconds)
                else:
                    return np.concatenate(parts)
    return parse_texts(joined.split(","))


def parse_texts(texts: list[str]) -> np.ndarray:
    """ISO timestamps one by one (space or T between date and time) → int64 µs since 1970."""
    return np.array([text.replace(" ", "T", 1) for text in texts], dtype="datetime64[us]").astype(np.int64)


_COMMA = ord(",")
_MICROSECONDS_A_DAY = 86_400_000_000


def _layout(width: int) -> tuple:
    """Where a row's separators stand and what they are, which columns are separators, the
    first column of each two-digit pair (YY YY MM DD hh mm ss, then ff ff ff if any), and
    each time pair's weight in µs."""
    separators = [4, 7, 10, 13, 16, 19][: 6 if width == 26 else 5]
    expected = np.frombuffer(b"-- ::."[: len(separators)], dtype=np.uint8)
    is_separator = np.isin(np.arange(width), separators)
    tens = np.array([0, 2, 5, 8, 11, 14, 17, 20, 22, 24][: 10 if width == 26 else 7])
    time_weights = np.array([3_600e6, 60e6, 1e6, 1e4, 1e2, 1][: len(tens) - 4])
    return separators, expected, is_separator, tens, time_weights


_LAYOUT = {width: _layout(width) for width in _WIDTHS}
# Float matrices: numpy multiplies them through BLAS (integer ones in a slow loop), and
# every value here is an integer well below 2**53, so the products are exact.
_DATE_WEIGHTS = np.array([1e6, 1e4, 1e2, 1])


def _fixed_width_to_microseconds(chars: np.ndarray, width: int) -> np.ndarray | None:
    """Rows of `YYYY-MM-DD HH:MM:SS[.ffffff]` bytes (a space or "T" in the middle) → µs since
    1970, or None if a row has another form.

    Digits are paired in uint8 (at most 99) before anything wider is made, and the
    calendar arithmetic runs once per run of rows with the same date, not once per
    row: a window of one station's captures holds few dates.
    """
    separators, expected, is_separator, tens, time_weights = _LAYOUT[width]
    block = np.ascontiguousarray(chars)
    found = block[:, separators]
    found[:, 2] = np.where(found[:, 2] == ord("T"), ord(" "), found[:, 2])
    # Bytes below "0" wrap around in uint8, so one comparison finds every non-digit.
    digits = block - np.uint8(ord("0"))
    if not ((found == expected).all() and ((digits <= 9) | is_separator).all()):
        return None
    pairs = (digits[:, tens] * np.uint8(10) + digits[:, tens + 1]).astype(np.float64)
    date_keys = (pairs[:, :4] @ _DATE_WEIGHTS).astype(np.int64)
    time_of_day = (pairs[:, 4:] @ time_weights).astype(np.int64)
    starts = np.flatnonzero(np.diff(date_keys, prepend=-1))
    keys = date_keys[starts]
    days = _days_since_1970(keys // 10_000, keys // 100 % 100, keys % 100)
    return np.repeat(days, np.diff(starts, append=len(date_keys))) * _MICROSECONDS_A_DAY + time_of_day


def _days_since_1970(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 of proleptic Gregorian dates, in whole-array integer steps."""
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
