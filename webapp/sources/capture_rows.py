"""The capture rows of a station: what is known of its files, adding new ones, updating changed ones.

Inserts never duplicate a capture (a conflict on the station and path is
ignored) and bump the station's captures_version in the same transaction, so
a regroup in progress sees that captures arrived.
"""
from datetime import datetime

from sqlalchemy import bindparam, func

from ..extensions import db
from ..models import Capture, Deployment, Event, Thumbnail
from ..sql import insert_ignoring_conflicts
from .files import FileEntry

INSERT_BATCH = 1000


# What a station's capture row records of its file: (capture id, size, modification time).
# A plain tuple: building a million named ones costs more than the query.
KnownFile = tuple[int, int, datetime | None]


def known_files(deployment: Deployment) -> dict[str, KnownFile]:
    """The station's captures by path, with the size and modification time recorded for each,
    to tell new and changed files from known ones.

    One query on the raw DB-API cursor: SQLAlchemy's row and SQLite date
    processing make this read about twice as slow (see docs/performance.md).
    Runs on `db.session`'s connection.
    """
    connection = db.session.connection()
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(f"SELECT path, id, size, last_modified FROM capture WHERE deployment_id = {mark}", (deployment.id,))
        # SQLite hands back the text SQLAlchemy stored; PostgreSQL a datetime.
        parse = datetime.fromisoformat
        return {
            path: (capture_id, size, parse(modified) if isinstance(modified, str) else modified)
            for path, capture_id, size, modified in cursor
        }
    finally:
        cursor.close()


def is_changed(entry: FileEntry, known: KnownFile) -> bool:
    """Whether a listed file differs from its capture row: another size, or a newer modification time.

    Without a time on either side the file is compared by size alone: a source
    that tells none, or a capture recorded before times were kept (before
    migration 0004), which would otherwise count as changed, and have its
    thumbnails made again, all at once on the first sync after an upgrade.
    """
    _, size, modified = known
    if entry.size != size:
        return True
    return entry.modified is not None and modified is not None and entry.modified > modified


def update_changed_captures(rows: list[dict]) -> int:
    """Record the new `size` and `last_modified` of changed files, one executemany per
    INSERT_BATCH rows (`capture_id`, `size`, `last_modified`); returns how many. Does not commit.

    Their thumbnails are marked stale in the same transaction (width 0, which no
    configured size has, so thumbnails.is_fresh fails and the file is rewritten
    under the same key, still found by deletes): a file rewritten with an older
    or the same modification time (`rsync -t`, `cp -p`) would pass the time
    check alone. The capture time is not read again, so the station's sessions
    are untouched.
    """
    table = Capture.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("capture_id"))
        .values(size=bindparam("new_size"), last_modified=bindparam("new_last_modified"))
    )
    thumbnails = Thumbnail.__table__
    for start in range(0, len(rows), INSERT_BATCH):
        batch = [
            {"capture_id": row["capture_id"], "new_size": row["size"], "new_last_modified": row["last_modified"]}
            for row in rows[start : start + INSERT_BATCH]
        ]
        db.session.execute(statement, batch)
        ids = [row["capture_id"] for row in batch]
        db.session.execute(thumbnails.update().where(thumbnails.c.capture_id.in_(ids)).values(width=0))
    return len(rows)


def insert_captures(deployment: Deployment, rows: list[dict]) -> int:
    """Insert capture rows (`path`, `size`, `timestamp`, optional `last_modified`); a path already present is skipped.

    Returns how many rows were added. Bumps the station's `captures_version`
    in the same transaction whenever rows were added, so a running regroup
    sees that captures arrived (sessions/regroup.py), and adds them to its
    `captures_count`, so the station's listing pages them all while a sync
    is still committing batches. Does not commit.
    """
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
