"""Reading the capture times of a batch of files: from their names, else from their EXIF heads.

Files with a time in their name are never opened. The others are read in
chunks, and the results come back in the batch's order; a cancel is looked for
between chunks. An S3 source's heads are fetched by a pool of threads (a
ranged GET is mostly waiting). A local file's head comes from the page cache
or one disk read and its parse holds the GIL, so threads only add switching
(measured: 8 threads take 2.3× the time of one on this 2-core machine); local
heads are read in the worker's own thread.
"""
import io
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from .exif import HEAD_BYTES, NOT_FOUND, exif_time_from_head
from .file_facts import NO_TIME, name_times, time_text
from .files import UnreadableFile, timestamp_from_exif

# Threads for a remote store: the work is waiting; a few per core keep the store busy.
POOL_WORKERS = min(16, 4 * (os.cpu_count() or 1))
POOL_CHUNK = 32


def local_exif_time(folder: str) -> Callable[[str], datetime | None]:
    """A reader of the EXIF time of a file under `folder`: its first HEAD_BYTES, else Pillow on the whole file."""
    base = folder.rstrip(os.sep) + os.sep

    def exif_time(rel: str) -> datetime | None:
        path = base + rel
        try:
            with open(path, "rb", buffering=0) as file:
                head = file.read(HEAD_BYTES)
        except OSError as error:
            raise UnreadableFile(str(error)) from error
        found = exif_time_from_head(head)
        if found is not NOT_FOUND:
            return found
        # A head shorter than asked for is the whole file: decode it from memory rather than
        # open the file a second time (which, for a pipe, would wait for a writer forever).
        return timestamp_from_exif(io.BytesIO(head) if len(head) < HEAD_BYTES else path)

    return exif_time


def head_exif_time(head: bytes) -> datetime | None:
    """The EXIF time of a file of which only `head` was fetched (an S3 ranged GET)."""
    found = exif_time_from_head(head)
    return timestamp_from_exif(io.BytesIO(head), complete=False) if found is NOT_FOUND else found


def _read_chunk(exif_time: Callable[[str], datetime | None], paths: list[str]) -> list:
    results = []
    for path in paths:
        try:
            results.append(exif_time(path))
        except UnreadableFile as error:
            results.append(error)
    return results


def _settle(results: list, unreadable: dict, chunk: list[int], found: list) -> None:
    for index, value in zip(chunk, found):
        if isinstance(value, UnreadableFile):
            unreadable[index] = value
        else:
            results[index] = time_text(value)


class TimeReader:
    """Capture times of files, by name or by a pool reading EXIF heads; close() ends the pool."""

    def __init__(self, exif_time: Callable[[str], datetime | None], check_cancelled: Callable[[], None],
                 workers: int = POOL_WORKERS):
        self.exif_time = exif_time
        self.check_cancelled = check_cancelled
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def times(self, paths: list[str], named: list[str | None] | None = None) -> tuple[list, dict[int, UnreadableFile]]:
        """Each path's capture time as file_facts.time_text or None (no time), in the given order; and the
        files that could not be read (their time None), by index, with the error each raised.
        `named`, the times already read (file_facts.name_times, or a listing's helpers: NO_TIME for a
        file whose name and EXIF head were read and hold none), saves reading them again."""
        results: list = list(named) if named is not None else name_times(paths)
        unreadable: dict[int, UnreadableFile] = {}
        needed = [index for index, found in enumerate(results) if found is None]
        if needed:
            self._read(paths, results, unreadable, needed)
        if NO_TIME in results:
            results = [None if found == NO_TIME else found for found in results]
        return results, unreadable

    def _read(self, paths: list[str], results: list, unreadable: dict, needed: list[int]) -> None:
        """The EXIF times of the `needed` paths, into `results` (and `unreadable`)."""
        chunks = [needed[start : start + POOL_CHUNK] for start in range(0, len(needed), POOL_CHUNK)]
        if self.workers <= 1:
            for chunk in chunks:
                _settle(results, unreadable, chunk, _read_chunk(self.exif_time, [paths[i] for i in chunk]))
                self.check_cancelled()
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="exif")
        # At most one round of chunks in flight, so a cancel never waits for the whole batch.
        for start in range(0, len(chunks), self.workers):
            round_ = chunks[start : start + self.workers]
            futures = [self._pool.submit(_read_chunk, self.exif_time, [paths[i] for i in chunk]) for chunk in round_]
            for chunk, future in zip(round_, futures):
                _settle(results, unreadable, chunk, future.result())
            self.check_cancelled()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
