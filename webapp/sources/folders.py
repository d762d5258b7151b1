"""Browsing the folders a station may read, one level at a time, with their image counts.

The station form's data-source picker lists the storage sources granted to
the station's project (sources/storage.py), then the subfolders of whichever
folder is opened; an S3 source is offered whole, to be narrowed by typing. Each folder shows how many
image files it holds (recursively); counting stops after COUNT_BUDGET
directory entries, so a folder of a million files costs one bounded scan and
is shown as "at least N". One request reads at most REQUEST_ENTRIES
directory entries and spends at most REQUEST_SECONDS, however many folders it
shows or how wide they are: past that, folders are shown uncounted and the
picker says there is more. Symlinks are never followed, so browsing never
leaves a base folder.
"""
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..models import Project
from .files import DataSourceError, is_image_name
from .storage import check_data_source, sources_for_project

COUNT_BUDGET = 20_000
MAX_FOLDERS_SHOWN = 200
REQUEST_ENTRIES = 200_000
REQUEST_SECONDS = 2.0


@dataclass
class ScanBudget:
    """What one picker request may still read: directory entries and time."""
    entries: int = field(default_factory=lambda: REQUEST_ENTRIES)
    deadline: float = field(default_factory=lambda: time.monotonic() + REQUEST_SECONDS)

    def take(self) -> bool:
        """Spend one entry; False once the entries or the time are used up."""
        self.entries -= 1
        return self.entries >= 0 and (self.entries % 256 or time.monotonic() < self.deadline)

    @property
    def spent(self) -> bool:
        return self.entries < 0 or time.monotonic() >= self.deadline


@dataclass(frozen=True)
class Base:
    """A folder under which stations may read, with the name people know it by."""
    label: str
    path: Path


@dataclass(frozen=True)
class Folder:
    """One folder offered by the picker: `value` goes into the form's data_source field.

    A remote (S3) source is not listed nor counted: `images` is None.
    """
    value: str
    label: str
    images: int | None
    counted_all: bool
    has_subfolders: bool


@dataclass
class FolderListing:
    """One level of the picker: the opened folder (None = the base folders) and what it holds."""
    current: Folder | None
    parent: str | None  # the value to open to go up one level; None = the base folders
    folders: list[Folder] = field(default_factory=list)
    truncated: bool = False


def count_images(folder: Path, budget: int = COUNT_BUDGET, scan: ScanBudget | None = None) -> tuple[int, bool]:
    """Image files under `folder` (recursively, symlinks not followed); True if every entry was seen
    within `budget` entries and the request's `scan` budget."""
    scan = scan or ScanBudget()
    images, seen, stack = 0, 0, [folder]
    while stack:
        if scan.spent:
            return images, False
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > budget or not scan.take():
                        return images, False
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False) and is_image_name(entry.name):
                            images += 1
                    except OSError:
                        continue
        except OSError:
            continue
    return images, True


def _subfolders(folder: Path, scan: ScanBudget, first_only: bool = False) -> tuple[list[Path], bool]:
    """The folder's visible subfolders, sorted by name, and whether every entry was read within `scan`.
    With `first_only`, stops at the first subfolder (enough to know there is one)."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not scan.take():
                    return sorted(found, key=lambda p: p.name.lower()), False
                try:
                    if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                        found.append(Path(entry.path))
                        if first_only:
                            break
                except OSError:
                    continue
    except OSError:
        return [], True
    return sorted(found, key=lambda p: p.name.lower()), True


def _folder(path: Path, base: Base, scan: ScanBudget) -> Folder:
    label, value = _label(base, path), _value(base, path)
    if scan.spent:
        return Folder(value, label, 0, False, True)
    images, complete = count_images(path, scan=scan)
    children, read = _subfolders(path, scan, first_only=True)
    return Folder(value, label, images, complete, bool(children) or not read)


def _base_of(bases: list[Base], path: Path) -> Base | None:
    inside = [b for b in bases if path == b.path or b.path in path.parents]
    return max(inside, key=lambda b: len(b.path.parts), default=None)


def _label(base: Base, path: Path) -> str:
    rel = path.relative_to(base.path).as_posix()
    return base.label if rel == "." else f"{base.label}/{rel}"


def _value(base: Base, path: Path) -> str:
    """What the form's data_source receives: `<source name>:<path inside it>`, never the server's path."""
    rel = path.relative_to(base.path).as_posix()
    return f"{base.label}:{'' if rel == '.' else rel}"


def _named_path(bases: list[Base], value: str) -> str | None:
    for base in sorted(bases, key=lambda b: len(b.label), reverse=True):
        if value.startswith(base.label + ":"):
            inside = value[len(base.label) + 1:].strip().strip("/")
            return str(base.path / inside) if inside else str(base.path)
    return None


def browse(bases: list[Base], value: str | None = None, remote: list[Folder] = ()) -> FolderListing:
    """The picker's listing of `value` (a folder inside one of `bases`, as `<base label>:<path inside>` or a
    server path), or of the bases (and `remote`) themselves.

    A folder outside every base, missing or unreadable is a DataSourceError
    whose message does not say which: the picker cannot probe other paths.
    """
    bases = [b for b in bases if b.path.is_dir()]
    scan = ScanBudget()
    if not value:
        return FolderListing(None, None, [_folder(b.path, b, scan) for b in bases] + list(remote))
    if "\x00" in value:
        raise DataSourceError("Not a folder you can choose.")
    if not os.path.isabs(value):
        value = _named_path(bases, value)
        if value is None:
            raise DataSourceError("Not a folder you can choose.")
    path = Path(os.path.realpath(value))
    base = _base_of(bases, path)
    if base is None or not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        raise DataSourceError("Not a folder you can choose.")
    children, read_all = _subfolders(path, scan)
    # The subfolders are what a person chooses among: they are counted first, the whole folder last.
    shown = [_folder(child, base, scan) for child in children[:MAX_FOLDERS_SHOWN]]
    parent = None if path == base.path else _value(base, path.parent)
    return FolderListing(
        _folder(path, base, scan),
        parent,
        shown,
        truncated=len(children) > MAX_FOLDERS_SHOWN or not read_all,
    )


def sources_of(project: Project) -> tuple[list[Base], list[Folder]]:
    """The project's usable storage sources: local ones as base folders, S3 ones as remote entries.

    A local source is a base only while the project may still read it
    (check_data_source: under DATA_SOURCE_ROOTS, existing, readable).
    """
    local, remote = [], []
    for source in sources_for_project(project):
        if source.is_s3:
            remote.append(Folder(source.location, source.name, None, False, False))
            continue
        try:
            path = check_data_source(project, source.location)
        except DataSourceError:
            continue
        local.append(Base(source.name, Path(path)))
    return local, remote
