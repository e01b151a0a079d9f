"""Defensive decoding: bytes from a stranger in, an 8-bit RGB or RGBA array out, or a typed refusal.

The order is the point. The magic bytes are checked against the allow-list before any decoder sees the
file; the byte cap before that; the pixel cap is checked on the size the header declares, before a
single pixel is decoded (Pillow's own bomb check stays on as a second guard, never the only one).
JPEGs are reduced while decoding (libjpeg's DCT scaling via `draft`) when the result is bounded, which
is most of the speed of a 12 MP photo. Anything a decoder raises on hostile bytes becomes
`CorruptImage`: nothing else leaves this module.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from photobot.processing.errors import (
    CorruptImage,
    ProcessingError,
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

    Raises UnsupportedFormat, TooLarge or CorruptImage, and nothing else.
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
    orientation = _orientation(image)
    if max_side is not None and image.format in ("JPEG", "MPO") and max(width, height) > max_side:
        scale = max_side / max(width, height)
        image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF/WEBP, multi-page TIFF: the first frame only
    # Pillow's default ImageFile.LOAD_TRUNCATED_IMAGES=False: a truncated file raises, never half-decodes.
    image.load()
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    pixels = _to_array(image)
    return Decoded(
        pixels=pixels,
        source_format=str(image.format or kind) if kind != "HEIF" else "HEIF",
        source_width=height if orientation in (5, 6, 7, 8) else width,
        source_height=width if orientation in (5, 6, 7, 8) else height,
    )


def _orientation(image: Image.Image) -> int:
    """EXIF orientation, 1 when absent or unreadable (a broken EXIF block does not spoil the photo)."""
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if isinstance(value, int) else 1
    except Exception:
        return 1


def _to_array(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to contiguous uint8 RGB, or RGBA when some pixel is not opaque."""
    mode = image.mode
    if mode.startswith("I") or mode == "F":
        gray = _deep_to_8bit(np.asarray(image))
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"))
        if rgba[:, :, 3].min() < 255:
            return np.ascontiguousarray(rgba)
        return np.ascontiguousarray(rgba[:, :, :3])
    if mode != "RGB":
        image = image.convert("RGB")
    pixels: np.ndarray = np.asarray(image)
    return pixels


def _deep_to_8bit(values: np.ndarray) -> np.ndarray:
    """16-bit, 32-bit integer and float greyscale scaled (not clipped) into 0..255."""
    if values.dtype.kind == "f":
        finite = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(finite.max()) if finite.size else 0.0
        scale = 255.0 if top <= 1.0 else 255.0 / top
        scaled: np.ndarray = np.clip(finite * scale, 0, 255).astype(np.uint8)
        return scaled
    wide = values.astype(np.int64)
    top = int(wide.max()) if wide.size else 0
    if top <= 255:
        return np.clip(wide, 0, 255).astype(np.uint8)
    return np.clip(wide // 257 if top <= 65535 else wide * 255 // top, 0, 255).astype(np.uint8)


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} MP"
