"""Captures: where a station's files may live, what time a file was taken, and
adding new files as captures without ever duplicating one."""
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
    """One image file of a data source."""
    path: str  # relative to the data source, with "/" separators
    size: int
    modified: datetime | None = None  # the file's modification time (UTC), where the source tells it


# Modification times are naive UTC; a batch holds them as microseconds since the epoch.
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime | None) -> int | None:
    """A naive UTC time as whole microseconds since the epoch."""
    return None if moment is None else (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int | None) -> datetime | None:
    """Whole microseconds since the epoch as a naive UTC time."""
    return None if micros is None else _EPOCH + micros * _MICROSECOND


# Files per listing batch: a sync compares, reads and writes a batch at a time, so this bounds its memory.
LISTING_BATCH = 5000


class FileBatch(NamedTuple):
    """A run of a listing's files in path order, as columns: a sync handles a batch at a time.

    `modified` holds each file's modification time in whole microseconds since
    the epoch (UTC; None where the source does not tell it); `folder` is the
    folder all the files are in, or None when they are in several.
    """
    paths: list[str]  # relative to the data source, with "/" separators
    names: list[str]  # the last part of each path
    sizes: list[int]
    modified: list[int | None]
    folder: str | None
    # The capture times, where the listing read them (stat_helper.py: names, else EXIF heads).
    times: list[str | None] | None = None

    def entries(self) -> Iterator[FileEntry]:
        for path, size, modified in zip(self.paths, self.sizes, self.modified):
            yield FileEntry(path, size, from_micros(modified))


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


def batch_of(entries: list[FileEntry]) -> FileBatch:
    """Files given one by one (sorted by path) as one batch."""
    paths = [entry.path for entry in entries]
    return FileBatch(paths, [path.rpartition("/")[2] for path in paths], [entry.size for entry in entries],
                     [to_micros(entry.modified) for entry in entries], None)
