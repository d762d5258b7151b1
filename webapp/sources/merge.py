"""Telling new, changed and vanished files apart: a merge of two sorted streams.

One side is the source's listing, the other the station's capture rows, both
in the order of their paths as strings; neither is ever held whole, so a
sync's memory does not grow with the station's size.
"""
from typing import Iterable, Iterator

from .capture_rows import KnownFile, is_changed
from .files import FileEntry

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
