"""Listing an S3 data source: by prefix, with concurrent requests, in path order.

A station's bucket is usually laid out by night (`<station>/<date>/…`). The
listing finds those prefixes with delimiter requests (down to
PREFIX_DEPTH levels, stopping once there are enough to share out), lists them
concurrently with up to LIST_WORKERS requests in flight, and yields their
objects in key order, at most LIST_WORKERS prefixes ahead. A source without
common prefixes is listed by the one sequential paginator. A quick sync
(`after`) lists only keys after `after`, through StartAfter, which S3 orders
by UTF-8 bytes: the same order as Python's strings.

The pages of objects are fetched as signed GETs through the client's own
connection pool and read with ElementTree into a batch of columns: botocore's
generic reader takes about 50 ms of CPU for a page of 1,000 keys (ElementTree
about 3 ms), which would cap a listing at some twenty pages a second whatever
the concurrency. The few delimiter requests that find the prefixes go
through boto3.
"""
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import unquote
from xml.sax.saxutils import unescape

import numpy as np

from .files import FileBatch, FileEntry, batch_entries, is_image_name, to_micros

LIST_WORKERS = 16
PREFIX_DEPTH = 3
ENOUGH_PREFIXES = 2 * LIST_WORKERS
# A page request that fails to connect, or gets a 5xx or 429 answer, is tried this many times in all.
PAGE_ATTEMPTS = 4
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class ListingError(Exception):
    """A page of the listing could not be read; the message says why."""


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


def _get(client, url: str):
    """A signed GET through the client's connection pool, tried again after a failed connection or a
    5xx or 429 answer."""
    from botocore.awsrequest import AWSRequest
    from botocore.exceptions import HTTPClientError

    for attempt in range(PAGE_ATTEMPTS):
        try:
            response = client._endpoint.http_session.send(AWSRequest(method="GET", url=url).prepare())
        except HTTPClientError as error:
            problem = str(error)
        else:
            if response.status_code == 200:
                return response.content
            problem = _error_text(response.status_code, response.content)
            if response.status_code < 500 and response.status_code != 429:
                break
        time.sleep(0.2 * 2**attempt)
    raise ListingError(problem)


def _error_text(status: int, body: bytes) -> str:
    try:
        root = ElementTree.fromstring(body)
        return f"{root.findtext('Code') or status}: {root.findtext('Message') or ''}".strip()
    except ElementTree.ParseError:
        return f"HTTP {status}"


def _bodies(client, bucket: str, prefix: str, start_after: str | None = None) -> Iterator[bytes]:
    """The raw pages of ListObjectsV2 under `prefix` (after `start_after`), one after another. Only the
    next page's token is looked for here (a worker thread's share): reading a page is _batch's."""
    token = None
    while True:
        params = {"Bucket": bucket, "Prefix": prefix}
        if token:
            params["ContinuationToken"] = token
        elif start_after:
            params["StartAfter"] = start_after
        body = _get(client, client.generate_presigned_url("list_objects_v2", Params=params))
        yield body
        token = _next_token(body)
        if token is None:
            return


def _between(body: bytes, tag: bytes) -> bytes | None:
    start = body.find(b"<" + tag + b">")
    if start < 0:
        return None
    start += len(tag) + 2
    return body[start : body.find(b"</" + tag + b">", start)]


def _next_token(body: bytes) -> str | None:
    if _between(body, b"IsTruncated") != b"true":
        return None
    token = _between(body, b"NextContinuationToken")
    return unescape(token.decode()) if token else None


def _batch(body: bytes, skip: int) -> FileBatch:
    """One page's image objects as a batch (paths relative to the listed prefix), in key order."""
    root = ElementTree.fromstring(body)
    encoded = root.findtext(_NS + "EncodingType") == "url"
    paths, sizes, times = [], [], []
    key_tag, size_tag, time_tag = _NS + "Key", _NS + "Size", _NS + "LastModified"
    for item in root.iter(_NS + "Contents"):
        key = item.findtext(key_tag)
        rel = (unquote(key) if encoded else key)[skip:]
        if rel and is_image_name(rel):
            paths.append(rel)
            sizes.append(int(item.findtext(size_tag)))
            times.append(item.findtext(time_tag))
    return FileBatch(paths, [path.rpartition("/")[2] for path in paths], sizes, _micros(times), None)


def _micros(texts: list[str | None]) -> list[int | None]:
    """S3's LastModified texts (UTC, `…Z`) as microseconds since the epoch; one numpy parse for a page."""
    try:
        stamps = np.array([text[:-1] if text and text.endswith("Z") else text for text in texts], dtype="datetime64[us]")
    except ValueError:
        return [to_micros(_modified(text)) for text in texts]
    return [None if nat else value for nat, value in zip(np.isnat(stamps).tolist(), stamps.astype("int64").tolist())]


def _modified(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def _fetch(client, bucket: str, prefix: str) -> list[bytes]:
    return list(_bodies(client, bucket, prefix))


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


def list_s3(client, bucket: str, prefix: str, after: str | None = None, workers: int = LIST_WORKERS) -> Iterator[FileBatch]:
    """The image objects under `prefix` (paths relative to it), sorted by path, a page per batch.

    Worker threads only fetch pages (mostly waiting); each page is read here,
    so they never hold the interpreter while the sync writes its rows.
    """
    skip = len(prefix)
    if after is not None:
        for body in _bodies(client, bucket, prefix, start_after=prefix + after):
            yield _batch(body, skip)
        return
    prefixes, loose = _split(client, bucket, prefix, skip)
    if prefixes == [prefix]:
        for body in _bodies(client, bucket, prefix):
            yield _batch(body, skip)
        return
    # Blocks in key order: a loose file sorts against a prefix as its key does against the prefix.
    blocks = sorted([(entry.path, entry) for entry in loose] + [(p[skip:], p) for p in prefixes], key=lambda b: b[0])
    with ThreadPoolExecutor(workers, thread_name_prefix="s3-list") as pool:

        def start(block):
            return block[1] if isinstance(block[1], FileEntry) else pool.submit(_fetch, client, bucket, block[1])

        queue = iter(blocks)
        pending = [start(block) for _, block in zip(range(workers), queue)]
        while pending:
            head = pending.pop(0)
            if isinstance(head, FileEntry):
                yield from batch_entries([head])
            else:
                for body in head.result():
                    yield _batch(body, skip)
            block = next(queue, None)
            if block is not None:
                pending.append(start(block))
