"""Listing an S3 data source: by prefix, with concurrent requests, in path order.

A station's bucket is usually laid out by night (`<station>/<date>/…`). The
listing finds those prefixes with delimiter requests (down to PREFIX_DEPTH
levels, stopping once there are enough to share out; a folder of files is
not read past its first page to learn that it has no subfolders), lists them
concurrently with up to LIST_WORKERS requests in flight, and yields their
objects in key order, at most LIST_WORKERS prefixes ahead. A source without
common prefixes is listed one page after another. A quick sync
(`after`) lists only keys after `after`, through StartAfter, which S3 orders
by UTF-8 bytes: the same order as Python's strings.

Pages are fetched as signed GETs through the client's own connection pool
and read with ElementTree (a page of objects into a batch of columns, in the
sync's thread): botocore's generic reader takes about 50 ms of CPU for a page
of 1,000 keys (ElementTree about 3 ms), which would cap a listing at some
twenty pages a second whatever the concurrency.
"""
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import unquote
from xml.sax.saxutils import unescape

import numpy as np

from .files import FileBatch, FileEntry, batch_of, is_image_name, to_micros

LIST_WORKERS = 16
PREFIX_DEPTH = 3
ENOUGH_PREFIXES = 2 * LIST_WORKERS
# A page request that fails to connect, or gets a 5xx or 429 answer, is tried this many times in all.
PAGE_ATTEMPTS = 4
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class ListingError(Exception):
    """A page of the listing could not be read; the message says why."""


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


def _contents(root, skip: int) -> tuple[list[str], list[int], list[str | None]]:
    """A page's image objects: their paths (relative to the listed prefix), sizes and LastModified texts."""
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
    return paths, sizes, times


def _batch(body: bytes, skip: int) -> FileBatch:
    """One page's image objects as a batch, in key order."""
    paths, sizes, times = _contents(ElementTree.fromstring(body), skip)
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


def _children(client, bucket: str, parent: str, skip: int) -> tuple[list[str], list[FileEntry], bool]:
    """The prefixes and image objects right under `parent` (a delimiter listing), and whether that is
    all of them. A first page that holds objects only and has more after it is where the reading stops
    (False): a folder of files, listed whole later rather than read twice."""
    prefixes: list[str] = []
    entries: list[FileEntry] = []
    token = None
    while True:
        params = {"Bucket": bucket, "Prefix": parent, "Delimiter": "/"}
        if token:
            params["ContinuationToken"] = token
        body = _get(client, client.generate_presigned_url("list_objects_v2", Params=params))
        root = ElementTree.fromstring(body)
        encoded = root.findtext(_NS + "EncodingType") == "url"
        for common in root.iter(_NS + "CommonPrefixes"):
            found = common.findtext(_NS + "Prefix")
            prefixes.append(unquote(found) if encoded else found)
        paths, sizes, times = _contents(root, skip)
        entries += (FileEntry(path, size, _modified(when)) for path, size, when in zip(paths, sizes, times))
        token = _next_token(body)
        if token is None:
            return prefixes, entries, True
        if not prefixes:
            return prefixes, entries, False


def _split(pool: ThreadPoolExecutor, client, bucket: str, prefix: str, skip: int) -> tuple[list[str], list[FileEntry]]:
    """The prefixes that share out the listing under `prefix`, and the files lying beside them.

    Level by level (the parents of a level read concurrently), a parent whose
    children are all known is replaced by its prefixes, its own files kept
    aside; a parent that is a folder of files stays whole.
    """
    prefixes, loose = [prefix], []
    for _ in range(PREFIX_DEPTH):
        deeper = []
        for parent, (children, files, whole) in zip(
            prefixes, pool.map(lambda parent: _children(client, bucket, parent, skip), prefixes)
        ):
            if whole and children:
                deeper += children
                loose += files
            else:
                deeper.append(parent)
        if deeper == prefixes:
            break
        prefixes = deeper
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
    with ThreadPoolExecutor(workers, thread_name_prefix="s3-list") as pool:
        prefixes, loose = _split(pool, client, bucket, prefix, skip)
        if prefixes == [prefix]:
            for body in _bodies(client, bucket, prefix):
                yield _batch(body, skip)
            return
        # Blocks in key order: a loose file sorts against a prefix as its key does against the prefix.
        blocks = sorted([(entry.path, entry) for entry in loose] + [(p[skip:], p) for p in prefixes],
                        key=lambda b: b[0])

        def start(block):
            return block[1] if isinstance(block[1], FileEntry) else pool.submit(_fetch, client, bucket, block[1])

        queue = iter(blocks)
        pending = [start(block) for _, block in zip(range(workers), queue)]
        while pending:
            head = pending.pop(0)
            if isinstance(head, FileEntry):
                yield batch_of([head])
            else:
                for body in head.result():
                    yield _batch(body, skip)
            block = next(queue, None)
            if block is not None:
                pending.append(start(block))
