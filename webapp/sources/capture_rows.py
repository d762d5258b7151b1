"""The capture rows of a station: what is known of its files, adding new ones, updating changed ones.

Inserts never duplicate a capture (a conflict on the station and path is
ignored) and bump the station's captures_version in the same transaction, so
a regroup in progress sees that captures arrived.
"""
from datetime import datetime
from itertools import repeat
from typing import Iterator, NamedTuple

from sqlalchemy import bindparam, func

from ..extensions import db
from ..models import Capture, Deployment, Event, Thumbnail
from ..sql import insert_ignoring_conflicts
from .file_facts import time_text
from .files import FileEntry, from_micros, to_micros

INSERT_BATCH = 1000


KNOWN_CHUNK = 5000


# What a station's capture row records of its file: (path, capture id, size, modification time, capture time);
# the capture time as the database hands it back (SQLite: text, see as_time).
# A plain tuple: building a million named ones costs more than the query.
KnownFile = tuple[str, int, int, datetime | None, datetime | None]


def as_time(value) -> datetime | None:
    # SQLite hands back the text SQLAlchemy stored; PostgreSQL a datetime.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def known_file(row) -> KnownFile:
    """A row of KnownRows.whole_range as KnownFile (its modification time a datetime: see as_time)."""
    return row[0], row[3], row[1], as_time(row[2]), row[4]


# A range's rows, in this column order; the first three (a short row) are all a batch's comparison needs.
_COLUMNS = "path, size, last_modified, id, timestamp"
_SHORT_COLUMNS = "path, size, last_modified"


class KnownRows:
    """The station's capture rows whose path sorts after `after` (all when None), in the order of their
    paths as Python compares them, read one range at a time as a sync's listing goes by, so a station
    of any size costs one range.

    upto() gives a range's short rows `(path, size, modification time, …)` as
    the database hands them back (on SQLite the time is text: see as_time);
    whole_range() the same range's rows with their capture id and capture
    time, for the batches told apart file by file. They are read on the raw
    DB-API cursor: SQLAlchemy's row and date processing make this read about
    twice as slow (see docs/performance.md). SQLite compares text with BINARY
    (byte order, the same as Python's for UTF-8), so each range is one query on
    the (deployment_id, path) index, on `db.session`'s connection between the
    sync's commits, and whole_range() reads it again. PostgreSQL's collation
    may differ, so there the rows come from one server-side cursor ordered
    `COLLATE "C"`, on a connection of its own that the sync's commits do not
    close, whole rows from the start.
    """

    def __init__(self, deployment: Deployment, after: str | None = None, chunk: int | None = None):
        self.deployment_id = deployment.id
        self.position = after if after is not None else ""
        self.chunk = chunk or KNOWN_CHUNK
        self.sqlite = db.session.connection().dialect.name == "sqlite"
        self._stream = None if self.sqlite else _known_postgresql(deployment.id, after, self.chunk)
        self._next = None
        self._range: tuple[str, str | None] = (self.position, None)
        self._rows: list = []

    def upto(self, last: str | None) -> tuple[list, bool]:
        """The rows after the previous range, up to and including the path `last` (to the end when None):
        up to `chunk` of them, and whether that is all of them."""
        self._range = (self.position, last)
        if self.sqlite:
            # One row past the chunk tells whether there are more.
            rows = self._sqlite_range(_SHORT_COLUMNS, self.position, last, self.chunk + 1)
            complete = len(rows) <= self.chunk
        else:
            rows = self._stream_upto(last, self.chunk)
            complete = len(rows) < self.chunk or self._stream_ends_at(last)
        self._rows = rows
        if last is not None:
            self.position = last
        return rows, complete

    def whole_range(self) -> Iterator[KnownFile]:
        """Every row of the range the last upto() read, as KnownFile, a chunk at a time."""
        after, last = self._range
        if self.sqlite:
            while True:
                rows = self._sqlite_range(_COLUMNS, after, last, self.chunk)
                yield from map(known_file, rows)
                if len(rows) < self.chunk:
                    return
                after = rows[-1][0]
        yield from map(known_file, self._rows)
        while rows := self._stream_upto(last, self.chunk):
            yield from map(known_file, rows)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def _sqlite_range(self, columns: str, after: str, last: str | None, limit: int) -> list:
        raw = db.session.connection().connection.driver_connection
        if last is None:
            return raw.execute(
                f"SELECT {columns} FROM capture WHERE deployment_id = ? AND path > ? ORDER BY path LIMIT ?",
                (self.deployment_id, after, limit),
            ).fetchall()
        return raw.execute(
            f"SELECT {columns} FROM capture WHERE deployment_id = ? AND path > ? AND path <= ? ORDER BY path LIMIT ?",
            (self.deployment_id, after, last, limit),
        ).fetchall()

    def _peek(self):
        if self._next is None:
            self._next = next(self._stream, None)
        return self._next

    def _stream_ends_at(self, last: str | None) -> bool:
        """Whether no row of the stream is left at or before `last`."""
        row = self._peek()
        return row is None or (last is not None and row[0] > last)

    def _stream_upto(self, last: str | None, limit: int) -> list:
        rows = []
        while len(rows) < limit and not self._stream_ends_at(last):
            rows.append(self._next)
            self._next = None
        return rows


def known_files(deployment: Deployment, after: str | None = None, chunk: int | None = None) -> Iterator[KnownFile]:
    """Every capture row of the station whose path sorts after `after`, in path order, as KnownFile."""
    known = KnownRows(deployment, after, chunk)
    try:
        known.upto(None)
        yield from known.whole_range()
    finally:
        known.close()


def _known_postgresql(deployment_id: int, after: str | None, chunk: int) -> Iterator[tuple]:
    connection = db.engine.raw_connection()
    try:
        cursor = connection.driver_connection.cursor(name="known_captures")
        cursor.itersize = chunk
        cursor.execute(
            f'SELECT {_COLUMNS} FROM capture WHERE deployment_id = %s '
            'AND path COLLATE "C" > %s ORDER BY path COLLATE "C"',
            (deployment_id, after if after is not None else ""),
        )
        while rows := cursor.fetchmany(chunk):
            yield from rows
        cursor.close()
    finally:
        connection.rollback()
        connection.close()


def newest_night_start(deployment: Deployment) -> str | None:
    """Where a quick sync starts listing: the greatest known path inside (or after) the folder of the
    station's newest capture; None for a station without a timed capture (a quick sync is then a full one).

    Paths after it are the only ones a quick sync lists (local_listing.list_local_batches, the S3 listing).
    """
    newest = db.session.execute(
        db.select(Capture.path)
        .where(Capture.deployment_id == deployment.id, Capture.timestamp.is_not(None))
        .order_by(Capture.timestamp.desc(), Capture.id.desc())
        .limit(1)
    ).scalar()
    if newest is None:
        return None
    folder = newest.rpartition("/")[0]
    floor = folder + "/" if folder else ""
    order = Capture.path.collate("C") if db.session.connection().dialect.name != "sqlite" else Capture.path
    return db.session.execute(
        db.select(Capture.path)
        .where(Capture.deployment_id == deployment.id, order >= floor)
        .order_by(order.desc())
        .limit(1)
    ).scalar()


def is_changed(entry: FileEntry, known: KnownFile) -> bool:
    """Whether a listed file differs from its capture row: another size, or a newer modification time.

    Without a time on either side the file is compared by size alone: a source
    that tells none, or a capture recorded before times were kept (before
    migration 0004), which would otherwise count as changed, and have its
    thumbnails made again, all at once on the first sync after an upgrade.
    """
    size, modified = known[2], known[3]
    if entry.size != size:
        return True
    return entry.modified is not None and modified is not None and entry.modified > modified


def update_changed_captures(deployment: Deployment, rows: list[dict]) -> int:
    """Record the new `size` and `last_modified` of changed files (`capture_id`, `size`,
    `last_modified`, and `timestamp` where the file's capture time changed), one executemany
    per INSERT_BATCH rows; returns how many. Does not commit.

    The capture keeps its id. Their thumbnails are marked stale in the same
    transaction (width 0, which no configured size has, so thumbnails.is_fresh
    fails and the file is rewritten under the same key, still found by
    deletes): a file rewritten with an older or the same modification time
    (`rsync -t`, `cp -p`) would pass the time check alone. A new capture time
    bumps the station's captures_version in the same transaction, as an
    insert does, so a regroup in progress knows its plan is out of date.
    """
    table = Capture.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("capture_id"))
        .values(size=bindparam("new_size"), last_modified=bindparam("new_last_modified"))
    )
    # The file's own time: a clock offset, if any, is applied again by the sync job before its regroup.
    retimed = table.update().where(table.c.id == bindparam("capture_id")).values(
        timestamp=bindparam("new_timestamp"), original_timestamp=None
    )
    thumbnails = Thumbnail.__table__
    times_changed = 0
    for start in range(0, len(rows), INSERT_BATCH):
        chunk = rows[start : start + INSERT_BATCH]
        batch = [
            {"capture_id": row["capture_id"], "new_size": row["size"], "new_last_modified": row["last_modified"]}
            for row in chunk
        ]
        db.session.execute(statement, batch)
        moved = [{"capture_id": row["capture_id"], "new_timestamp": row["timestamp"]} for row in chunk if "timestamp" in row]
        if moved:
            db.session.execute(retimed, moved)
            times_changed += len(moved)
        ids = [row["capture_id"] for row in batch]
        db.session.execute(thumbnails.update().where(thumbnails.c.capture_id.in_(ids)).values(width=0))
    if times_changed:
        deployments = Deployment.__table__
        db.session.execute(
            deployments.update()
            .where(deployments.c.id == deployment.id)
            .values(captures_version=deployments.c.captures_version + 1)
        )
    return len(rows)


class NewCaptures(NamedTuple):
    """Capture rows to add, as columns in path order."""
    paths: list[str]
    sizes: list[int]
    times: list[str | None]  # file_facts.time_text of each capture time
    modified: list[int | None]  # each file's modification time in microseconds since the epoch (UTC)


def insert_captures(deployment: Deployment, rows: list[dict]) -> int:
    """insert_capture_columns for rows given as dicts (`path`, `size`, `timestamp`, optional `last_modified`)."""
    return insert_capture_columns(deployment, NewCaptures(
        [row["path"] for row in rows],
        [row["size"] for row in rows],
        [time_text(row["timestamp"]) for row in rows],
        [to_micros(row.get("last_modified")) for row in rows],
    ))


def insert_capture_columns(deployment: Deployment, new: NewCaptures) -> int:
    """Insert capture rows; a path already present is skipped. Returns how many rows were added.

    Bumps the station's `captures_version` in the same transaction whenever
    rows were added, so a running regroup sees that captures arrived
    (sessions/regroup.py), and adds them to its `captures_count`, so the
    station's listing pages them all while a sync is still committing
    batches. Does not commit.
    """
    if db.session.connection().dialect.name == "sqlite":
        added = _insert_sqlite(deployment.id, new)
    else:
        added = 0
        # Counted through RETURNING: an executemany's rowcount is not summed on PostgreSQL.
        table = Capture.__table__
        statement = insert_ignoring_conflicts(table, ["deployment_id", "path"]).returning(table.c.id)
        rows = [
            {"deployment_id": deployment.id, "path": path, "size": size,
             "timestamp": None if when is None else datetime.fromisoformat(when),
             "last_modified": from_micros(modified)}
            for path, size, when, modified in zip(*new)
        ]
        for start in range(0, len(rows), INSERT_BATCH):
            added += len(db.session.execute(statement, rows[start : start + INSERT_BATCH]).all())
    if added:
        deployments = Deployment.__table__
        db.session.execute(
            deployments.update()
            .where(deployments.c.id == deployment.id)
            .values(
                captures_version=deployments.c.captures_version + 1,
                captures_count=deployments.c.captures_count + added,
            )
        )
    return added


# The modification time's text is made by SQLite from its microseconds (floored to whole seconds, which
# SQLite's `%` does not do for times before 1970): the same text as file_facts.time_text, without a Python
# datetime per file.
_SQLITE_INSERT = (
    "INSERT INTO capture (deployment_id, path, size, timestamp, last_modified) VALUES (?1, ?2, ?3, ?4, "
    "strftime('%Y-%m-%d %H:%M:%S', (?5 - (?5 % 1000000 + 1000000) % 1000000) / 1000000, 'unixepoch')"
    " || printf('.%06d', (?5 % 1000000 + 1000000) % 1000000)) "
    "ON CONFLICT (deployment_id, path) DO NOTHING"
)


def _insert_sqlite(deployment_id: int, new: NewCaptures) -> int:
    """One executemany on the raw cursor (SQLAlchemy's statement and row processing cost more than
    the insert itself); the rows added are counted by the connection's change counter."""
    raw = db.session.connection().connection.driver_connection
    before = raw.total_changes
    raw.executemany(_SQLITE_INSERT, zip(repeat(deployment_id), *new))
    return raw.total_changes - before


def refresh_deployment_stats(deployment: Deployment) -> None:
    """Recompute the station's cached counts and first/last capture time (two aggregate queries)."""
    count, first, last = db.session.execute(
        db.select(func.count(Capture.id), func.min(Capture.timestamp), func.max(Capture.timestamp)).where(
            Capture.deployment_id == deployment.id
        )
    ).one()
    events = db.session.scalar(db.select(func.count(Event.id)).where(Event.deployment_id == deployment.id))
    deployment.captures_count = count
    deployment.first_capture_timestamp = first
    deployment.last_capture_timestamp = last
    deployment.events_count = events
