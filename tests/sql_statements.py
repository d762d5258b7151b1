"""The SQL a block of test code sends, for tests that count or inspect statements."""
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import event

from webapp.extensions import db


@contextmanager
def sent_statements() -> Iterator[list[str]]:
    """`with sent_statements() as sent:` — every statement sent on `db.engine` inside the block, in order."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
