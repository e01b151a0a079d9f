"""Defensive decoding: bytes from a stranger in, an 8-bit RGB or RGBA array out, or a typed refusal.

The order is the point. The magic bytes are checked against the allow-list before any decoder sees the
file; the byte cap before that; the pixel cap is checked on the size the header declares, before a
single pixel is decoded (Pillow's own bomb check stays on as a second guard, never the only one);
then a JPEG's scans are counted and the memory the decode will take is reckoned from the headers
(`photobot.processing.cost`), so a scan bomb or a small file of huge decoded size is refused unread.
Conversion and reduction go strip by strip, never through a whole-image wide copy.
JPEGs are reduced while decoding (libjpeg's DCT scaling via `draft`) when the result is bounded, which
is most of the speed of a 12 MP photo. Anything a decoder raises on hostile bytes becomes
`CorruptImage`: nothing else leaves this module.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from photobot.processing.cost import count_jpeg_scans, decode_bytes, working_bytes
from photobot.processing.errors import (
    CorruptImage,
    ProcessingError,
    TooComplex,
    TooLarge,
    UnsupportedFormat,
)
from photobot.processing.limits import Limits

# Pillow's names of the formats we accept (its JPEG opener also yields MPO, as many phones write).
ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ORIENTATION_TAG = 0x0112
_STRIP_PIXELS = 1 << 20  # pixels converted at a time: 4 MB of float32 at most


@dataclass(frozen=True)
class Decoded:
    """Pixels (H x W x 3 RGB or H x W x 4 RGBA, uint8, upright) and what the file said of itself."""

    pixels: np.ndarray
    source_format: str
    source_width: int
    source_height: int

    @property
    def has_alpha(self) -> bool:
        return bool(self.pixels.ndim == 3 and self.pixels.shape[2] == 4)


_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def sniff_format(data: bytes) -> str | None:
    """The format the magic bytes announce, if it is one we accept; None otherwise."""
    head = data[:16]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS and heif_available():
        return "HEIF"
    return None


def heif_available() -> bool:
    """HEIC/HEIF needs the optional pillow-heif; without it such files are refused as unsupported."""
    try:
        import pillow_heif  # noqa: F401
    except ImportError:
        return False
    return True


def decode_image(data: bytes, limits: Limits, max_side: int | None = None) -> Decoded:
    """Decode `data` under `limits`; with `max_side`, JPEGs decode at the smallest scale >= max_side.

    Raises UnsupportedFormat, TooLarge, TooComplex or CorruptImage, and nothing else.
    """
    if len(data) > limits.max_bytes:
        raise TooLarge(what=_megabytes(len(data)), limit=_megabytes(limits.max_bytes))
    if not data:
        raise CorruptImage("empty file")
    kind = sniff_format(data)
    if kind is None:
        raise UnsupportedFormat("magic bytes of no accepted format")
    try:
        return _decode(data, kind, limits, max_side)
    except ProcessingError:
        raise
    except MemoryError:
        raise TooLarge("out of memory", what="?", limit=_megapixels(limits.max_pixels)) from None
    except Image.DecompressionBombError as error:
        # Pillow's second guard fired inside open(), before we saw the size: take it from its message.
        found = re.search(r"\((\d+) pixels\)", str(error))
        what = _megapixels(int(found.group(1))) if found else "?"
        raise TooLarge("decompression bomb", what=what, limit=_megapixels(limits.max_pixels)) from None
    except Exception as error:
        # Decoders raise OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, ...
        # on hostile bytes; all of them mean the same thing to the sender.
        raise CorruptImage(f"{kind}: {type(error).__name__}: {error}"[:300]) from None


def _decode(data: bytes, kind: str, limits: Limits, max_side: int | None) -> Decoded:
    formats = ["HEIF"] if kind == "HEIF" else list(ALLOWED_FORMATS)
    if kind == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    with warnings.catch_warnings():
        # Our own pixel cap below governs; Pillow's warning band is not an error here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image: Image.Image = Image.open(io.BytesIO(data), formats=formats)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise CorruptImage(f"declared size {width}x{height}")
    if width * height > limits.max_pixels:
        raise TooLarge(
            f"declared {width}x{height}",
            what=f"{width}×{height} px",
            limit=_megapixels(limits.max_pixels),
        )
    if image.format in ("JPEG", "MPO"):
        scans = count_jpeg_scans(data, limits.max_jpeg_scans)
        if scans > limits.max_jpeg_scans:
            raise TooComplex(f"over {limits.max_jpeg_scans} JPEG scans", limit=limits.max_jpeg_scans)
    if max_side is not None and image.format in ("JPEG", "MPO") and max(width, height) > max_side:
        scale = max_side / max(width, height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    _check_memory(image, (width, height), limits, max_side)
    # An animated GIF/WEBP or a multi-page TIFF opens on its first frame, which is all we decode
    # (asking for n_frames would walk every frame of the file).
    # Pillow's default ImageFile.LOAD_TRUNCATED_IMAGES=False: a truncated file raises, never half-decodes.
    image.load()
    orientation = _orientation(image)  # after load: a PNG's EXIF may follow its pixels
    source_format = str(image.format or kind) if kind != "HEIF" else "HEIF"
    pixels = _to_array(image, max_side)
    del image  # the full-size decode goes before the operation's arrays are made
    if orientation in _TRANSPOSE:
        # Turned after the reduction: a small array, not a second full-size image.
        pixels = np.asarray(Image.fromarray(pixels).transpose(_TRANSPOSE[orientation]))
    return Decoded(
        pixels=pixels,
        source_format=source_format,
        source_width=height if orientation in (5, 6, 7, 8) else width,
        source_height=width if orientation in (5, 6, 7, 8) else height,
    )


def _check_memory(
    image: Image.Image, full_size: tuple[int, int], limits: Limits, max_side: int | None
) -> None:
    """Refuse, before decoding, an image whose decode and operation would pass the memory budget."""
    width, height = image.size
    result_pixels = width * height
    if max_side is not None and max(width, height) > max_side:
        scale = max_side / max(width, height)
        result_pixels = math.ceil(width * scale) * math.ceil(height * scale)
    need = decode_bytes(image, full_size) + working_bytes(result_pixels)
    if need > limits.max_image_memory:
        raise TooLarge(
            f"needs {need} bytes decoded",
            what=f"{_megabytes(need)} decoded",
            limit=_megabytes(limits.max_image_memory),
        )


def _orientation(image: Image.Image) -> int:
    """EXIF orientation, 1 when absent or unreadable (a broken EXIF block does not spoil the photo)."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:
        return 1


def _to_array(image: Image.Image, max_side: int | None) -> np.ndarray:
    """Any Pillow mode to contiguous uint8 RGB, or RGBA when some pixel is not opaque.

    The work goes strip by strip, each strip converted and box-reduced by a whole factor towards
    `max_side`, so no full-size copy of the image is ever made besides Pillow's own: a 16-bit or
    float image costs its decode and a strip, not the int64 and float arrays of the whole.
    """
    width, height = image.size
    factor = max(1, max(width, height) // max_side) if max_side else 1
    rows = factor * max(1, _STRIP_PIXELS // (width * factor))

    def strips() -> Iterator[Image.Image]:
        """Cropped one at a time: a list of them would be a second copy of the whole image."""
        for top in range(0, height, rows):
            yield image.crop((0, top, width, min(height, top + rows)))

    mode = image.mode
    if mode.startswith("I") or mode == "F":
        scale = _deep_scale(strips())
        gray = np.concatenate([_reduce(_deep_strip(strip, scale), factor) for strip in strips()])
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    target = "RGBA" if has_alpha else "RGB"
    if factor == 1 and mode == target == "RGB":
        return np.asarray(image)  # nothing to convert or reduce: one copy, as strips would make
    opaque = True
    parts = []
    for strip in strips():
        converted = strip if strip.mode == target else strip.convert(target)
        if has_alpha and opaque:
            opaque = bool(np.asarray(converted.getchannel("A")).min() == 255)
        parts.append(_reduce(converted, factor))
    pixels = np.concatenate(parts)
    if has_alpha and opaque:
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(pixels)


def _reduce(strip: Image.Image, factor: int) -> np.ndarray:
    return np.asarray(strip.reduce(factor) if factor > 1 else strip)


def _deep_scale(strips: Iterable[Image.Image]) -> tuple[float, float]:
    """(divisor, multiplier) that bring 16-bit, 32-bit integer or float values into 0..255.

    Floats up to 1.0 are taken as 0..1; larger ones and 32-bit integers scale by the image's
    maximum; 16-bit values divide by 257; values that fit a byte stay as they are.
    """
    top = 0.0
    is_float = False
    for strip in strips:
        values = np.asarray(strip)
        is_float = values.dtype.kind == "f"
        if values.size:
            finite = values[np.isfinite(values)] if is_float else values
            if finite.size:
                top = max(top, float(finite.max()))
    if is_float:
        return (1.0, 255.0) if top <= 1.0 else (1.0, 255.0 / top)
    if top <= 255:
        return (1.0, 1.0)
    return (257.0, 1.0) if top <= 65535 else (1.0, 255.0 / top)


def _deep_strip(strip: Image.Image, scale: tuple[float, float]) -> Image.Image:
    divisor, multiplier = scale
    values = np.asarray(strip).astype(np.float32)
    np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    if divisor != 1.0:
        np.floor_divide(values, divisor, out=values)
    if multiplier != 1.0:
        np.multiply(values, multiplier, out=values)
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} MP"
