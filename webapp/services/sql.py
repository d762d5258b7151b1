"""Small SQL helpers that differ between SQLite and PostgreSQL."""
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def dialect_name() -> str:
    """"sqlite" or "postgresql": the dialect of the session's database."""
    return db.session.get_bind().dialect.name


def insert_ignoring_conflicts(table, index_elements):
    """`INSERT … ON CONFLICT (index_elements) DO NOTHING` for the current dialect."""
    return insert_ignoring_conflicts_for(dialect_name(), table, index_elements)


def insert_ignoring_conflicts_for(dialect: str, table, index_elements):
    """The same, for a named dialect (for code running on a connection of its own)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=index_elements)


# How long an ordinary SQLite write waits for another writer before it fails.
SQLITE_BUSY_TIMEOUT_MS = 30000


@contextmanager
def short_wait(engine: Engine, wait_ms: int) -> Iterator[Connection]:
    """A connection of its own whose writes give up after `wait_ms` (OperationalError) instead of queueing.

    For bookkeeping writes (job progress, heartbeats, lock marks) that must
    never wait behind a long work transaction: SQLite's single writer, or a
    row that transaction holds on PostgreSQL.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}" if sqlite else f"SET lock_timeout = '{int(wait_ms)}ms'")
        conn.commit()
        try:
            yield conn
        finally:
            conn.rollback()
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}" if sqlite else "RESET lock_timeout")
            conn.commit()
