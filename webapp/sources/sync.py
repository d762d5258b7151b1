"""Sync a station with its data source: list the files, record the size and time
of files changed in place and add the new ones as captures (the first stage of
a data_storage_sync job; `webapp.job_types` runs the regroup and thumbnail
stages after it).

A station's data source is checked again at every sync against the storage
sources its project may use (a grant may have been revoked, or a folder
turned into a symlink out of bounds, since it was saved). An
`s3://bucket/prefix` source is listed through boto3 with the endpoint and
credentials of its storage source, never the server's own. Logs name the
source by its path inside the storage source.
"""
import io
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from ..extensions import db
from ..jobs import JobCancelled, JobRecorder
from ..models import Deployment
from . import storage
from .capture_rows import (
    KnownFile,
    insert_captures,
    is_changed,
    known_files,
    refresh_deployment_stats,
    update_changed_captures,
)
from .files import (
    DataSourceError,
    FileEntry,
    UnreadableFile,
    is_image_name,
    list_local_files,
    timestamp_from_exif,
    timestamp_from_name,
)

SYNC_STAGE = "data_storage_sync"
SYNC_PARAMS = ("Total files", "Captures added", "Failed", "Files missing from source", "Unreadable files", "Files changed")
BATCH_SIZE = 1000
# EXIF sits at the start of a JPEG/TIFF; reading this much of an S3 object is enough.
EXIF_HEAD_BYTES = 128 * 1024
MAX_NAMED_FILES = 10
# A cancel is looked for at least this often while files are read, not only between batches.
CANCEL_CHECK_SECONDS = 0.5


class SyncError(ValueError):
    """The data source cannot be read; the message says why."""


@dataclass
class SyncResult:
    """A sync's stage params, and the time range of the captures it added (None: none with a time)."""
    stats: dict[str, int] = field(default_factory=dict)
    earliest: datetime | None = None
    latest: datetime | None = None


class _Source:
    """One data source: its file listing and a way to read a file's EXIF time.

    `exif_time` returns None for a file read that holds no time, and raises
    UnreadableFile when the file could not be read.
    """

    def __init__(self, files: Callable[[], Iterator[FileEntry]], exif_time: Callable[[str], datetime | None]):
        self.files = files
        self.exif_time = exif_time


def _local_source(folder: str) -> _Source:
    base = Path(folder)
    return _Source(lambda: list_local_files(folder), lambda rel: timestamp_from_exif(base / rel))


def _s3_source(url: str, source, shown: str) -> _Source:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = storage.s3_parts(url)
    prefix = f"{prefix}/" if prefix else ""
    client = storage.s3_client(source)

    def files() -> Iterator[FileEntry]:
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    rel = item["Key"][len(prefix) :]
                    if rel and is_image_name(rel):
                        modified = item.get("LastModified")
                        if modified is not None and modified.tzinfo is not None:
                            modified = modified.astimezone(timezone.utc).replace(tzinfo=None)
                        yield FileEntry(rel, int(item["Size"]), modified)
        except (BotoCoreError, ClientError) as error:
            raise SyncError(f"Cannot list {shown}: {error}") from None

    def exif_time(rel: str) -> datetime | None:
        try:
            head = client.get_object(Bucket=bucket, Key=prefix + rel, Range=f"bytes=0-{EXIF_HEAD_BYTES - 1}")
            body = head["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise UnreadableFile(str(error)) from error
        # An S3 object is whole once it is listed; only its head was fetched.
        return timestamp_from_exif(io.BytesIO(body), complete=False)

    return _Source(files, exif_time)


def open_source(deployment: Deployment) -> _Source:
    """The station's data source, checked against its project's storage sources.

    Raises SyncError, in words a member may read, if it must not or cannot be read.
    """
    shown = storage.display_path(deployment.project, deployment.data_source)
    try:
        valid = storage.check_data_source(deployment.project, deployment.data_source)
    except DataSourceError as error:
        if str(error) == storage.NOT_INSIDE:
            raise SyncError(
                f"The data source {shown} is {storage.NOT_INSIDE} (was its grant revoked?); nothing was synced."
            ) from None
        raise SyncError(f"The data source {shown} cannot be synced: {error}") from None
    if valid.startswith("s3://"):
        try:
            return _s3_source(valid, storage.source_of(deployment.project, valid), shown)
        except DataSourceError as error:
            raise SyncError(str(error)) from None
    return _local_source(valid)


def _named(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED_FILES])
    return shown + (f" and {len(paths) - MAX_NAMED_FILES} more" if len(paths) > MAX_NAMED_FILES else "")


def _listed(source: _Source, job: JobRecorder) -> list[FileEntry]:
    """The source's files, looking for a cancel every CANCEL_CHECK_SECONDS while a long listing runs."""
    listed = []
    last_check = time.monotonic()
    for entry in source.files():
        listed.append(entry)
        if time.monotonic() - last_check >= CANCEL_CHECK_SECONDS:
            job.check_cancelled()
            last_check = time.monotonic()
    return listed


class _CaptureReader:
    """Reads the capture time of new files, counting those without a time and those unreadable,
    and looks for a cancel every CANCEL_CHECK_SECONDS while it reads."""

    def __init__(self, source: _Source, stats: dict, job: JobRecorder):
        self.source, self.stats, self.job = source, stats, job
        self.last_check = time.monotonic()
        # The span of the new captures' times: the sessions the thumbnails stage warms.
        self.earliest: datetime | None = None
        self.latest: datetime | None = None

    def rows(self, entries: list[FileEntry]) -> list[dict]:
        """The capture rows of a batch of files; an unreadable file has none."""
        rows = []
        for entry in entries:
            if time.monotonic() - self.last_check >= CANCEL_CHECK_SECONDS:
                self.job.check_cancelled()
                self.last_check = time.monotonic()
            try:
                timestamp = timestamp_from_name(entry.path) or self.source.exif_time(entry.path)
            except UnreadableFile as error:
                self.stats["Unreadable files"] += 1
                self.job.logger.warning("Could not read %s (%s); it is left for the next sync.", entry.path, error)
                continue
            if timestamp is None:
                self.stats["Failed"] += 1
                self.job.logger.warning("No capture time in the name or EXIF of %s; added without timestamp.", entry.path)
            else:
                self.earliest = timestamp if self.earliest is None else min(self.earliest, timestamp)
                self.latest = timestamp if self.latest is None else max(self.latest, timestamp)
            rows.append({"path": entry.path, "size": entry.size, "timestamp": timestamp, "last_modified": entry.modified})
        return rows


def _add_captures(
    deployment: Deployment, new: list[FileEntry], source: _Source, stats: dict, job: JobRecorder
) -> tuple[datetime | None, datetime | None]:
    """Insert the new files as captures, one committed batch at a time, checking for cancel as it reads;
    return the earliest and latest time among them.

    A cancel or an error keeps the batches already committed (and says so).
    """
    log = job.logger
    reader = _CaptureReader(source, stats, job)
    done = 0
    try:
        for start in range(0, len(new), BATCH_SIZE):
            job.check_cancelled()
            batch = new[start : start + BATCH_SIZE]
            stats["Captures added"] += insert_captures(deployment, reader.rows(batch))
            db.session.commit()
            done += len(batch)
            job.set_params(SYNC_STAGE, stats)
            job.set_stage(SYNC_STAGE, progress=done / len(new))
        job.check_cancelled()
    except BaseException as error:
        db.session.rollback()
        if stats["Captures added"]:
            log.warning(
                "Sync %s after adding %d captures; they are kept and will be grouped by the next regroup.",
                "cancelled" if isinstance(error, JobCancelled) else "failed",
                stats["Captures added"],
            )
            # The committed batches must show in the station's counts.
            refresh_deployment_stats(deployment)
            db.session.commit()
        raise
    return reader.earliest, reader.latest


def _record_changed(
    listed: list[FileEntry], known: dict[str, KnownFile], stats: dict, job: JobRecorder
) -> None:
    """Record the new size and modification time of files changed in place since they were
    captured, one committed executemany per batch; their thumbnails are marked stale in the
    same transaction (captures.update_changed_captures), so they are made again when next
    asked for.

    Their capture times are not read again: a file whose capture time changed
    is, in practice, a new file under a new name.
    """
    changed = [
        {"capture_id": known[entry.path][0], "size": entry.size, "last_modified": entry.modified,
         "path": entry.path}
        for entry in listed
        if entry.path in known and is_changed(entry, known[entry.path])
    ]
    for start in range(0, len(changed), BATCH_SIZE):
        job.check_cancelled()
        stats["Files changed"] += update_changed_captures(changed[start : start + BATCH_SIZE])
        db.session.commit()
        job.set_params(SYNC_STAGE, stats)
    if changed:
        job.logger.info(
            "%d files changed in place since they were captured; their size and time are updated "
            "and their thumbnails will be made again: %s",
            len(changed),
            _named([row["path"] for row in changed]),
        )


def sync_deployment(deployment: Deployment, job: JobRecorder) -> SyncResult:
    """Add the station's new files as captures, committed per batch.

    A known file with another size or a newer modification time than its
    capture row is counted in "Files changed" and its row updated (size and
    time only: its capture time is not read again), so its thumbnails are
    made again on their next request. Never duplicates a capture; keeps the
    captures of files that vanished from the source (reported in the log and
    in "Files missing from source"); a file read to its end with no time in
    its name or EXIF becomes a capture without timestamp, counted in
    "Failed". A file that could not be read is counted in "Unreadable
    files", named in the log and not recorded, so the next sync tries it
    again. Checks for cancel every CANCEL_CHECK_SECONDS
    while it reads files (and before each batch), so a cancel lands within a second.
    """
    log = job.logger
    job.set_stage(SYNC_STAGE, status="STARTED", progress=0.0)
    source = open_source(deployment)
    log.info("Listing %s", storage.display_path(deployment.project, deployment.data_source))
    listed = _listed(source, job)
    known = known_files(deployment)
    listed_paths = {entry.path for entry in listed}
    vanished = sorted(known.keys() - listed_paths)
    new = [entry for entry in listed if entry.path not in known]
    stats = {
        "Total files": len(listed),
        "Captures added": 0,
        "Failed": 0,
        "Files missing from source": len(vanished),
        "Unreadable files": 0,
        "Files changed": 0,
    }
    job.set_params(SYNC_STAGE, stats)
    log.info("Found %d files, %d of them new.", len(listed), len(new))
    if vanished:
        log.warning("%d files are gone from the data source; their captures are kept: %s", len(vanished), _named(vanished))

    _record_changed(listed, known, stats, job)
    earliest, latest = _add_captures(deployment, new, source, stats, job)
    refresh_deployment_stats(deployment)
    db.session.commit()
    job.set_params(SYNC_STAGE, stats)
    job.set_stage(SYNC_STAGE, status="SUCCESS", progress=1.0)
    log.info("Added %d captures (%d without a capture time).", stats["Captures added"], stats["Failed"])
    if stats["Unreadable files"]:
        log.warning("%d files could not be read; the next sync tries them again.", stats["Unreadable files"])

    return SyncResult(stats=stats, earliest=earliest, latest=latest)
