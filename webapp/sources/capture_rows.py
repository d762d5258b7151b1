"""The capture rows of a station: what is known of its files, adding new ones, updating changed ones.

Inserts never duplicate a capture (a conflict on the station and path is
ignored) and bump the station's captures_version in the same transaction, so
a regroup in progress sees that captures arrived.
"""
from datetime import datetime
from typing import Iterator

from sqlalchemy import bindparam, func

from ..extensions import db
from ..models import Capture, Deployment, Event, Thumbnail
from ..sql import insert_ignoring_conflicts
from .files import FileEntry

INSERT_BATCH = 1000


KNOWN_CHUNK = 5000


# What a station's capture row records of its file: (path, capture id, size, modification time, capture time);
# the capture time as the database hands it back (SQLite: text, see as_time).
# A plain tuple: building a million named ones costs more than the query.
KnownFile = tuple[str, int, int, datetime | None, datetime | None]


def as_time(value) -> datetime | None:
    # SQLite hands back the text SQLAlchemy stored; PostgreSQL a datetime.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def known_files(deployment: Deployment, after: str | None = None, chunk: int | None = None) -> Iterator[KnownFile]:
    """The station's capture rows whose path sorts after `after` (all when None), in the order of their
    paths as Python compares them, read `chunk` rows at a time so a station of any size costs one chunk.

    On the raw DB-API cursor: SQLAlchemy's row and date processing make this read
    about twice as slow (see docs/performance.md). SQLite compares text with
    BINARY (byte order, the same as Python's for UTF-8), so keyset pages on the
    (deployment_id, path) index are read on `db.session`'s connection between
    the sync's commits. PostgreSQL's collation may differ, so there the rows come
    from one server-side cursor ordered `COLLATE "C"`, on a connection of its own
    that the sync's commits do not close.
    """
    chunk = chunk or KNOWN_CHUNK
    if db.session.connection().dialect.name == "sqlite":
        yield from _known_sqlite(deployment.id, after, chunk)
    else:
        yield from _known_postgresql(deployment.id, after, chunk)


def _known_sqlite(deployment_id: int, after: str | None, chunk: int) -> Iterator[KnownFile]:
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        while True:
            cursor.execute(
                "SELECT path, id, size, last_modified, timestamp FROM capture "
                "WHERE deployment_id = ? AND path > ? ORDER BY path LIMIT ?",
                (deployment_id, after if after is not None else "", chunk),
            )
            rows = cursor.fetchall()
            parse = datetime.fromisoformat
            # The capture time stays text until a changed file needs it (as_time): most never do.
            for path, capture_id, size, modified, timestamp in rows:
                yield path, capture_id, size, modified and parse(modified), timestamp
            if len(rows) < chunk:
                return
            after = rows[-1][0]
    finally:
        cursor.close()


def _known_postgresql(deployment_id: int, after: str | None, chunk: int) -> Iterator[KnownFile]:
    connection = db.engine.raw_connection()
    try:
        cursor = connection.driver_connection.cursor(name="known_captures")
        cursor.itersize = chunk
        cursor.execute(
            'SELECT path, id, size, last_modified, timestamp FROM capture WHERE deployment_id = %s '
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

    Paths after it are the only ones a quick sync lists (sources.files.list_local_files, the S3 listing).
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


def insert_captures(deployment: Deployment, rows: list[dict]) -> int:
    """Insert capture rows (`path`, `size`, `timestamp`, optional `last_modified`); a path already present is skipped.

    Returns how many rows were added. Bumps the station's `captures_version`
    in the same transaction whenever rows were added, so a running regroup
    sees that captures arrived (sessions/regroup.py), and adds them to its
    `captures_count`, so the station's listing pages them all while a sync
    is still committing batches. Does not commit.
    """
    if db.session.connection().dialect.name == "sqlite":
        added = _insert_sqlite(deployment.id, rows)
    else:
        added = 0
        # Counted through RETURNING: an executemany's rowcount is not summed on PostgreSQL.
        table = Capture.__table__
        statement = insert_ignoring_conflicts(table, ["deployment_id", "path"]).returning(table.c.id)
        for start in range(0, len(rows), INSERT_BATCH):
            batch = [dict(row, deployment_id=deployment.id) for row in rows[start : start + INSERT_BATCH]]
            added += len(db.session.execute(statement, batch).all())
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


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime text, so rows written here compare and sort like its own.
    return None if value is None else value.isoformat(" ", "microseconds")


def _insert_sqlite(deployment_id: int, rows: list[dict]) -> int:
    """One executemany on the raw cursor (SQLAlchemy's statement and row processing cost more than
    the insert itself); the rows added are counted by the connection's change counter."""
    raw = db.session.connection().connection.driver_connection
    before = raw.total_changes
    raw.executemany(
        "INSERT INTO capture (deployment_id, path, size, timestamp, last_modified) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (deployment_id, path) DO NOTHING",
        [(deployment_id, row["path"], row["size"], _sqlite_time(row["timestamp"]), _sqlite_time(row.get("last_modified")))
         for row in rows],
    )
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
