"""A small HTTP proxy in front of an S3 server (moto) that adds a delay to every request and counts
the list requests, so a benchmark or a test sees a store with a real store's round trip."""
import base64
import http.client
import threading
import time
from bisect import bisect_left, bisect_right
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit
from xml.sax.saxutils import escape

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class DelayProxy:
    """`url` forwards to `upstream` (host, port) after `delay` seconds; `lists` counts ListObjectsV2 calls."""

    def __init__(self, upstream: str, delay: float = 0.02, lister: Callable | None = None):
        parts = urlsplit(upstream)
        # Answers ListObjectsV2 requests itself, when given (IndexedLister).
        self.lister = lister
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

    def _count(self, method: str, path: str) -> bool:
        """Count a request; whether it is a ListObjectsV2."""
        query = parse_qs(urlsplit(path).query)
        listing = method == "GET" and query.get("list-type") == ["2"]
        with self._lock:
            self.requests += 1
            self.lists += listing
        return listing

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
                listing = proxy._count(self.command, self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                time.sleep(proxy.delay)
                answer = proxy.lister(self.path) if listing and proxy.lister else None
                if answer is not None:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
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


class IndexedLister:
    """ListObjectsV2 answered from a sorted index of a moto backend's keys.

    moto renders a page of 1,000 keys with about 0.2 s of CPU on this machine,
    ten times the proxy's delay and shared by every request in flight, so a
    benchmark through it would measure moto's rendering. S3's cost per page
    is mostly its round trip; this answers with the same XML (prefix,
    start-after, continuation token, max-keys, delimiter, URL encoding) in a
    millisecond or two, so the proxy's delay is what a client sees. Objects
    still come from moto. The index is rebuilt when a bucket's key count
    changes, and each key's entry rendered once (the benchmark changes no key).
    """

    def __init__(self, backend):
        self.backend = backend
        self._indexes: dict[str, tuple[int, list[str]]] = {}
        self._items: dict[tuple[str, str, bool], str] = {}

    def warm(self, bucket_name: str) -> None:
        """Render every key's entry of the bucket ahead, as a store's index would hold them."""
        bucket = self.backend.buckets[bucket_name]
        for name in self._names(bucket):
            for encoded in (False, True):
                self._item(bucket, name, encoded)

    def _item(self, bucket, name: str, encoded: bool) -> str:
        cached = self._items.get((bucket.name, name, encoded))
        if cached is None:
            key = bucket.keys[name]
            shown = quote(name, safe="/") if encoded else escape(name)
            cached = self._items[(bucket.name, name, encoded)] = (
                f"<Contents><Key>{shown}</Key><LastModified>{key.last_modified_ISO8601}</LastModified>"
                f"<ETag>{escape(key.etag)}</ETag><Size>{key.size}</Size><StorageClass>STANDARD</StorageClass></Contents>")
        return cached

    def _names(self, bucket) -> list[str]:
        cached = self._indexes.get(bucket.name)
        if cached is None or cached[0] != len(bucket.keys):
            cached = self._indexes[bucket.name] = (len(bucket.keys), sorted(bucket.keys.keys()))
        return cached[1]

    def __call__(self, path: str) -> bytes | None:
        parts = urlsplit(path)
        query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        bucket = self.backend.buckets.get(parts.path.strip("/"))
        if bucket is None:
            return None
        names = self._names(bucket)
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        limit = int(query.get("max-keys", "1000"))
        token = query.get("continuation-token")
        index = bisect_left(names, prefix)
        if token:
            index = max(index, bisect_left(names, base64.urlsafe_b64decode(token).decode()))
        elif query.get("start-after"):
            index = max(index, bisect_right(names, query["start-after"]))
        encoded = query.get("encoding-type") == "url"
        encode = (lambda text: quote(text, safe="/")) if encoded else escape
        items, folders = [], []
        while index < len(names) and names[index].startswith(prefix) and len(items) + len(folders) < limit:
            rest = names[index][len(prefix):]
            if delimiter and delimiter in rest:
                # A common prefix rolls up every key under it; the next entry is the first key past it.
                folder = prefix + rest[: rest.index(delimiter) + len(delimiter)]
                folders.append(f"<CommonPrefixes><Prefix>{encode(folder)}</Prefix></CommonPrefixes>")
                index = bisect_left(names, folder[:-1] + chr(ord(folder[-1]) + 1))
            else:
                items.append(self._item(bucket, names[index], encoded))
                index += 1
        truncated = index < len(names) and names[index].startswith(prefix)
        following = base64.urlsafe_b64encode(names[index].encode()).decode() if truncated else ""
        head = (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>{escape(bucket.name)}</Name><Prefix>{encode(prefix)}</Prefix>"
                + (f"<Delimiter>{encode(delimiter)}</Delimiter>" if delimiter else "")
                + f"<KeyCount>{len(items) + len(folders)}</KeyCount><MaxKeys>{limit}</MaxKeys>"
                f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
                + ("<EncodingType>url</EncodingType>" if encoded else "")
                + (f"<ContinuationToken>{escape(token)}</ContinuationToken>" if token else "")
                + (f"<NextContinuationToken>{following}</NextContinuationToken>" if truncated else ""))
        return (head + "".join(items) + "".join(folders) + "</ListBucketResult>").encode()
