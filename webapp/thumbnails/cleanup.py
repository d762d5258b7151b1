"""Removing thumbnails with their captures or station: rows in batches, files only after the commit.

A thumbnail file is deleted once the transaction that removed its row has
committed, so a rolled-back delete never leaves a row without its file.
"""
import logging

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Capture, Deployment, Thumbnail
from .storage import StorageError, storage_for

log = logging.getLogger(__name__)


def _delete_files(keys) -> None:
    """Delete stored thumbnails; a storage error is logged, never raised."""
    storage = storage_for(current_app.config["THUMBNAIL_ROOT"])
    for key in keys:
        try:
            storage.delete(key)
        except (StorageError, OSError) as error:
            log.error("Thumbnail file %s not deleted: %s", key, error)


_PENDING_KEY = "thumbnail_files_to_delete"


def _collect_before_flush(session: Session, flush_context, instances) -> None:
    """Remember the files of thumbnails whose capture or station is being deleted.

    Their rows go with the database's ON DELETE CASCADE; the files are deleted
    once the transaction commits, so a rollback keeps them.
    """
    captures = [obj.id for obj in session.deleted if isinstance(obj, Capture) and obj.id is not None]
    stations = [obj.id for obj in session.deleted if isinstance(obj, Deployment) and obj.id is not None]
    if not captures and not stations:
        return
    query = db.select(Thumbnail.path).join(Capture, Capture.id == Thumbnail.capture_id)
    clauses = []
    if captures:
        clauses.append(Capture.id.in_(captures))
    if stations:
        clauses.append(Capture.deployment_id.in_(stations))
    paths = session.execute(query.where(db.or_(*clauses), Thumbnail.path != "")).scalars().all()
    session.info.setdefault(_PENDING_KEY, set()).update(paths)


def _delete_after_commit(session: Session) -> None:
    paths = session.info.pop(_PENDING_KEY, None)
    if paths:
        _delete_files(sorted(paths))


def _forget_after_rollback(session: Session, previous_transaction) -> None:
    session.info.pop(_PENDING_KEY, None)


DELETE_BATCH = 1000


def delete_station_thumbnails(deployment_id: int) -> int:
    """Delete a station's thumbnail rows and files, DELETE_BATCH at a time; returns how many rows.

    Each batch's rows are deleted and committed, then its files removed, so
    memory holds one batch whatever the station's size. For deletes that
    bypass the ORM (bulk DELETEs of a station's captures), which the session
    hooks above cannot see. A storage error is logged, not raised.
    """
    query = (
        db.select(Thumbnail.id, Thumbnail.path)
        .join(Capture, Capture.id == Thumbnail.capture_id)
        .where(Capture.deployment_id == deployment_id)
        .order_by(Thumbnail.id)
        .limit(DELETE_BATCH)
    )
    deleted = 0
    while batch := db.session.execute(query).all():
        db.session.execute(db.delete(Thumbnail).where(Thumbnail.id.in_([row_id for row_id, _ in batch])))
        db.session.commit()
        _delete_files(sorted(path for _, path in batch if path))
        deleted += len(batch)
    return deleted


def delete_capture(capture: Capture) -> None:
    """Delete a capture with its thumbnail rows and files (a storage error is logged)."""
    db.session.delete(capture)
    db.session.commit()


def delete_deployment(deployment: Deployment) -> None:
    """Delete a station with its captures, sessions, thumbnail rows and files (a storage error is logged)."""
    db.session.delete(deployment)
    db.session.commit()


def init_app(app) -> None:
    """Bound what Pillow decodes; delete a capture's or a station's thumbnail files whenever the ORM deletes it."""
    from PIL import Image

    # Process-wide: every decode in this process (thumbnails, the sync's EXIF fallback) is bounded.
    Image.MAX_IMAGE_PIXELS = app.config["THUMBNAIL_MAX_PIXELS"]
    if not event.contains(Session, "before_flush", _collect_before_flush):
        event.listen(Session, "before_flush", _collect_before_flush)
        event.listen(Session, "after_commit", _delete_after_commit)
        event.listen(Session, "after_soft_rollback", _forget_after_rollback)
