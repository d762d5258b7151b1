"""A small HTTP proxy in front of an S3 server (moto) that adds a delay to every request and counts
the list requests, so a benchmark or a test sees a store with a real store's round trip."""
import http.client
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class DelayProxy:
    """`url` forwards to `upstream` (host, port) after `delay` seconds; `lists` counts ListObjectsV2 calls."""

    def __init__(self, upstream: str, delay: float = 0.02):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.delay = delay
        self.lists = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.lists = self.requests = 0

    def _count(self, method: str, path: str) -> None:
        query = parse_qs(urlsplit(path).query)
        with self._lock:
            self.requests += 1
            if method == "GET" and query.get("list-type") == ["2"]:
                self.lists += 1

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        return connection

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                proxy._count(self.command, self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                time.sleep(proxy.delay)
                connection = proxy._connection()
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in HOP_HEADERS and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler


@contextmanager
def indexed_moto_listing() -> Iterator[None]:
    """Make moto's in-process ListObjectsV2 cost what S3's does: O(page), not O(bucket).

    moto scans and sorts every key of the bucket on each list request, so a
    listing split into many prefix requests would measure moto's scan, which S3
    does not have. This answers from a sorted index of the bucket's key names
    (rebuilt when the bucket's key count changes) with the same results and
    continuation tokens (no delete markers: the benchmark deletes nothing). For
    the benchmark only, undone on exit: both the sequential baseline and the
    sync list through it.
    """
    from bisect import bisect_left, bisect_right

    from moto.s3.models import S3Backend

    indexes: dict[int, tuple[int, list[str]]] = {}

    def names_of(bucket) -> list[str]:
        cached = indexes.get(id(bucket))
        if cached is None or cached[0] != len(bucket.keys):
            cached = indexes[id(bucket)] = (len(bucket.keys), sorted(bucket.keys.keys()))
        return cached[1]

    def list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after, max_keys):
        names, prefix = names_of(bucket), prefix or ""
        start = bisect_left(names, prefix)
        limit = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
        if limit:
            if delimiter and limit.endswith(delimiter) and limit.startswith(prefix):
                limit = limit[: -len(delimiter)] + chr(ord(delimiter[-1]) + 1)  # past the whole folder
                start = max(start, bisect_left(names, limit))
            else:
                start = max(start, bisect_right(names, limit))
        found, index = [], start
        while index < len(names) and names[index].startswith(prefix) and len(found) <= max_keys:
            rest = names[index][len(prefix):]
            if delimiter and delimiter in rest:
                folder = prefix + rest.split(delimiter)[0] + delimiter
                found.append(folder)
                index = bisect_left(names, folder[: -len(delimiter)] + chr(ord(delimiter[-1]) + 1))
            else:
                found.append(bucket.keys[names[index]])
                index += 1
        return self._truncate_result(found, max_keys)

    original = S3Backend.list_objects_v2
    S3Backend.list_objects_v2 = list_objects_v2
    try:
        yield
    finally:
        S3Backend.list_objects_v2 = original
