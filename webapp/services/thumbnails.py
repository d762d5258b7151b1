"""Thumbnails of captures: made on first request, kept in THUMBNAIL_ROOT, one row
per (capture, label) written as an upsert.

A warm request reads one row (joined to its capture and station, through the
unique index) and trusts it: no stat or HEAD of the stored file. A thumbnail
is made again when its capture's source file is newer than the one it was
made from, when its size's configured width changed, or when its row has no
stored path.

JPEG sources are decoded at a reduced scale (libjpeg's DCT scaling through
Pillow's `draft`), which is what makes a cold 9000 × 6000 original fast; see
docs/performance.md for the measurements behind REDUCING_GAP.
"""
import io
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from flask import current_app
from sqlalchemy import and_, event
from sqlalchemy.orm import Session

from ..config import parse_thumbnail_sizes
from ..extensions import db
from ..models import Capture, Deployment, Event, Project, Thumbnail, utcnow
from . import storage
from .captures import S3_URL, DataSourceError
from .sql import dialect_name
from .thumbnail_storage import S3_CONNECT_TIMEOUT, S3_READ_TIMEOUT, StorageError, storage_for

log = logging.getLogger(__name__)

JPEG_QUALITY = 82
# The decoder scales down (by 1/2, 1/4 or 1/8, in the DCT domain) to no less
# than this many times the target size, then a bicubic resize does the rest.
# 1.0 lets a 9000 px original decode at 1/8 for `medium` (1024) as well as for
# `small`: 15 % less CPU than Pillow's default of 2.0 (1/4 scale) for medium,
# at 45.3 dB PSNR against a full decode + LANCZOS (2.0: 46.9 dB). Measured in
# docs/performance.md.
REDUCING_GAP = 1.0
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ThumbnailError(Exception):
    """A thumbnail that cannot be served; `status` and `detail` are for the client."""

    status = 404

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status


@dataclass(frozen=True)
class Rendered:
    """An encoded thumbnail and its pixel size."""
    data: bytes
    width: int
    height: int


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


def ensure(located: Located, label: str, width: int) -> Located:
    """The thumbnail of `located` at `label`, made (or made again) unless the row is fresh.

    Raises ThumbnailError (404 missing source, 502 unreadable source or
    failing storage) and commits the row when it writes one.
    """
    if is_fresh(located, width):
        return located
    with open_source(located.project_id, located.data_source, located.capture_path) as source:
        try:
            rendered = make_thumbnail(source, width)
        except ThumbnailError:
            raise
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
    db.session.commit()
    if located.path and located.path != key:
        _delete_files([located.path])
    located.thumbnail_id, located.path, located.width = thumbnail_id, key, width
    located.height, located.source_mtime, located.updated_at = rendered.height, located.last_modified, now
    return located


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
        base = Path(storage.check_data_source(project, data_source))
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
        source = storage.source_of(project, data_source)
        if source is None:
            raise ThumbnailError("The station's data source is not inside a storage source of this project.", 404)
        try:
            client = storage.s3_client(source, connect_timeout=S3_CONNECT_TIMEOUT, read_timeout=S3_READ_TIMEOUT)
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


def make_thumbnail(source: str | Path | BinaryIO, width: int) -> Rendered:
    """Encode an image at `width` pixels wide (never wider than the original) as RGB JPEG.

    JPEGs are decoded at the smallest DCT scale that keeps REDUCING_GAP × the
    target size; palette, alpha and 16-bit sources become RGB (alpha over
    white). Output: progressive, optimized, quality 82.
    """
    from PIL import Image, ImageOps

    with Image.open(source) as image:
        source_width, source_height = image.size
        target_width = min(width, source_width)
        target = (target_width, max(1, round(source_height * target_width / source_width)))
        if image.format == "JPEG":
            image.draft("RGB", (int(target[0] * REDUCING_GAP), int(target[1] * REDUCING_GAP)))
        image = _prepare_mode(image)
        if image.size != target:
            # Sized from the original's aspect, not the drafted one (whose rounding
            # made `thumbnail()` answer 239 px for 240).
            image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
        image = ImageOps.exif_transpose(image)
        image = _as_rgb(image)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        return Rendered(buffer.getvalue(), image.width, image.height)


def _prepare_mode(image):
    """Modes a filtered resize handles badly become 8-bit ones first."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # 16-bit grey (microscope and scientific TIFFs): scale 0–65535 to 0–255 instead of clipping.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA")
    return image


def _as_rgb(image):
    if image.mode == "RGB":
        return image
    if image.mode in _ALPHA_MODES:
        from PIL import Image

        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


# -- warming after a sync ---------------------------------------------------

WARM_SESSIONS_BATCH = 100


def warm_label(config=None) -> str | None:
    """The size galleries open with: `small` where configured, else the first size (None: thumbnails off)."""
    sizes = configured_sizes(config)
    return "small" if "small" in sizes else next(iter(sizes), None)


def warm_session_examples(deployment: Deployment, since: datetime, until: datetime, logger=log, check=None) -> dict[str, int]:
    """Make the example captures' thumbnails of the station's sessions overlapping [since, until].

    Returns the counts {"Generated", "Reused", "Failed"}. A thumbnail that
    fails is counted and logged, never raised. `check` is called between
    batches of sessions (a job's cancel and time-limit check).
    """
    from .session_captures import example_captures

    counts = {"Generated": 0, "Reused": 0, "Failed": 0}
    label = warm_label()
    if label is None:
        return counts
    width = configured_sizes()[label]
    sessions = db.select(Event).where(
        Event.deployment_id == deployment.id, Event.end >= since, Event.start <= until
    ).order_by(Event.start, Event.id)
    offset = 0
    while True:
        batch = list(db.session.scalars(sessions.limit(WARM_SESSIONS_BATCH).offset(offset)))
        if not batch:
            return counts
        offset += len(batch)
        for examples in example_captures(batch).values():
            for example in examples:
                located = locate(example.id, label)
                if located is None:
                    continue
                if is_fresh(located, width):
                    counts["Reused"] += 1
                    continue
                try:
                    ensure(located, label, width)
                except ThumbnailError as error:
                    db.session.rollback()
                    counts["Failed"] += 1
                    logger.warning("No %s thumbnail for capture %s (%s): %s", label, example.id, located.capture_path, error.detail)
                else:
                    counts["Generated"] += 1
        if check is not None:
            check()


# -- cleanup ---------------------------------------------------------------

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
    """Delete a station's thumbnail rows (committed in batches) and then their files; returns how many rows.

    For deletes that bypass the ORM (bulk DELETEs of a station's captures), which
    the session hooks below cannot see. A storage error is logged, not raised.
    """
    found = db.session.execute(
        db.select(Thumbnail.id, Thumbnail.path)
        .join(Capture, Capture.id == Thumbnail.capture_id)
        .where(Capture.deployment_id == deployment_id)
    ).all()
    for start in range(0, len(found), DELETE_BATCH):
        batch = [row_id for row_id, _ in found[start : start + DELETE_BATCH]]
        db.session.execute(db.delete(Thumbnail).where(Thumbnail.id.in_(batch)))
        db.session.commit()
    _delete_files(sorted(path for _, path in found if path))
    return len(found)


def delete_capture(capture: Capture) -> None:
    """Delete a capture with its thumbnail rows and files (a storage error is logged)."""
    db.session.delete(capture)
    db.session.commit()


def delete_deployment(deployment: Deployment) -> None:
    """Delete a station with its captures, sessions, thumbnail rows and files (a storage error is logged)."""
    db.session.delete(deployment)
    db.session.commit()


def init_app(app) -> None:
    """Delete a capture's or a station's thumbnail files whenever the ORM deletes it."""
    if not event.contains(Session, "before_flush", _collect_before_flush):
        event.listen(Session, "before_flush", _collect_before_flush)
        event.listen(Session, "after_commit", _delete_after_commit)
        event.listen(Session, "after_soft_rollback", _forget_after_rollback)
