"""Thumbnails of captures: made on first request, kept in THUMBNAIL_ROOT, one row
per (capture, label) written as an upsert.

A warm request reads one row (joined to its capture and station, through the
unique index) and trusts it: no stat or HEAD of the stored file. A thumbnail
is made again when its capture's source file is newer than the one it was
made from, when its size's configured width changed, or when its row has no
stored path; the file route makes it again when a local file is found missing.

JPEG sources are decoded at a reduced scale (libjpeg's DCT scaling through
Pillow's `draft`), which is what makes a cold 9000 × 6000 original fast; see
docs/performance.md for the measurements behind REDUCING_GAP.
"""
import io
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from flask import current_app
from sqlalchemy import and_

from ..config import parse_thumbnail_sizes
from ..extensions import db
from ..jobs import locks
from ..models import Capture, Deployment, Project, Thumbnail, utcnow
from ..sources import S3_URL, DataSourceError, check_data_source, s3_client, source_of
from ..sql import dialect_name
from .cleanup import _delete_files
from .render import ImageTooLarge, make_thumbnail
from .storage import S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT, storage_for

log = logging.getLogger(__name__)


class ThumbnailError(Exception):
    """A thumbnail that cannot be served; `status` and `detail` are for the client.

    `placeholder` marks the errors an image client is better served by the
    placeholder picture for (an original too large to decode, a render that
    another request is still making) than by an error status.
    """

    status = 404
    placeholder = False

    def __init__(self, detail: str, status: int | None = None, placeholder: bool = False):
        super().__init__(detail)
        self.detail = detail
        self.placeholder = placeholder
        if status is not None:
            self.status = status


# A render holds its lock at most this long; a request that died mid-render frees it by expiry.
RENDER_LOCK_TTL_SECONDS = 120
RENDER_WAIT_POLL_SECONDS = 0.05



@dataclass
class Located:
    """What one indexed query knows about a capture and its thumbnail at one label."""
    capture_id: int
    project_id: int | None
    deployment_id: int
    data_source: str
    capture_path: str
    last_modified: datetime | None
    thumbnail_id: int | None
    path: str | None
    width: int | None
    height: int | None
    source_mtime: datetime | None
    updated_at: datetime | None
    capture_size: int | None = None


def configured_sizes(config=None) -> dict[str, int]:
    """The configured sizes, `{label: width}` in their configured order (empty: thumbnails are off)."""
    sizes = (config if config is not None else current_app.config).get("THUMBNAIL_SIZES", {})
    return parse_thumbnail_sizes(sizes) if isinstance(sizes, str) else dict(sizes)


def resolve_label(label: str | None) -> tuple[str, int]:
    """The (label, width) asked for: no label is the first configured size.

    Raises ThumbnailError (404) when thumbnails are off or the label is unknown.
    """
    sizes = configured_sizes()
    if not sizes:
        raise ThumbnailError("Thumbnails are off on this server (THUMBNAIL_SIZES is empty).")
    if not label:
        label = next(iter(sizes))
    if label not in sizes:
        raise ThumbnailError(f"Unknown thumbnail label {label!r}; the configured labels are: {', '.join(sizes)}.")
    return label, sizes[label]


def storage_key(capture_id: int, label: str) -> str:
    """Where a capture's thumbnail is stored, relative to THUMBNAIL_ROOT (spread over 1000 folders)."""
    return f"{capture_id % 1000:03d}/{capture_id}/{label}.jpg"


def locate(capture_id: int, label: str) -> Located | None:
    """The capture (with its station's project and data source) and its thumbnail row, in one query."""
    row = db.session.execute(
        db.select(
            Capture.id,
            Deployment.project_id,
            Deployment.id,
            Deployment.data_source,
            Capture.path,
            Capture.last_modified,
            Thumbnail.id,
            Thumbnail.path,
            Thumbnail.width,
            Thumbnail.height,
            Thumbnail.source_mtime,
            Thumbnail.updated_at,
            Capture.size,
        )
        .join(Deployment, Deployment.id == Capture.deployment_id)
        .outerjoin(Thumbnail, and_(Thumbnail.capture_id == Capture.id, Thumbnail.label == label))
        .where(Capture.id == capture_id)
    ).first()
    return Located(*row) if row is not None else None


def is_fresh(located: Located, width: int) -> bool:
    """Whether the stored thumbnail can be served as is (decided from the row alone)."""
    if located.thumbnail_id is None or not located.path or located.width != width:
        return False
    if located.last_modified is None:
        # No record of the source's time: nothing says it changed.
        return True
    return located.source_mtime is not None and located.source_mtime >= located.last_modified


def render_lock_key(capture_id: int, label: str) -> str:
    """The name of the lock one render of a capture's thumbnail at `label` holds."""
    return f"thumbnail:{capture_id}:{label}"


def ensure(located: Located, label: str, width: int, remake: bool = False) -> Located:
    """The thumbnail of `located` at `label`, made (or made again) unless the row is fresh.

    `remake` makes it again whatever the row says: for a stored file that
    was found missing (removed from THUMBNAIL_ROOT by hand or by a restore).
    One render per (capture, label) at a time, across threads and processes:
    a request that finds the render lock taken waits up to
    THUMBNAIL_WAIT_SECONDS for that render's row instead of decoding a second
    copy, then gives up with a placeholder error (503). Raises ThumbnailError
    (404 missing source, 422 too large to decode, 502 unreadable source or
    failing storage) and commits the row when it writes one.
    """
    if is_fresh(located, width) and not remake:
        return located
    key = render_lock_key(located.capture_id, label)
    token = locks.acquire(key, RENDER_LOCK_TTL_SECONDS, locks.default_owner("thumbnail"))
    if token is None:
        return _wait_for_render(located, label, width)
    try:
        return _render(located, label, width)
    finally:
        locks.release(key, token)


def _wait_for_render(located: Located, label: str, width: int) -> Located:
    """The row another request rendered, once its lock is freed; a placeholder error if that takes too long."""
    key = render_lock_key(located.capture_id, label)
    deadline = time.monotonic() + current_app.config.get("THUMBNAIL_WAIT_SECONDS", 10)
    while _is_held(key):
        if time.monotonic() >= deadline:
            raise ThumbnailError("Another request is still making this thumbnail; try again shortly.", 503,
                                 placeholder=True)
        time.sleep(RENDER_WAIT_POLL_SECONDS)
    # End this session's snapshot so the row the other render committed is seen.
    db.session.commit()
    again = locate(located.capture_id, label)
    if again is None:
        raise ThumbnailError("Not found.")
    # Fresh: served. Not fresh: the other render failed, and this request tries once itself.
    return again if is_fresh(again, width) else ensure(again, label, width)


def _is_held(key: str) -> bool:
    lock = locks.holder(key)
    return lock is not None and lock.expires_at > utcnow()


def _render(located: Located, label: str, width: int) -> Located:
    with open_source(located.project_id, located.data_source, located.capture_path) as source:
        try:
            rendered = make_thumbnail(source, width, current_app.config.get("THUMBNAIL_MAX_PIXELS"))
        except ThumbnailError:
            raise
        except ImageTooLarge as error:
            raise ThumbnailError(f"The capture's file {located.capture_path!r} is not decoded: {error}.", 422,
                                 placeholder=True) from None
        except Exception as error:  # Pillow raises many kinds for a file that is not a readable image
            raise ThumbnailError(
                f"The capture's file {located.capture_path!r} could not be read as an image ({type(error).__name__}).",
                502,
            ) from None
    key = storage_key(located.capture_id, label)
    storage = storage_for(current_app.config["THUMBNAIL_ROOT"])
    try:
        storage.save(key, rendered.data)
    except OSError as error:
        log.error("Thumbnail of capture %s (%s) not stored: %s", located.capture_id, label, error)
        raise ThumbnailError("The thumbnail could not be stored.", 502) from None
    now = utcnow()
    values = {
        "capture_id": located.capture_id,
        "label": label,
        "width": width,
        "height": rendered.height,
        "path": key,
        "source_mtime": located.last_modified,
        "created_at": now,
        "updated_at": now,
    }
    thumbnail_id = _upsert(values)
    _keep_a_stale_mark(located, thumbnail_id)
    db.session.commit()
    if located.path and located.path != key:
        _delete_files([located.path])
    located.thumbnail_id, located.path, located.width = thumbnail_id, key, width
    located.height, located.source_mtime, located.updated_at = rendered.height, located.last_modified, now
    return located


def _keep_a_stale_mark(located: Located, thumbnail_id: int) -> None:
    """Mark the row just written stale again if its capture's file changed while it was rendered.

    A sync that finds the file changed marks the capture's thumbnails stale
    (width 0) in its own transaction; an upsert of a render that read the old
    file would overwrite that mark. Reading the capture after the upsert, in
    the same transaction and sharing its row lock (waiting for a sync still
    writing it), sees any change committed since `located` was read.
    """
    now = db.session.execute(
        db.select(Capture.size, Capture.last_modified).where(Capture.id == located.capture_id).with_for_update(read=True)
    ).first()
    if now is not None and (now.size, now.last_modified) != (located.capture_size, located.last_modified):
        db.session.execute(db.update(Thumbnail).where(Thumbnail.id == thumbnail_id).values(width=0))


def _upsert(values: dict) -> int:
    """INSERT … ON CONFLICT (capture_id, label) DO UPDATE: concurrent first requests both succeed."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql.insert if dialect_name() == "postgresql" else sqlite.insert)(Thumbnail.__table__)
    changed = {name: insert.excluded[name] for name in ("width", "height", "path", "source_mtime", "updated_at")}
    statement = insert.values(values).on_conflict_do_update(index_elements=["capture_id", "label"], set_=changed)
    return db.session.execute(statement.returning(Thumbnail.__table__.c.id)).scalar_one()


def find(capture_id: int, label: str | None) -> tuple[Located, str, int]:
    """A capture's thumbnail row as asked for by a client: (located, label, width).

    The caller checks the project's permission on `located.project_id`, then
    calls `ensure`. Raises ThumbnailError (404) when thumbnails are off, the
    label is unknown or the capture does not exist.
    """
    label, width = resolve_label(label)
    located = locate(capture_id, label)
    if located is None:
        raise ThumbnailError("Not found.")
    return located, label, width


@contextmanager
def open_source(project_id: int | None, data_source: str, path: str) -> Iterator[BinaryIO]:
    """The capture's original as a readable binary file: a local file or an S3 object's bytes.

    Raises ThumbnailError: 404 when the file is gone, 502 when its store fails.
    """
    project = db.session.get(Project, project_id) if project_id is not None else None
    handle = _read_s3(project, data_source, path) if data_source.startswith("s3://") else _open_local(project, data_source, path)
    try:
        yield handle
    finally:
        handle.close()


def _open_local(project, data_source: str, path: str) -> BinaryIO:
    try:
        base = Path(check_data_source(project, data_source))
    except DataSourceError as error:
        raise ThumbnailError(f"The station's data source cannot be read: {error}", 404) from None
    full = (base / path).resolve()
    if base not in full.parents:
        raise ThumbnailError("The capture's file lies outside its data source.", 404)
    try:
        return open(full, "rb")
    except FileNotFoundError:
        raise ThumbnailError(f"The capture's file {path!r} is missing from its data source.", 404) from None
    except OSError as error:
        raise ThumbnailError(f"The capture's file {path!r} cannot be read ({error.strerror}).", 502) from None


def _read_s3(project, data_source: str, path: str) -> BinaryIO:
    from botocore.exceptions import BotoCoreError, ClientError

    match = S3_URL.match(data_source)
    if match is None:
        raise ThumbnailError("The station's data source is not a valid s3:// URL.", 404)
    prefix = (match["prefix"] or "").strip("/")
    key = f"{prefix}/{path}" if prefix else path
    try:
        source = source_of(project, data_source)
        if source is None:
            raise ThumbnailError("The station's data source is not inside a storage source of this project.", 404)
        try:
            client = s3_client(source, connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT)
        except DataSourceError as error:
            raise ThumbnailError(str(error), 502) from None
        body = client.get_object(Bucket=match["bucket"], Key=key)["Body"]
        return io.BytesIO(body.read())
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ThumbnailError(f"The capture's file {path!r} is missing from its data source.", 404) from None
        raise ThumbnailError(f"The capture's data source answered {code or 'an error'}.", 502) from None
    except BotoCoreError as error:
        raise ThumbnailError(f"The capture's data source could not be reached ({type(error).__name__}).", 502) from None


