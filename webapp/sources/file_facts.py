"""What a file tells without being opened: the capture time written in its name, and its size and
modification time.

Standard library only, with no import from the rest of the package: the
listing's stat helpers (stat_helper.py) run this module in processes of their
own, which start in milliseconds.
"""
import os
import re
from datetime import datetime

# Tried in order; each captures year, month, day, hour, minute, second.
_NAME_PATTERNS = (
    re.compile(r"(?=(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}))"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[^\d](\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})(?!\d)"),
)
# One scan that tells whether the first pattern (tried at every offset) can match at all.
_FOURTEEN_DIGITS = re.compile(r"\d{14}")
_SHORT_PATTERN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)")


def _valid(parts) -> datetime | None:
    try:
        return datetime(*map(int, parts))
    except ValueError:
        return None


def timestamp_from_name(name: str) -> datetime | None:
    """The capture time written in a file name, or None.

    14 digits `YYYYMMDDhhmmss` anywhere in the name, or `YYYYMMDD<sep>hhmmss`,
    or `YYYY<s>MM<s>DD<sep>hh<s>mm<s>ss` with single non-digit separators, or
    12 digits `YYMMDDhhmmss`.
    """
    stem = name.rpartition("/")[2]
    for pattern in _NAME_PATTERNS if _FOURTEEN_DIGITS.search(stem) else _NAME_PATTERNS[1:]:
        for match in pattern.finditer(stem):
            found = _valid(match.groups())
            if found:
                return found
    for match in _SHORT_PATTERN.finditer(stem):
        year, *rest = match.groups()
        found = _valid((2000 + int(year), *rest))
        if found:
            return found
    return None


# A time looked for in a file's name and head and not found there; None is a time not looked for yet.
NO_TIME = ""


def time_text(moment: datetime | None) -> str | None:
    """A capture time as the text a sync writes (SQLAlchemy's SQLite DateTime text, which
    `datetime.fromisoformat` and numpy read back)."""
    return None if moment is None else moment.isoformat(" ", "microseconds")


# The two usual forms, each read by one search: the first run of 14 digits is the first match of the
# first pattern (which is tried at every offset), and without such a run the second pattern comes first.
_FOURTEEN_RUN = re.compile(r"(?<!\d)\d{14}")
_DATE_SEP_TIME = _NAME_PATTERNS[1]


def name_times(names: list[str]) -> list[str | None]:
    """timestamp_from_name of each file name, as time_text, at a fraction of its cost per name.

    Where a usual form (`YYYYMMDDhhmmss…`, `YYYYMMDD_hhmmss…`) gives a date
    that exists, it is the one timestamp_from_name would find first; any other
    name goes through timestamp_from_name itself.
    """
    texts: list[str | None] = []
    fourteen, date_sep_time, check = _FOURTEEN_RUN.search, _DATE_SEP_TIME.search, datetime.fromisoformat
    for name in names:
        stem = name.rpartition("/")[2]
        found = fourteen(stem)
        if found is not None:
            d = found.group()
            text = f"{d[:4]}-{d[4:6]}-{d[6:8]} {d[8:10]}:{d[10:12]}:{d[12:]}.000000"
        else:
            found = date_sep_time(stem)
            text = None if found is None else "%s-%s-%s %s:%s:%s.000000" % found.groups()
        if text is not None:
            try:
                # Refuses 2024-02-30, 24:00, year 0 and digits other than ASCII ones.
                check(text)
            except ValueError:
                text = None
        texts.append(text if text is not None else time_text(timestamp_from_name(stem)))
    return texts


def stat_files(folder: str, names: list[str]) -> tuple[list[int], list[int | None]]:
    """The size and modification time (whole microseconds since the epoch, UTC) of each file
    `folder + name`, from one `stat` each; a file that cannot be read has size -1."""
    sizes: list[int] = []
    modified: list[int | None] = []
    size, when = sizes.append, modified.append
    try:
        for found in map(os.stat, [folder + name for name in names]):
            size(found.st_size)
            when(found.st_mtime_ns // 1000)
    except OSError:
        sizes, modified = [], []
        for name in names:
            try:
                found = os.stat(folder + name)
            except OSError:
                sizes.append(-1)
                modified.append(None)
                continue
            sizes.append(found.st_size)
            modified.append(found.st_mtime_ns // 1000)
    return sizes, modified
