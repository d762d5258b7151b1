"""The one Huey instance, built from `HUEY_URL` (see CONTRACT.md).

`sqlite:///path` → SqliteHuey (the embedded default), `redis://…` → RedisHuey,
`memory://` → immediate mode (tasks run inline, for unit tests).
`HUEY_NAME` (default "ami-sessions") names the queue, so several sites (or
test runs) can share one Redis.
"""
import os
from urllib.parse import urlsplit

from huey import MemoryHuey, RedisHuey, SqliteHuey

from webapp.config import INSTANCE_PATH

NAME = "ami-sessions"


def make_huey(url: str, name: str | None = None):
    """The Huey instance for a queue URL (see the module docstring)."""
    name = name or os.environ.get("HUEY_NAME") or NAME
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryHuey(name, immediate=True)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite://") :]
        if not path.startswith("/"):
            path = "/" + path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return SqliteHuey(name, filename=path)
    if scheme in ("redis", "rediss"):
        return RedisHuey(name, url=url)
    raise ValueError(f"HUEY_URL must start with sqlite://, redis:// or memory://, not {url!r}")


huey = make_huey(os.environ.get("HUEY_URL") or f"sqlite:///{INSTANCE_PATH / 'huey.db'}")
