"""The EXIF capture time from the head of a JPEG or TIFF file, without decoding the image.

A sync of a station dated only by EXIF reads each new file's first block
(HEAD_BYTES, which holds a JPEG's APP1 segment in practice: the EXIF segment
is at most 64 KB and comes first) and looks for DateTimeOriginal (tag 0x9003
of the Exif IFD), else DateTime (0x0132 of IFD0), as Pillow's `getexif` does.
Anything this small parser cannot settle from the head (another format, an
EXIF block past the head, a file without a time) returns NOT_FOUND, and the
caller falls back to Pillow on the whole file, which also tells a file cut
short from one without a time.
"""
import struct
from datetime import datetime

HEAD_BYTES = 64 * 1024
NOT_FOUND = object()

_EXIF_IFD = 0x8769
_DATE_TIME_ORIGINAL = 0x9003
_DATE_TIME = 0x0132
_ASCII = 2
_TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}
# JPEG markers without a length field.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def exif_time_from_head(head: bytes):
    """The capture time in a file's first bytes: a datetime, None (a time field that is not a
    date), or NOT_FOUND when the head does not settle it."""
    if head[:4] in _TIFF_HEADERS:
        return _tiff_time(head)
    if head[:2] == b"\xff\xd8":
        tiff, whole = _jpeg_exif_block(head)
        # Headers that stop before the image data, in a file shorter than the head, are a file cut
        # short (still being written): Pillow, called on NOT_FOUND, says so.
        return NOT_FOUND if tiff is None or not whole else _tiff_time(tiff)
    return NOT_FOUND


def _jpeg_exif_block(head: bytes) -> tuple[bytes | None, bool]:
    """The TIFF block inside the JPEG's `Exif` APP1 segment (None if the head lacks it), and whether
    the head holds every segment up to the image data."""
    offset, tiff, size = 2, None, len(head)
    while offset + 4 <= size:
        if head[offset] != 0xFF:
            return tiff, False
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _STANDALONE:
            offset += 2
            continue
        if marker == 0xD9 or marker == 0xDA:  # end of image, start of scan: no metadata past here
            return tiff, True
        # A segment's length is big-endian and counts its own two bytes.
        end = offset + 2 + (head[offset + 2] << 8 | head[offset + 3])
        if tiff is None and marker == 0xE1 and head[offset + 4 : offset + 10] == b"Exif\x00\x00":
            if end > size:
                return None, False
            tiff = head[offset + 10 : end]
        offset = end
    return tiff, False


def _tiff_time(tiff: bytes):
    order = _TIFF_HEADERS.get(tiff[:4])
    if order is None or len(tiff) < 8:
        return NOT_FOUND
    (ifd0,) = struct.unpack_from(order + "I", tiff, 4)
    tags = _ifd_tags(tiff, order, ifd0, (_EXIF_IFD, _DATE_TIME))
    if tags is None:
        return NOT_FOUND
    if _EXIF_IFD in tags:
        pointer = tags[_EXIF_IFD]
        exif = _ifd_tags(tiff, order, pointer[1], (_DATE_TIME_ORIGINAL,)) if pointer[0] in (4, 13) else None
        if exif is None:
            return NOT_FOUND
        original = _ascii(tiff, order, exif.get(_DATE_TIME_ORIGINAL))
        if original is not NOT_FOUND and original:
            return _parse(original)
    value = _ascii(tiff, order, tags.get(_DATE_TIME))
    if value is NOT_FOUND or not value:
        return NOT_FOUND
    return _parse(value)


def _ifd_tags(tiff: bytes, order: str, offset: int, wanted: tuple) -> dict | None:
    """The wanted tags of one IFD: {tag: (type, count, value-or-offset field as int, field position)}."""
    if offset + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(order + "H", tiff, offset)
    if offset + 2 + 12 * count > len(tiff):
        return None
    found = {}
    for index in range(count):
        position = offset + 2 + 12 * index
        tag, kind, items, value = struct.unpack_from(order + "HHII", tiff, position)
        if tag in wanted:
            found[tag] = (kind, value, items, position + 8)
    return found


def _ascii(tiff: bytes, order: str, field) -> str | None:
    """An ASCII tag's text; NOT_FOUND if it lies past the head, None if absent or of another type."""
    if field is None:
        return None
    kind, value, items, position = field
    if kind != _ASCII:
        return None
    start = position if items <= 4 else value
    if start + items > len(tiff):
        return NOT_FOUND
    return tiff[start : start + items].decode("latin-1")


def _parse(text: str) -> datetime | None:
    """`YYYY:MM:DD hh:mm:ss` as Pillow's callers read it (strptime), with a fast path for the usual form."""
    text = text.strip("\x00 ")
    try:
        if len(text) == 19 and text[4] == text[7] == text[13] == text[16] == ":" and text[10] == " " and (
            text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:]
        ).isdigit():
            return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]),
                            int(text[11:13]), int(text[14:16]), int(text[17:]))
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
