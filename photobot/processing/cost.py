"""What decoding an image will cost, read from its headers before a pixel is decoded.

A file's size says little: a 300 KB TIFF can decode to 200 MB, and a 7 MB JPEG of 100,000 scans
keeps a process busy for minutes, each scan being a pass over the whole image. The decoder refuses
what would cost more than the budget, so the cost is known rather than found out by the machine.
"""

from __future__ import annotations

import math
import re

from PIL import Image, ImageMode

# A marker outside entropy-coded data: 0xFF (fill bytes allowed), then neither a stuffed 0x00 nor a
# restart marker (RST0..RST7), which both occur inside a scan's data.
_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")
_SOS, _EOI = 0xDA, 0xD9
_STANDALONE = frozenset({0x01, 0xD8})  # TEM and SOI carry no length
_POINTER_BYTES = 8  # Pillow keeps one pointer per row
_WORKING_COPIES = 6  # the operation and the encoder hold a few arrays of the result's size


def count_jpeg_scans(data: bytes, stop_after: int) -> int:
    """Start-of-scan markers of the first image in a JPEG (up to its EOI); stops past `stop_after`.

    Entropy-coded data never holds 0xFF 0xDA (a 0xFF there is followed by 0x00 or a restart), so
    the bytes' count bounds the scans, and a file within the limit by that count is not walked.
    Past it, segments are skipped by their length, so bytes inside an APPn (an EXIF thumbnail is a
    JPEG too) are not read as markers; inside a scan's data the regex skips stuffed bytes and
    restarts. So a result within `stop_after` may overcount; one past it is the walk's own.
    A malformed file ends the count early and is left to the decoder to refuse.
    """
    upper = data.count(b"\xff\xda")  # every SOS, and any such bytes inside segments: a bound
    if upper <= stop_after:
        return upper
    count, position, size = 0, 2, len(data)
    while position < size:
        found = _MARKER.search(data, position)
        if found is None:
            break
        marker, position = found.group(1)[0], found.end()
        if marker == _EOI:
            break
        if marker in _STANDALONE:
            continue
        if marker == _SOS:
            count += 1
            if count > stop_after:
                break
        length = int.from_bytes(data[position : position + 2], "big")
        if length < 2:
            break
        position += length
    return count


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow stores per pixel of `mode`: 1 (L, P, 1), 2 (I;16), 4 (every multi-band mode, I, F)."""
    described = ImageMode.getmode(mode)
    if len(described.bands) > 1:
        return 4
    return max(1, int(described.typestr[-1]))


def decode_bytes(image: Image.Image, full_size: tuple[int, int]) -> int:
    """Memory of the decoded image as Pillow holds it (after any JPEG draft): pixels x bytes per pixel
    of its mode plus a pointer per row, and for a progressive JPEG libjpeg's coefficient buffer over
    the full, undrafted size (two bytes per coefficient of every component at its sampling)."""
    width, height = image.size
    total = width * height * pixel_bytes(image.mode) + height * _POINTER_BYTES
    if image.format in ("JPEG", "MPO") and image.info.get("progressive"):
        total += _coefficient_bytes(image, full_size)
    return total


def _coefficient_bytes(image: Image.Image, full_size: tuple[int, int]) -> int:
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * len(image.getbands())
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    width, height = full_size
    total = 0
    for _, h_samp, v_samp, _ in layers:
        blocks_wide = math.ceil(math.ceil(width * h_samp / h_max) / 8)
        blocks_high = math.ceil(math.ceil(height * v_samp / v_max) / 8)
        total += blocks_wide * blocks_high * 64 * 2
    return total


def working_bytes(pixels: int) -> int:
    """Memory the operation and the encoder need at most: a few RGBA arrays of the result's pixels."""
    return pixels * 4 * _WORKING_COPIES
