"""Named locks with an owner token and an expiry, shared by every process.

A lock is a row of the `lock` table. Taking it is one atomic statement
(INSERT … ON CONFLICT DO NOTHING, or a conditional UPDATE that takes over an
expired row); releasing deletes the row only while it still carries our token,
so an owner whose lock expired and was taken over cannot remove the new
owner's lock.

Every statement commits on a connection of its own, outside `db.session`'s
transaction, so other processes see the lock at once and a rollback of the
work does not undo it. (Huey's `lock_task` is not usable: its release ignores
ownership and it has no expiry on SQLite.)
"""
import os
import secrets
import socket
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

from ..extensions import db
from ..models import Lock, utcnow
from ..sql import insert_ignoring_conflicts_for

_table = Lock.__table__


def default_owner(label: str = "") -> str:
    """Who holds a lock, for people reading the table: host, process and a label."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return f"{owner} {label}".strip()[:200]


def acquire(key: str, ttl_seconds: float, owner: str = "") -> str | None:
    """Take the lock `key` for `ttl_seconds`; return our token, or None if someone holds it."""
    token = secrets.token_hex(16)
    now = utcnow()
    values = {
        "token": token,
        "owner": owner[:200],
        "acquired_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }
    with db.engine.connect() as conn:
        # A live lock is seen by a read, which never waits: a caller that will
        # skip does not queue behind another writer (SQLite has one at a time).
        live = conn.execute(
            db.select(_table.c.key).where(_table.c.key == key, _table.c.expires_at > now)
        ).first()
    if live is not None:
        return None
    with db.engine.begin() as conn:
        # RETURNING rather than rowcount: an INSERT … ON CONFLICT through
        # SQLAlchemy's psycopg dialect reports rowcount -1.
        taken_over = conn.execute(
            _table.update()
            .where(_table.c.key == key, _table.c.expires_at <= now)
            .values(**values)
            .returning(_table.c.key)
        ).first()
        if taken_over is not None:
            return token
        statement = insert_ignoring_conflicts_for(conn.dialect.name, _table, ["key"])
        inserted = conn.execute(statement.values(key=key, **values).returning(_table.c.key)).first()
        if inserted is not None:
            return token
    return None


def release(key: str, token: str) -> bool:
    """Release the lock if it is still ours; False if it expired and someone else took it."""
    with db.engine.begin() as conn:
        deleted = conn.execute(_table.delete().where(_table.c.key == key, _table.c.token == token))
        return deleted.rowcount == 1


def holder(key: str) -> Lock | None:
    """The lock row as committed now (None when free), read on a connection of its own."""
    with db.engine.connect() as conn:
        row = conn.execute(_table.select().where(_table.c.key == key)).first()
    return Lock(**row._mapping) if row is not None else None


@contextmanager
def held(key: str, ttl_seconds: float, owner: str = "") -> Iterator[str | None]:
    """`with held(key, ttl) as token:` — token is None if the lock was taken; released on exit."""
    token = acquire(key, ttl_seconds, owner)
    try:
        yield token
    finally:
        if token is not None:
            release(key, token)
