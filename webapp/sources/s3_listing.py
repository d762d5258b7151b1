"""Listing an S3 data source: by prefix, with concurrent requests, in path order.

A station's bucket is usually laid out by night (`<station>/<date>/…`). The
listing finds those prefixes with delimiter requests (down to
PREFIX_DEPTH levels, stopping once there are enough to share out), lists them
concurrently with up to LIST_WORKERS requests in flight, and yields their
objects in key order, at most LIST_WORKERS prefixes ahead. A source without
common prefixes is listed by the one sequential paginator. A quick sync
(`after`) lists only keys after `after`, through StartAfter, which S3 orders
by UTF-8 bytes: the same order as Python's strings.
"""
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from typing import Iterator

from .files import FileEntry, is_image_name

LIST_WORKERS = 16
PREFIX_DEPTH = 3
ENOUGH_PREFIXES = 2 * LIST_WORKERS


def _entry(item: dict, skip: int) -> FileEntry | None:
    rel = item["Key"][skip:]
    if not rel or not is_image_name(rel):
        return None
    modified = item.get("LastModified")
    if modified is not None and modified.tzinfo is not None:
        modified = modified.astimezone(timezone.utc).replace(tzinfo=None)
    return FileEntry(rel, int(item["Size"]), modified)


def _pages(client, bucket: str, prefix: str, **extra) -> Iterator[dict]:
    return client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **extra)


def _stream(client, bucket: str, prefix: str, skip: int, **extra) -> Iterator[FileEntry]:
    """One sequential paginator's image objects."""
    for page in _pages(client, bucket, prefix, **extra):
        for item in page.get("Contents", ()):
            entry = _entry(item, skip)
            if entry is not None:
                yield entry


def _list_prefix(client, bucket: str, prefix: str, skip: int) -> list[FileEntry]:
    return list(_stream(client, bucket, prefix, skip))


def _split(client, bucket: str, prefix: str, skip: int) -> tuple[list[str], list[FileEntry]]:
    """The prefixes that share out the listing under `prefix`, and the files lying beside them."""
    prefixes, loose = [prefix], []
    for _ in range(PREFIX_DEPTH):
        deeper, beside = [], []
        for parent in prefixes:
            for page in _pages(client, bucket, parent, Delimiter="/"):
                deeper.extend(common["Prefix"] for common in page.get("CommonPrefixes", ()))
                beside.extend(e for e in (_entry(item, skip) for item in page.get("Contents", ())) if e is not None)
        if not deeper:
            # The files just seen lie inside `prefixes`, which are listed whole.
            break
        prefixes = deeper
        loose.extend(beside)
        if len(prefixes) >= ENOUGH_PREFIXES:
            break
    return prefixes, loose


def list_s3(client, bucket: str, prefix: str, after: str | None = None, workers: int = LIST_WORKERS) -> Iterator[FileEntry]:
    """The image objects under `prefix` as FileEntry (paths relative to it), sorted by path."""
    skip = len(prefix)
    if after is not None:
        yield from _stream(client, bucket, prefix, skip, StartAfter=prefix + after)
        return
    prefixes, loose = _split(client, bucket, prefix, skip)
    if prefixes == [prefix]:
        yield from _stream(client, bucket, prefix, skip)
        return
    # Blocks in key order: a loose file sorts against a prefix as its key does against the prefix.
    blocks = sorted([(entry.path, entry) for entry in loose] + [(p[skip:], p) for p in prefixes], key=lambda b: b[0])
    with ThreadPoolExecutor(workers, thread_name_prefix="s3-list") as pool:
        pending: list = []
        queue = iter(blocks)
        for block in queue:
            pending.append(block if isinstance(block[1], FileEntry) else pool.submit(_list_prefix, client, bucket, block[1], skip))
            if len(pending) >= workers:
                break
        while pending:
            head = pending.pop(0)
            if isinstance(head, tuple):
                yield head[1]
            else:
                yield from head.result()
            block = next(queue, None)
            if block is not None:
                pending.append(block if isinstance(block[1], FileEntry) else pool.submit(_list_prefix, client, bucket, block[1], skip))
