"""Captures: where a station's files may live, what time a file was taken, and
adding new files as captures without ever duplicating one."""
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(?P<prefix>[^\s]*))?$")


class DataSourceError(ValueError):
    """A data source that the server must not or cannot read."""


class UnreadableFile(Exception):
    """A file that could not be read to its end (an I/O or storage error, or a file
    still being written): it is not recorded, so the next sync reads it again."""


class FileEntry(NamedTuple):
    """One image file of a data source (a named tuple: a listing builds a million of them)."""
    path: str  # relative to the data source, with "/" separators
    size: int
    modified: datetime | None = None  # the file's modification time (UTC), where the source tells it


# Tried in order; each captures year, month, day, hour, minute, second.
_NAME_PATTERNS = (
    re.compile(r"(?=(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}))"),
    re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})[^\d](\d{2})(\d{2})(\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(\d{4})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})[^\d](\d{2})(?!\d)"),
)
# One scan that tells whether the first pattern (tried at every offset) can match at all.
_FOURTEEN_DIGITS = re.compile(r"\d{14}")
_SHORT_PATTERN = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?!\d)")


def _valid(parts) -> datetime | None:
    try:
        return datetime(*map(int, parts))
    except ValueError:
        return None


def timestamp_from_name(name: str) -> datetime | None:
    """The capture time written in a file name, or None.

    14 digits `YYYYMMDDhhmmss` anywhere in the name, or `YYYYMMDD<sep>hhmmss`,
    or `YYYY<s>MM<s>DD<sep>hh<s>mm<s>ss` with single non-digit separators, or
    12 digits `YYMMDDhhmmss`.
    """
    stem = name.rpartition("/")[2]
    for pattern in _NAME_PATTERNS if _FOURTEEN_DIGITS.search(stem) else _NAME_PATTERNS[1:]:
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
                _decode_to_end(image)
    except Image.DecompressionBombError:
        # Declared larger than THUMBNAIL_MAX_PIXELS allows: never decoded, so no time is read from it.
        return None
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


def _decode_to_end(image) -> None:
    """Decode an image only to learn that it is whole, at the least cost in memory.

    A JPEG decodes at 1/8 scale (the decoder still reads every byte); an image
    declared larger than Pillow's MAX_IMAGE_PIXELS is not decoded at all.
    """
    from PIL import Image

    if image.format == "JPEG":
        image.draft("RGB", (1, 1))
    elif Image.MAX_IMAGE_PIXELS and image.width * image.height > Image.MAX_IMAGE_PIXELS:
        return
    image.load()


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


# A modification time as naive UTC: the epoch plus its seconds costs a quarter of fromtimestamp + replace.
_EPOCH = datetime(1970, 1, 1)


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


def _folder_keys(folder: str) -> tuple[list[str], set[str]]:
    """A folder's image files and subfolders as sort keys (a subfolder keyed `name/`), and its symlinked
    files. Names only: a million DirEntry objects would cost several times the memory."""
    keys: list[str] = []
    links: set[str] = set()
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        keys.append(entry.name + "/")
                    elif is_image_name(entry.name):
                        keys.append(entry.name)
                        if entry.is_symlink():
                            links.add(entry.name)
                except OSError:
                    continue
    except OSError:
        return [], links
    keys.sort()
    return keys, links


def list_local_files(root: str, after: str | None = None) -> Iterator[FileEntry]:
    """Every image file under `root`, recursively, in the order of their relative paths as strings
    (code points: the byte order of SQLite's BINARY and PostgreSQL's "C" collation, too).

    One `os.scandir` per folder and one `stat` per image file; no Path object
    per file. A folder's names are sorted with subfolders keyed `name/`, so a
    depth-first walk yields paths in sorted order, holding one folder's names
    per level. With `after`, only paths sorting after it are yielded and
    folders wholly before it are not opened (a quick sync). Symlinked folders
    are not followed, and a symlinked file that points outside `root` is left out.
    """
    base = os.path.realpath(root)
    return _walk(base + os.sep, "", base, after)


def _walk(folder: str, rel: str, base: str, after: str | None) -> Iterator[FileEntry]:
    """The image files under `folder` (ending in a separator), whose path from the root starts with `rel`."""
    keys, links = _folder_keys(folder)
    epoch, delta, stat = _EPOCH, timedelta, os.stat
    for key in keys:
        path = rel + key
        if key[-1] == "/":
            if not _prunable(path, after):
                yield from _walk(folder + key, path, base, after)
            continue
        if after is not None and path <= after:
            continue
        full = folder + key
        try:
            if links and key in links and not _inside_root(full, base):
                continue
            found = stat(full)
        except OSError:
            continue
        yield FileEntry(path, found.st_size, epoch + delta(seconds=found.st_mtime))
