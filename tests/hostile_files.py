"""Generators of files that cost far more to decode than their size suggests.

Each stays inside the byte and pixel caps, so only a budget of scans or of decoded memory can refuse
it. The tests use small sizes; bench/hostile.py the full ones (7000x7000, 49,999,999 rows).
"""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
from PIL import Image

# A marker outside entropy-coded data: 0xFF, then neither a stuffed 0x00 nor a restart marker.
_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")
SOS = 0xDA
EOI = 0xD9


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def scan_bomb(side: int = 7000, scans: int = 100_000) -> bytes:
    """A progressive JPEG of side x side whose last scan is repeated until it has `scans` scans.

    libjpeg decodes every scan over the whole image, so the time grows with scans x pixels while the
    file grows by some 80 bytes a scan.
    """
    plain = _save(Image.new("RGB", (side, side), (120, 90, 60)), "JPEG", progressive=True, quality=75)
    starts = [m.start() for m in _MARKER.finditer(plain, 2) if m.group(1)[0] == SOS]
    end = next(m.start() for m in _MARKER.finditer(plain, starts[-1] + 2) if m.group(1)[0] != SOS)
    last = plain[starts[-1] : end]
    return plain[:end] + last * (scans - len(starts)) + plain[end:]


def png_from_rows(width: int, height: int, row: bytes, colour_type: int, depth: int = 8) -> bytes:
    """A PNG of `height` identical rows, compressed as it is built (no image is held in memory)."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    compressor = zlib.compressobj(9)
    line = b"\x00" + row
    rows_per_piece = max(1, (1 << 20) // len(line))
    piece = line * rows_per_piece
    parts = []
    left = height
    while left:
        count = min(left, rows_per_piece)
        parts.append(compressor.compress(piece if count == rows_per_piece else line * count))
        left -= count
    parts.append(compressor.flush())
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tall_png(height: int = 49_999_999) -> bytes:
    """1 x `height` RGB: a few hundred KB of file, one row pointer and one pixel per row decoded."""
    return png_from_rows(1, height, b"\x80\x40\x20", colour_type=2)


def rgba_png(side: int = 7000) -> bytes:
    """side x side RGBA with a half-transparent alpha, so the alpha channel is kept."""
    return png_from_rows(side, side, b"\x80\x40\x20\x7f" * side, colour_type=6)


def sixteen_bit_png(side: int = 7000) -> bytes:
    """side x side 16-bit greyscale, a ramp across each row."""
    ramp = np.linspace(0, 65535, side).astype(">u2").tobytes()
    return png_from_rows(side, side, ramp, colour_type=0, depth=16)


def int32_tiff(side: int = 7000) -> bytes:
    """side x side 32-bit signed integer greyscale (Pillow mode I), deflated: some 300 KB of file."""
    values = np.zeros((side, side), dtype=np.int32)
    values[:, side // 2 :] = 1 << 30
    return _save(Image.fromarray(values, mode="I"), "TIFF", compression="tiff_adobe_deflate")


def float_tiff(side: int = 7000) -> bytes:
    """side x side 32-bit float greyscale (Pillow mode F), deflated."""
    values = np.zeros((side, side), dtype=np.float32)
    values[:, side // 2 :] = 0.75
    return _save(Image.fromarray(values, mode="F"), "TIFF", compression="tiff_adobe_deflate")
