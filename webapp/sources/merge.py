"""Telling new, changed and vanished files apart: a merge of two sorted streams.

One side is the source's listing, the other the station's capture rows, both
in the order of their paths as strings; neither is ever held whole, so a
sync's memory does not grow with the station's size.
"""
from operator import itemgetter
from typing import Iterable, Iterator

import numpy as np

from .capture_rows import KnownFile, is_changed
from .files import FileBatch, FileEntry

NEW, CHANGED, VANISHED = "new", "changed", "vanished"


def merge_listing(
    listed: Iterable[FileEntry], known: Iterable[KnownFile]
) -> Iterator[tuple[str, FileEntry | None, KnownFile | None]]:
    """(NEW, entry, None), (CHANGED, entry, known row) and (VANISHED, None, known row), in path order.

    Files listed and unchanged yield nothing. Both inputs must be sorted by
    path with no path twice; a listed path repeated is taken once.
    """
    rows = iter(known)
    row = next(rows, None)
    previous = None
    for entry in listed:
        path = entry.path
        if path == previous:
            continue
        previous = path
        while row is not None and row[0] < path:
            yield VANISHED, None, row
            row = next(rows, None)
        if row is not None and row[0] == path:
            if is_changed(entry, row):
                yield CHANGED, entry, row
            row = next(rows, None)
        else:
            yield NEW, entry, None
    while row is not None:
        yield VANISHED, None, row
        row = next(rows, None)


_PATH, _SIZE, _MODIFIED = itemgetter(0), itemgetter(1), itemgetter(2)


def unchanged(batch: FileBatch, rows: list) -> bool:
    """Whether a batch's files are exactly the known rows of its range (capture_rows.KnownRows.upto's
    rows, which start `(path, size, modification time)`): the same paths and sizes, and no modification time newer than its row's, a time missing on
    either side comparing by size alone (as is_changed). Whole columns at a time; False sends the batch
    through merge_listing, which tells each file apart."""
    if len(rows) != len(batch.paths):
        return False
    if list(map(_PATH, rows)) != batch.paths or list(map(_SIZE, rows)) != batch.sizes:
        return False
    try:
        # SQLite's text or PostgreSQL's datetimes; None becomes NaT.
        known = np.array(list(map(_MODIFIED, rows)), dtype="datetime64[us]")
    except ValueError:
        return False
    known_micros = known.astype("int64").astype("float64")
    known_micros[np.isnat(known)] = np.nan
    listed = np.array(batch.modified, dtype="float64")
    # NaN on either side compares False: not newer.
    return not np.any(listed > known_micros)
