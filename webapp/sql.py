"""Small SQL helpers that differ between SQLite and PostgreSQL."""
import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .extensions import db


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


APPLICATION_NAME = "ami-sessions"
_connection_label: ContextVar[str | None] = ContextVar("connection_label", default=None)


@contextmanager
def labelled_connections(label: str) -> Iterator[None]:
    """PostgreSQL connections checked out in this context carry `ami-sessions <label>` as their
    `application_name` (with the process id), so an operator (or a test) finds a job's backend,
    and the process behind it, in `pg_stat_activity`."""
    token = _connection_label.set(label)
    try:
        yield
    finally:
        _connection_label.reset(token)


def name_connection(dbapi_connection, connection_record) -> None:
    """Give a PostgreSQL connection the application_name of the current context (once per change)."""
    label = _connection_label.get()
    name = f"{APPLICATION_NAME} {label} (pid {os.getpid()})" if label else f"{APPLICATION_NAME} (pid {os.getpid()})"
    if connection_record.info.get("application_name") == name:
        return
    # Committed at once: a SET inside the work's transaction would be undone by its rollback.
    dbapi_connection.execute("SELECT set_config('application_name', %s, false)", (name,))
    dbapi_connection.commit()
    connection_record.info["application_name"] = name


def shifted_time_sql(dialect: str, column: str, seconds_param: str) -> str:
    """SQL for `column` + `:seconds_param` whole seconds, exact to the microsecond on both dialects.

    SQLite keeps datetimes as text `YYYY-MM-DD HH:MM:SS[.ffffff]`: the seconds
    are shifted by its date functions and the fraction is carried over as
    written, so the result compares (as text) like the times it stands among.
    """
    if dialect == "postgresql":
        return f"({column} + make_interval(secs => :{seconds_param}))"
    return f"(strftime('%Y-%m-%d %H:%M:%S', {column}, :{seconds_param} || ' seconds') || substr({column}, 20))"


def night_sql(dialect: str, column: str) -> str:
    """SQL for the night of a local time: the date of (time − 12 h), as text `YYYY-MM-DD` on both dialects."""
    if dialect == "postgresql":
        return f"to_char({column} - interval '12 hours', 'YYYY-MM-DD')"
    return f"date({column}, '-12 hours')"
