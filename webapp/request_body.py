"""A chunked request body is held to MAX_CONTENT_LENGTH like any other: 413, never a truncated 400.

A body sent with `Transfer-Encoding: chunked` has no Content-Length, so the
size check Werkzeug makes before the app reads anything cannot run, and a
body read up to the limit looks complete but cut: malformed JSON, or a form
without its CSRF token. This middleware reads such a body first, at most one
byte past the limit, and hands the app either that body with its length, or
a declared length over the limit, which the app answers 413 the usual way.
"""
import io

READ_SIZE = 64 * 1024


class ChunkedBodyLimit:
    """WSGI middleware: gives a chunked body a Content-Length, or one over the limit."""

    def __init__(self, wsgi_app, max_bytes: int | None):
        self.wsgi_app = wsgi_app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if self.max_bytes is not None and chunked and not environ.get("CONTENT_LENGTH"):
            body = _read_at_most(environ["wsgi.input"], self.max_bytes + 1)
            over = len(body) > self.max_bytes
            environ["wsgi.input"] = io.BytesIO(b"" if over else body)
            environ["CONTENT_LENGTH"] = str(len(body))
            # The app now sees a plain body of known length: Werkzeug would ignore the length of a
            # body still marked chunked, and read a terminated stream to its end instead.
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ.pop("wsgi.input_terminated", None)
        return self.wsgi_app(environ, start_response)


def _read_at_most(stream, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(READ_SIZE, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)
