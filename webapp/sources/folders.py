"""Browsing the folders a station may read, one level at a time, with their image counts.

The station form's data-source picker lists the storage sources granted to
the station's project (sources/storage.py), then the subfolders of whichever
folder is opened; an S3 source is offered whole, to be narrowed by typing. Each folder shows how many
image files it holds (recursively); counting stops after COUNT_BUDGET
directory entries, so a folder of a million files costs one bounded scan and
is shown as "at least N". Symlinks are never followed, so browsing never
leaves a base folder.
"""
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..models import Project
from .files import DataSourceError, is_image_name
from .storage import check_data_source, sources_for_project

COUNT_BUDGET = 20_000
MAX_FOLDERS_SHOWN = 200


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


def count_images(folder: Path, budget: int = COUNT_BUDGET) -> tuple[int, bool]:
    """Image files under `folder` (recursively, symlinks not followed); True if every entry was seen."""
    images, seen, stack = 0, 0, [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    seen += 1
                    if seen > budget:
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


def _subfolders(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            return sorted(
                (Path(e.path) for e in entries if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)),
                key=lambda p: p.name.lower(),
            )
    except OSError:
        return []


def _folder(path: Path, label: str) -> Folder:
    images, complete = count_images(path)
    return Folder(str(path), label, images, complete, bool(_subfolders(path)))


def _base_of(bases: list[Base], path: Path) -> Base | None:
    inside = [b for b in bases if path == b.path or b.path in path.parents]
    return max(inside, key=lambda b: len(b.path.parts), default=None)


def _label(base: Base, path: Path) -> str:
    rel = path.relative_to(base.path).as_posix()
    return base.label if rel == "." else f"{base.label}/{rel}"


def browse(bases: list[Base], value: str | None = None, remote: list[Folder] = ()) -> FolderListing:
    """The picker's listing of `value` (a folder inside one of `bases`), or of the bases (and `remote`) themselves.

    A folder outside every base, missing or unreadable is a DataSourceError
    whose message does not say which: the picker cannot probe other paths.
    """
    bases = [b for b in bases if b.path.is_dir()]
    if not value:
        return FolderListing(None, None, [_folder(b.path, b.label) for b in bases] + list(remote))
    if "\x00" in value or not os.path.isabs(value):
        raise DataSourceError("Not a folder you can choose.")
    path = Path(os.path.realpath(value))
    base = _base_of(bases, path)
    if base is None or not path.is_dir() or not os.access(path, os.R_OK | os.X_OK):
        raise DataSourceError("Not a folder you can choose.")
    children = _subfolders(path)
    parent = None if path == base.path else str(path.parent)
    return FolderListing(
        _folder(path, _label(base, path)),
        parent,
        [_folder(child, _label(base, child)) for child in children[:MAX_FOLDERS_SHOWN]],
        truncated=len(children) > MAX_FOLDERS_SHOWN,
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
