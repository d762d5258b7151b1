"""Captures: where a station's files may live, what time a file was taken, and
adding new files as captures without ever duplicating one."""
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Iterator

from sqlalchemy import func

from ..extensions import db
from ..models import Capture, Deployment, Event
from .sql import insert_ignoring_conflicts

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<prefix>[^\s]*))?$")
INSERT_BATCH = 1000


class DataSourceError(ValueError):
    """A data source that the server must not or cannot read."""


@dataclass(frozen=True)
class FileEntry:
    """One image file of a data source."""
    path: str  # relative to the data source, with "/" separators
    size: int


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
    """The capture time written in a file name, or None (see CONTRACT.md)."""
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


def timestamp_from_exif(path: Path | BinaryIO) -> datetime | None:
    """EXIF DateTimeOriginal of an image file (a path or an open binary file), or None."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except (OSError, ValueError, SyntaxError):
        return None
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


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
                size = full.stat().st_size
            except (OSError, RuntimeError):
                continue
            yield FileEntry(full.relative_to(base).as_posix(), size)


def existing_paths(deployment: Deployment) -> set[str]:
    """The paths of the station's captures, to tell new files from known ones."""
    rows = db.session.execute(db.select(Capture.path).filter_by(deployment_id=deployment.id))
    return {path for (path,) in rows}


def insert_captures(deployment: Deployment, rows: list[dict]) -> int:
    """Insert capture rows (`path`, `size`, `timestamp`); a path already present is skipped.

    Returns how many rows were added. Bumps the station's `captures_version`
    in the same transaction whenever rows were added, so a running regroup
    sees that captures arrived (services/regroup.py). Does not commit.
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
            .values(captures_version=deployments.c.captures_version + 1)
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
