"""Making one thumbnail's pixels: a reduced-scale decode, a mode every JPEG can hold, and the encode.

Pure image work: no database, no storage. `Image.thumbnail` with a
`reducing_gap` lets the JPEG decoder scale down while it decodes.
"""
import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

JPEG_QUALITY = 82


# The decoder scales down (by 1/2, 1/4 or 1/8, in the DCT domain) to no less
# than this many times the target size, then a bicubic resize does the rest.
# 1.0 lets a 9000 px original decode at 1/8 for `medium` (1024) as well as for
# `small`: 15 % less CPU than Pillow's default of 2.0 (1/4 scale) for medium,
# at 45.3 dB PSNR against a full decode + LANCZOS (2.0: 46.9 dB). Measured in
# docs/performance.md.
REDUCING_GAP = 1.0


_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class ImageTooLarge(ValueError):
    """An original whose header declares more pixels than may be decoded: it is never decoded."""


def check_size(width: int, height: int, max_pixels: int | None) -> None:
    """Raise ImageTooLarge when a `width` × `height` image exceeds `max_pixels` (None: no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width} × {height} px ({width * height / 1e6:.0f} MP), over the "
            f"{max_pixels / 1e6:.0f} MP this server decodes (THUMBNAIL_MAX_PIXELS)"
        )


@dataclass(frozen=True)
class Rendered:
    """An encoded thumbnail and its pixel size."""
    data: bytes
    width: int
    height: int


def make_thumbnail(source: str | Path | BinaryIO, width: int, max_pixels: int | None = None) -> Rendered:
    """Encode an image at `width` pixels wide (never wider than the original) as RGB JPEG.

    The header's size is checked against `max_pixels` before any pixel is
    decoded (ImageTooLarge). JPEGs are decoded at the smallest DCT scale that
    keeps REDUCING_GAP × the target size; palette, alpha and 16-bit sources
    become RGB (alpha over white). Output: progressive, optimized, quality 82.
    """
    from PIL import Image, ImageOps

    try:
        opened = Image.open(source)
    except Image.DecompressionBombError as error:
        # Pillow's own check at open, at twice its MAX_IMAGE_PIXELS (set from THUMBNAIL_MAX_PIXELS).
        raise ImageTooLarge(f"the image is over the size this server decodes ({error})") from None
    with opened as image:
        source_width, source_height = image.size
        check_size(source_width, source_height, max_pixels)
        target_width = min(width, source_width)
        target = (target_width, max(1, round(source_height * target_width / source_width)))
        if image.format == "JPEG":
            image.draft("RGB", (int(target[0] * REDUCING_GAP), int(target[1] * REDUCING_GAP)))
        image = _prepare_mode(image)
        if image.size != target:
            # Sized from the original's aspect, not the drafted one (whose rounding
            # made `thumbnail()` answer 239 px for 240).
            image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=REDUCING_GAP)
        image = ImageOps.exif_transpose(image)
        image = _as_rgb(image)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        return Rendered(buffer.getvalue(), image.width, image.height)


def _prepare_mode(image):
    """Modes a filtered resize handles badly become 8-bit ones first."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # 16-bit grey (microscope and scientific TIFFs): scale 0–65535 to 0–255 instead of clipping.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA")
    return image


def _as_rgb(image):
    if image.mode == "RGB":
        return image
    if image.mode in _ALPHA_MODES:
        from PIL import Image

        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")

