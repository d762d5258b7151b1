"""Listing a local data source: its image files in path order, in batches, with their sizes and times.

The walk reads each folder's names with one `os.scandir` and sorts them, in
this process. The `stat` of every file (one system call each: most of a
listing's time) is taken here for a short listing; past HELPERS_AFTER files it
is shared out to helper processes (stat_helper.py; as many as the
SYNC_STAT_HELPERS setting says), each a batch or two ahead, so the stats of the next
batches are taken while the sync compares and writes the one before. On a
station's first sync the helpers also read the capture times, from the names
or else from the files' EXIF heads. Threads would not do: a `stat` or an SQLite row releases the
interpreter's lock for so short a time that two threads hand it back and forth
slower than one runs alone (measured: docs/performance.md).
"""
import os
import subprocess
import sys
from bisect import bisect_left, bisect_right
from collections import deque
from itertools import chain
from typing import Iterable, Iterator

from . import messages
from .file_facts import stat_files
from .files import LISTING_BATCH, FileBatch, is_image_name

# A listing longer than this many files shares its stats out to helper processes (a shorter one is
# done before they would have started).
HELPERS_AFTER = 1000
_HELPER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stat_helper.py")

# A run: a folder (ending in a separator), its path from the root, and some of its file names in order.
Run = tuple[str, str, list[str]]


def list_local_batches(root: str, after: str | None = None, limit: int = LISTING_BATCH,
                       with_times: bool = False, helpers: int = 0) -> Iterator[FileBatch]:
    """Every image file under `root`, recursively, in batches of at most `limit` files of one folder,
    in the order of their relative paths as strings (code points: the byte order of SQLite's BINARY
    and PostgreSQL's "C" collation, too).

    One `os.scandir` per folder and one `stat` per image file; no Path object
    per file. A folder's files and subfolders (keyed `name/`) are sorted, so
    a depth-first walk yields paths in sorted order, holding one folder's names
    per level. With `after`, only paths sorting after it are yielded and
    folders wholly before it are not opened (a quick sync). Symlinked folders
    are not followed, and a symlinked file that points outside `root` is left
    out; a file gone between the folder's read and its `stat` is left out too.
    Past HELPERS_AFTER files the stats are taken by `helpers` processes (0:
    none). With `with_times`, the batches they read carry their files' capture
    times (FileBatch.times: stat_helper.py).
    """
    base = os.path.realpath(root)
    return _stat_runs(_runs(base + os.sep, "", base, after, limit), with_times, helpers)


def _inside_root(path: str, base: str) -> bool:
    """Whether a symlinked file resolves to a file under `base` (a sync never reads beyond its folder)."""
    try:
        real = os.path.realpath(path, strict=True)
    except (OSError, RuntimeError):
        return False
    return real.startswith(base + os.sep)


def _prunable(rel_dir: str, after: str | None) -> bool:
    """Whether every path under the folder `rel_dir/` sorts at or before `after`, so it need not be opened."""
    return after is not None and rel_dir < after and not after.startswith(rel_dir)


def _folder_entries(folder: str) -> tuple[list[str], list[str], set[str]]:
    """A folder's image file names and its subfolders keyed `name/`, each sorted, and its symlinked
    files. Names only: a million DirEntry objects would cost several times the memory."""
    files: list[str] = []
    folders: list[str] = []
    links: set[str] = set()
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                name = entry.name
                try:
                    # The type comes with the name, except on file systems that make is_dir stat the entry.
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(name + "/")
                    elif is_image_name(name):
                        files.append(name)
                        if entry.is_symlink():
                            links.add(name)
                except OSError:
                    continue
    except OSError:
        return [], [], links
    files.sort()
    folders.sort()
    return files, folders, links


def _first_after(names: list[str], rel: str, after: str | None) -> int:
    """The index of the first of a folder's sorted names whose path (`rel` + name) sorts after `after`."""
    if after is None:
        return 0
    if after.startswith(rel):
        return bisect_right(names, after[len(rel):])
    return 0 if rel > after else len(names)


def _runs(folder: str, rel: str, base: str, after: str | None, limit: int) -> Iterator[Run]:
    """The runs of at most `limit` files under `folder` (ending in a separator), whose path from the
    root starts with `rel`, in path order."""
    files, folders, links = _folder_entries(folder)
    start = _first_after(files, rel, after)
    for sub in [*folders, None]:
        # The files that sort before the subfolder `sub` (all that remain after the last one).
        end = len(files) if sub is None else max(start, bisect_left(files, sub, start))
        for first in range(start, end, limit):
            names = files[first : min(end, first + limit)]
            if links:
                names = [name for name in names if name not in links or _inside_root(folder + name, base)]
            if names:
                yield folder, rel, names
        start = end
        if sub is not None and not _prunable(rel + sub, after):
            yield from _runs(folder + sub, rel + sub, base, after, limit)


def _batch(run: Run, sizes: list[int], modified: list[int | None], times: list[str | None] | None) -> FileBatch:
    _, rel, names = run
    if -1 in sizes:
        kept = [index for index, size in enumerate(sizes) if size != -1]
        names, sizes, modified = ([column[i] for i in kept] for column in (names, sizes, modified))
        times = None if times is None else [times[i] for i in kept]
    return FileBatch([rel + name for name in names], names, sizes, modified, rel[:-1], times)


def _stat_here(run: Run) -> FileBatch:
    return _batch(run, *stat_files(run[0], run[2]), None)


def _stat_runs(runs: Iterator[Run], with_times: bool, helpers: int) -> Iterator[FileBatch]:
    listed = 0
    for run in runs:
        listed += len(run[2])
        if helpers and listed > HELPERS_AFTER:
            started = StatHelpers.start(helpers)
            if started is not None:
                with started:
                    yield from started.batches(chain([run], runs), with_times)
                return
            helpers = 0
        yield _stat_here(run)


# Room for two runs (names) or two answers (sizes, times) of a batch of LISTING_BATCH files.
_PIPE_BYTES = 1 << 20


def _widen_pipe(pipe) -> bool:
    """Whether the pipe now holds _PIPE_BYTES (Linux's F_SETPIPE_SZ; elsewhere, a pipe keeps its size)."""
    import fcntl

    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is None:
        return False
    try:
        return fcntl.fcntl(pipe.fileno(), setting, _PIPE_BYTES) >= _PIPE_BYTES
    except OSError:
        return False


class HelperLost(Exception):
    """A stat helper ended or broke its pipe before it answered."""


class StatHelpers:
    """Processes running stat_helper.py, each given one run at a time, their answers read in the order
    the runs were given. A helper lost on the way leaves the rest of the listing to this process."""

    def __init__(self, processes: list[subprocess.Popen]):
        self.processes = processes
        # Two runs each keep a helper busy while its last answer waits to be read; both runs and both
        # answers must then fit in the pipes, or helper and listing could each wait for the other.
        self.ahead = 2 if all(_widen_pipe(p.stdin) and _widen_pipe(p.stdout) for p in processes) else 1

    @classmethod
    def start(cls, count: int) -> "StatHelpers | None":
        """`count` helpers, or None if they cannot be started (the listing then stays in this process)."""
        processes = []
        try:
            for _ in range(count):
                processes.append(subprocess.Popen(
                    [sys.executable, "-E", "-s", "-S", _HELPER_SCRIPT],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                ))
        except OSError:
            cls(processes).close()
            return None
        return cls(processes)

    def batches(self, runs: Iterable[Run], with_times: bool) -> Iterator[FileBatch]:
        """The runs' batches, each helper given up to `ahead` runs before the one being handed on."""
        runs = iter(runs)
        # Runs given to a helper and not yet handed on, oldest first; a run is put here before it is sent.
        pending: deque = deque()
        try:
            for _ in range(self.ahead):
                for process in self.processes:
                    run = next(runs, None)
                    if run is None:
                        break
                    pending.append((process, run))
                    self._send(process, run, with_times)
            while pending:
                process, run = pending[0]
                answer = self._receive(process)
                pending.popleft()
                following = next(runs, None)
                if following is not None:
                    pending.append((process, following))
                    self._send(process, following, with_times)
                yield _batch(run, *answer)
        except HelperLost:
            self.close()
            yield from map(_stat_here, [run for _, run in pending])
            yield from map(_stat_here, runs)

    @staticmethod
    def _send(process: subprocess.Popen, run: Run, with_times: bool) -> None:
        try:
            messages.send(process.stdin, (run[0], run[2], with_times))
        except (OSError, ValueError) as error:
            raise HelperLost(str(error)) from error

    @staticmethod
    def _receive(process: subprocess.Popen) -> tuple:
        try:
            return messages.receive(process.stdout)
        except (EOFError, OSError, ValueError, TypeError) as error:
            raise HelperLost(str(error)) from error

    def close(self) -> None:
        """End the helpers: their input closed, they end at once; one that does not is killed."""
        for process in self.processes:
            try:
                process.stdin.close()
            except OSError:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
        self.processes = []

    def __enter__(self) -> "StatHelpers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
