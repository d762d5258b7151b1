"""Captures: where a station's files may live, what time a file was taken, and
adding new files as captures without ever duplicating one."""
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterator

from sqlalchemy import bindparam, func

from ..extensions import db
from ..models import Capture, Deployment, Event, Thumbnail
from .sql import insert_ignoring_conflicts

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<prefix>[^\s]*))?$")
INSERT_BATCH = 1000


class DataSourceError(ValueError):
    """A data source that the server must not or cannot read."""


class UnreadableFile(Exception):
    """A file that could not be read to its end (an I/O or storage error, or a file
    still being written): it is not recorded, so the next sync reads it again."""


@dataclass(frozen=True)
class FileEntry:
    """One image file of a data source."""
    path: str  # relative to the data source, with "/" separators
    size: int
    modified: datetime | None = None  # the file's modification time (UTC), where the source tells it


# Tried in order; each captures year, month, day, hour, minute, second.
_NAME_PATTERNS = (
    re.compile(r"(?=(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}))"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[^\d](\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})(?!\d)"),
)
_SHORT_PATTERN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)")


def _valid(parts) -> datetime | None:
    try:
        return datetime(*(int(p) for p in parts))
    except ValueError:
        return None


def timestamp_from_name(name: str) -> datetime | None:
    """The capture time written in a file name, or None.

    14 digits `YYYYMMDDhhmmss` anywhere in the name, or `YYYYMMDD<sep>hhmmss`,
    or `YYYY<s>MM<s>DD<sep>hh<s>mm<s>ss` with single non-digit separators, or
    12 digits `YYMMDDhhmmss`.
    """
    stem = Path(name).name
    for pattern in _NAME_PATTERNS:
        for match in pattern.finditer(stem):
            found = _valid(match.groups())
            if found:
                return found
    for match in _SHORT_PATTERN.finditer(stem):
        year, *rest = match.groups()
        found = _valid((2000 + int(year), *rest))
        if found:
            return found
    return None


# The first bytes of the image formats a capture may be; a file that starts like
# one but that Pillow cannot identify was cut short, not "not an image".
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*")


def _looks_like_an_image(head: bytes) -> bool:
    return bool(head) and any(sig.startswith(head[: len(sig)]) for sig in _IMAGE_SIGNATURES)


def timestamp_from_exif(source: Path | BinaryIO, complete: bool = True) -> datetime | None:
    """EXIF DateTimeOriginal of an image file (a path or an open binary file), or None.

    None means the file was read and holds no capture time (or is not an
    image at all). A file that cannot be read, or an image that ends early,
    raises UnreadableFile instead. With `complete`, an image without a time
    is decoded to its end, so a file still being written is not taken for
    one without a time; pass False where only the file's head was fetched.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as file:
                return timestamp_from_exif(file, complete)
        except OSError as error:
            raise UnreadableFile(str(error)) from error
    try:
        with Image.open(source) as image:
            exif = image.getexif()
            value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
            if not value and complete:
                image.load()
    except UnidentifiedImageError as error:
        if _looks_like_an_image(_head(source)):
            raise UnreadableFile(f"the image ends early ({error})") from error
        return None
    except OSError as error:
        raise UnreadableFile(str(error)) from error
    except (ValueError, SyntaxError):
        return None
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _head(file: BinaryIO) -> bytes:
    """The first bytes of an open file (empty if it cannot be read again, e.g. a pipe)."""
    try:
        file.seek(0)
        return file.read(8)
    except OSError:
        return b""


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the capture extensions (any case)."""
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_local_files(root: str) -> Iterator[FileEntry]:
    """Every image file under `root`, recursively, in a stable order.

    Symlinked folders are not followed, and a symlinked file that points
    outside `root` is left out, so a sync never reads beyond its folder.
    """
    base = Path(root).resolve()
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            if not is_image_name(name):
                continue
            full = Path(dirpath) / name
            try:
                if full.is_symlink() and base not in full.resolve(strict=True).parents:
                    continue
                stat = full.stat()
            except (OSError, RuntimeError):
                continue
            modified = datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(tzinfo=None)
            yield FileEntry(full.relative_to(base).as_posix(), stat.st_size, modified)


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
    sees that captures arrived (services/regroup.py), and adds them to its
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
