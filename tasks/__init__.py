"""The one Huey instance, built from `HUEY_URL` (see CONTRACT.md).

`sqlite:///path` → SqliteHuey (the embedded default), `redis://…` → RedisHuey,
`memory://` → immediate mode (tasks run inline, for unit tests).
"""
import os
from urllib.parse import urlsplit

from huey import MemoryHuey, RedisHuey, SqliteHuey

from webapp.config import INSTANCE_PATH

NAME = "ami-sessions"


def make_huey(url: str):
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        return MemoryHuey(NAME, immediate=True)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else url[len("sqlite://") :]
        if not path.startswith("/"):
            path = "/" + path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return SqliteHuey(NAME, filename=path)
    if scheme in ("redis", "rediss"):
        return RedisHuey(NAME, url=url)
    raise ValueError(f"HUEY_URL must start with sqlite://, redis:// or memory://, not {url!r}")


huey = make_huey(os.environ.get("HUEY_URL") or f"sqlite:///{INSTANCE_PATH / 'huey.db'}")
