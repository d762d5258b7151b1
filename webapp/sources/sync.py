"""Sync a station with its data source: list the files, record the size and time
of files changed in place (reading their capture time again) and add the new
ones as captures (the first stage of a data_storage_sync job;
`webapp.job_types` runs the regroup and thumbnail stages after it).

The listing streams in path order in batches, each compared with the
station's capture rows of the same range of paths (merge.py): a batch wholly
new or unchanged is settled as a whole, any other file by file. A sync's
memory is a constant plus one batch, whatever the station's size. A station's data source
is checked again at every sync against the storage sources its project may
use (a grant may have been revoked, or a folder turned into a symlink out of
bounds, since it was saved). An `s3://bucket/prefix` source is listed through
boto3 with the endpoint and credentials of its storage source, never the
server's own, its pages read in this thread (s3_listing.py). Logs name the
source by its path inside the storage source.
"""
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterator

import numpy as np

from flask import current_app

from ..extensions import db
from ..jobs import JobCancelled, JobRecorder
from ..sessions import BackwardsCounter, record_backwards, rules_for
from ..models import Deployment
from . import storage
from .capture_rows import (
    KnownRows,
    NewCaptures,
    as_time,
    insert_capture_columns,
    newest_night_start,
    refresh_deployment_stats,
    update_changed_captures,
)
from .capture_times import POOL_WORKERS, TimeReader, head_exif_time, local_exif_time
from .exif import HEAD_BYTES
from .file_facts import name_times
from .files import DataSourceError, FileBatch, FileEntry, UnreadableFile, to_micros
from .local_listing import list_local_batches
from .merge import CHANGED, NEW, VANISHED, merge_listing, unchanged
from .s3_listing import LIST_WORKERS, ListingError, list_s3

SYNC_STAGE = "data_storage_sync"
SYNC_PARAMS = (
    "Total files", "Captures added", "Failed", "Files missing from source", "Unreadable files", "Files changed",
    "Times changed",
)
# New or changed files written per transaction: the sync's memory beyond a constant.
BATCH_SIZE = 5000
MAX_NAMED_FILES = 10
# Each changed capture time gets a log line (old and new), up to this many; the count says the rest.
MAX_TIME_LINES = 100
# A cancel is looked for at least this often while files are listed and read, not only between batches.
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
    """One data source: its sorted file listing in batches (`batches(after, limit)`: after a path, for a
    quick sync) and a way to read a file's EXIF time.

    `exif_time` returns None for a file read that holds no time, and raises
    UnreadableFile when the file could not be read.
    """

    def __init__(self, batches: Callable[[str | None, int], Iterator[FileBatch]],
                 exif_time: Callable[[str], datetime | None], readers: int = 1):
        self.batches = batches
        self.exif_time = exif_time
        self.readers = readers  # threads reading EXIF heads (capture_times.TimeReader)


def _local_source(folder: str, with_times: bool = False) -> _Source:
    helpers = current_app.config["SYNC_STAT_HELPERS"]
    return _Source(lambda after, limit: list_local_batches(folder, after, limit, with_times, helpers),
                   local_exif_time(folder))


def _s3_source(url: str, source, shown: str) -> _Source:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = storage.s3_parts(url)
    prefix = f"{prefix}/" if prefix else ""
    client = storage.s3_client(source, pool_size=LIST_WORKERS)

    def batches(after: str | None, limit: int) -> Iterator[FileBatch]:
        # A page of the listing (at most 1,000 objects) is a batch.
        try:
            yield from list_s3(client, bucket, prefix, after)
        except (BotoCoreError, ClientError, ListingError) as error:
            raise SyncError(f"Cannot list {shown}: {error}") from None

    def exif_time(rel: str) -> datetime | None:
        try:
            head = client.get_object(Bucket=bucket, Key=prefix + rel, Range=f"bytes=0-{HEAD_BYTES - 1}")
            body = head["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise UnreadableFile(str(error)) from error
        # An S3 object is whole once it is listed; only its head was fetched.
        return head_exif_time(body)

    return _Source(batches, exif_time, readers=POOL_WORKERS)


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
    # A station's first sync: its listing's helpers read the names' times too.
    return _local_source(valid, with_times=not deployment.captures_count)


def _named(paths: list[str], total: int) -> str:
    shown = ", ".join(paths[:MAX_NAMED_FILES])
    return shown + (f" and {total - MAX_NAMED_FILES} more" if total > MAX_NAMED_FILES else "")


class _NewFiles:
    """New files waiting to be written, as columns in path order, with the runs of them that share a
    folder (the clock check compares a file with the one named before it in its folder)."""

    def __init__(self):
        self.paths: list[str] = []
        # The times already read: from their names (file_facts.name_times), or by the listing's helpers.
        self.named: list[str | None] = []
        self.sizes: list[int] = []
        self.modified: list[int | None] = []
        self.folders: list[list] = []  # [folder, count] per run

    def __len__(self) -> int:
        return len(self.paths)

    def _count(self, folder: str, count: int) -> None:
        if self.folders and self.folders[-1][0] == folder:
            self.folders[-1][1] += count
        else:
            self.folders.append([folder, count])

    def add_entry(self, entry: FileEntry) -> None:
        folder, _, name = entry.path.rpartition("/")
        self.paths.append(entry.path)
        self.named += name_times([name])
        self.sizes.append(entry.size)
        self.modified.append(to_micros(entry.modified))
        self._count(folder, 1)

    def add_batch(self, batch: FileBatch, start: int, end: int) -> None:
        self.paths += batch.paths[start:end]
        self.named += batch.times[start:end] if batch.times is not None else name_times(batch.names[start:end])
        self.sizes += batch.sizes[start:end]
        self.modified += batch.modified[start:end]
        if batch.folder is not None:
            self._count(batch.folder, end - start)
        else:
            for path in batch.paths[start:end]:
                self._count(path.rpartition("/")[0], 1)


class _Run:
    """One sync's state: its counts, the new and the changed files waiting to be written,
    and the first names of what it reports."""

    def __init__(self, deployment: Deployment, job: JobRecorder, source: _Source):
        self.deployment, self.job = deployment, job
        self.stats = {name: 0 for name in SYNC_PARAMS}
        self.new = _NewFiles()
        self.changed: list[tuple] = []
        self.vanished: list[str] = []
        self.changed_paths: list[str] = []
        self.reader = TimeReader(source.exif_time, self.check_cancelled, workers=source.readers)
        # New files arrive in path order, each folder's in name order: where a clock went back shows here.
        self.backwards = BackwardsCounter(rules_for(deployment))
        self.expected = deployment.captures_count or 0
        self.new_count = 0
        # The first look for a cancel is never skipped: a cancel asked before any batch writes nothing.
        self.last_check = 0.0
        # The span of the captures' new times: the sessions the thumbnails stage warms.
        self.earliest: datetime | None = None
        self.latest: datetime | None = None

    def check_cancelled(self, force: bool = False) -> None:
        """Record progress and look for a cancel, at most every CANCEL_CHECK_SECONDS unless forced."""
        if not force and time.monotonic() - self.last_check < CANCEL_CHECK_SECONDS:
            return
        self.job.set_params(SYNC_STAGE, self.stats)
        seen = self.stats["Total files"]
        self.job.set_stage(SYNC_STAGE, progress=min(0.95, seen / self.expected) if self.expected else 0.0)
        self.job.check_cancelled()
        self.last_check = time.monotonic()

    def compare(self, batch: FileBatch, known: KnownRows) -> None:
        """One listed batch against the known rows of its range: a batch wholly new or wholly
        unchanged is settled as a whole, any other file by file (merge_listing)."""
        self.stats["Total files"] += len(batch.paths)
        self.check_cancelled()
        rows, complete = known.upto(batch.paths[-1])
        if complete and not rows:
            self.new_count += len(batch.paths)
            self.queue_new(batch)
        elif not complete or not unchanged(batch, rows):
            for kind, entry, row in merge_listing(batch.entries(), known.whole_range()):
                self.take(kind, entry, row)

    def queue_new(self, batch: FileBatch) -> None:
        """Queue a batch of new files, writing each full batch."""
        start = 0
        while start < len(batch.paths):
            end = min(len(batch.paths), start + BATCH_SIZE - len(self.new))
            self.new.add_batch(batch, start, end)
            start = end
            if len(self.new) >= BATCH_SIZE:
                self.add_new()

    def _note_time(self, found: datetime) -> None:
        self.earliest = found if self.earliest is None else min(self.earliest, found)
        self.latest = found if self.latest is None else max(self.latest, found)

    def _unreadable(self, path: str, error: UnreadableFile) -> None:
        self.stats["Unreadable files"] += 1
        self.job.logger.warning("Could not read %s (%s); it is left for the next sync.", path, error)

    def add_new(self) -> None:
        """Insert the waiting new files as captures, in one committed transaction."""
        self.check_cancelled()
        new, self.new = self.new, _NewFiles()
        times, unreadable = self.reader.times(new.paths, new.named)
        for index, error in unreadable.items():
            self._unreadable(new.paths[index], error)
            times[index] = None
        # Whole columns: a million files must not cost a Python step each beyond their name's time.
        moments = np.array(times, dtype="datetime64[us]")
        start = 0
        for folder, count in new.folders:
            self.backwards.add_moments(folder, moments[start : start + count])
            start += count
        timed = moments[~np.isnat(moments)]
        if len(timed):
            self._note_time(timed.min().item())
            self._note_time(timed.max().item())
        columns = NewCaptures(new.paths, new.sizes, times, new.modified)
        if unreadable:
            kept = [index for index in range(len(times)) if index not in unreadable]
            columns = NewCaptures(*([column[index] for index in kept] for column in columns))
        failed = columns.times.count(None)
        if failed:
            self.stats["Failed"] += failed
            for path, found in zip(columns.paths, columns.times):
                if found is None:
                    self.job.logger.warning("No capture time in the name or EXIF of %s; added without timestamp.", path)
        self.stats["Captures added"] += insert_capture_columns(self.deployment, columns)
        db.session.commit()

    def record_changed(self) -> None:
        """Record the waiting changed files' size and time, and their capture time where it changed,
        in one committed transaction; their thumbnails are marked stale (capture_rows.update_changed_captures)."""
        self.check_cancelled()
        batch, self.changed = self.changed, []
        times, unreadable = self.reader.times([entry.path for entry, _ in batch])
        rows = []
        for index, ((entry, known), text) in enumerate(zip(batch, times)):
            if index in unreadable:
                self._unreadable(entry.path, unreadable[index])
                continue
            found = as_time(text)
            row = {"capture_id": known[1], "size": entry.size, "last_modified": entry.modified}
            old = as_time(known[4])
            if found != old:
                row["timestamp"] = found
                self.stats["Times changed"] += 1
                self.stats["Failed"] += found is None
                # Both sessions are touched: the one it leaves and the one it joins.
                for moved in (old, found):
                    if moved is not None:
                        self._note_time(moved)
                if self.stats["Times changed"] <= MAX_TIME_LINES:
                    self.job.logger.info("The capture time of %s changed from %s to %s; the regroup places it again.",
                                         entry.path, old or "none", found or "none")
            rows.append(row)
            if len(self.changed_paths) < MAX_NAMED_FILES:
                self.changed_paths.append(entry.path)
        self.stats["Files changed"] += update_changed_captures(self.deployment, rows)
        db.session.commit()

    def take(self, kind: str, entry: FileEntry | None, known) -> None:
        """One result of the merge: queue a new or changed file (writing a full batch), count a vanished one."""
        if kind == NEW:
            self.new_count += 1
            self.new.add_entry(entry)
            if len(self.new) >= BATCH_SIZE:
                self.add_new()
        elif kind == CHANGED:
            self.changed.append((entry, known))
            if len(self.changed) >= BATCH_SIZE:
                self.record_changed()
        else:
            self.stats["Files missing from source"] += 1
            if len(self.vanished) < MAX_NAMED_FILES:
                self.vanished.append(known[0])

    def finish_batches(self) -> None:
        if self.changed:
            self.record_changed()
        if self.new:
            self.add_new()

    def report(self) -> None:
        log, stats = self.job.logger, self.stats
        log.info("Found %d files, %d of them new.", stats["Total files"], self.new_count)
        if stats["Files missing from source"]:
            log.warning("%d files are gone from the data source; their captures are kept: %s",
                        stats["Files missing from source"], _named(self.vanished, stats["Files missing from source"]))
        if stats["Files changed"]:
            log.info("%d files changed in place since they were captured; their size and time are updated "
                     "and their thumbnails will be made again: %s",
                     stats["Files changed"], _named(self.changed_paths, stats["Files changed"]))
        log.info("Added %d captures (%d without a capture time).", stats["Captures added"], stats["Failed"])
        if stats["Times changed"]:
            log.info("%d captures got a new capture time from their changed file%s.", stats["Times changed"],
                     f" (the first {MAX_TIME_LINES} are named above)" if stats["Times changed"] > MAX_TIME_LINES else "")
        if stats["Unreadable files"]:
            log.warning("%d files could not be read; the next sync tries them again.", stats["Unreadable files"])


def sync_deployment(deployment: Deployment, job: JobRecorder, since_last: bool = False) -> SyncResult:
    """Add the station's new files as captures and re-read its changed ones, committed per batch.

    The listing is compared with the capture rows a batch at a time, both in path order.
    A known file with another size or a newer modification time than its
    capture row is counted in "Files changed": its size and time are updated,
    its thumbnails made again on their next request, and its capture time read
    again; a new time is set on the same capture (counted in "Times changed",
    both times in the log) and the regroup stage places it. Never duplicates a
    capture; keeps the captures of files that vanished from the source (in the
    log and in "Files missing from source"); a file with no time in its name
    or EXIF becomes a capture without timestamp, counted in "Failed". A file
    that could not be read is counted in "Unreadable files", named in the log
    and not recorded, so the next sync tries it again. Looks for a cancel
    every CANCEL_CHECK_SECONDS while it lists and reads, and between batches.

    `since_last` is a quick sync: only paths after the newest night's last
    known path are listed (capture_rows.newest_night_start), so it neither
    re-reads changed files nor counts vanished ones.
    """
    log = job.logger
    job.set_stage(SYNC_STAGE, status="STARTED", progress=0.0)
    source = open_source(deployment)
    after = newest_night_start(deployment) if since_last else None
    shown = storage.display_path(deployment.project, deployment.data_source)
    if since_last:
        log.info("Quick sync of %s: listing only what sorts after %s", shown, after or "(nothing known: everything)")
    else:
        log.info("Listing %s", shown)
    run = _Run(deployment, job, source)
    known = KnownRows(deployment, after)
    listing = source.batches(after, BATCH_SIZE)
    try:
        for batch in listing:
            run.compare(batch, known)
        known.upto(None)
        for row in known.whole_range():
            run.take(VANISHED, None, row)
        run.finish_batches()
        job.check_cancelled()
    except BaseException as error:
        _keep_committed(run, error)
        raise
    finally:
        listing.close()
        known.close()
        run.reader.close()
    refresh_deployment_stats(deployment)
    db.session.commit()
    record_backwards(deployment, run.backwards)
    job.set_params(SYNC_STAGE, run.stats)
    job.set_stage(SYNC_STAGE, status="SUCCESS", progress=1.0)
    run.report()
    return SyncResult(stats=run.stats, earliest=run.earliest, latest=run.latest)


def _keep_committed(run: _Run, error: BaseException) -> None:
    """After a cancel or an error: roll back the batch being written, and say what committed batches keep."""
    db.session.rollback()
    done = run.stats["Captures added"] + run.stats["Files changed"]
    if done:
        run.job.logger.warning(
            "Sync %s after adding %d captures and updating %d changed files; they are kept and will be "
            "grouped by the next regroup.",
            "cancelled" if isinstance(error, JobCancelled) else "failed",
            run.stats["Captures added"], run.stats["Files changed"],
        )
        # The committed batches must show in the station's counts.
        refresh_deployment_stats(run.deployment)
        db.session.commit()
