"""Encoding results: JPEG for photos, PNG when transparency must survive, never any metadata.

Pillow writes EXIF, XMP or ICC only when asked; we never ask, so no GPS or camera data leaves with a
result (the tests check this on a photo that carries GPS).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class EncodedImage:
    """One result file: its bytes, MIME type, size in pixels and file extension (".jpg" or ".png")."""

    data: bytes
    mime: str
    width: int
    height: int
    extension: str


def encode(pixels: np.ndarray, jpeg_quality: int) -> EncodedImage:
    """RGBA becomes PNG; RGB and greyscale become JPEG at `jpeg_quality`."""
    height, width = pixels.shape[:2]
    buffer = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if image.mode == "RGBA":
        image.save(buffer, "PNG", compress_level=3)
        return EncodedImage(buffer.getvalue(), "image/png", width, height, ".png")
    image.save(buffer, "JPEG", quality=jpeg_quality)
    return EncodedImage(buffer.getvalue(), "image/jpeg", width, height, ".jpg")
