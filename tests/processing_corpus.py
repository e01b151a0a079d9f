"""Hostile and odd image files, generated (nothing binary is committed but the astronaut).

Each case is (name, bytes, expected) where expected is a ProcessingError subclass, or a check that
receives the OperationResult of sepia on the file and asserts it is correct.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from photobot.processing import (
    CorruptImage,
    OperationResult,
    ProcessingError,
    TooLarge,
    UnsupportedFormat,
)
from tests.conftest import ASTRONAUT

Check = Callable[[OperationResult], None]


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    expected: type[ProcessingError] | Check


def save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, rows: int = 1) -> bytes:
    """A valid-looking PNG whose header claims width x height but carries a few rows of zeros."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = zlib.compress(b"\x00" * min(rows * (1 + 3 * width), 1 << 20))
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", raw) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def gif_bomb() -> bytes:
    """A 50-byte GIF whose logical screen is 65535 x 65535 (4.3 gigapixels) around a 1x1 frame."""
    return (
        b"GIF89a"
        + struct.pack("<HH", 65535, 65535)
        + b"\x80\x00\x00"
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c"
        + struct.pack("<HHHH", 0, 0, 1, 1)
        + b"\x00"
        + b"\x02\x02\x44\x01\x00"
        + b"\x3b"
    )


def photo(size: tuple[int, int] = (256, 192)) -> Image.Image:
    return Image.open(ASTRONAUT).convert("RGB").resize(size)


def exif_rotated() -> bytes:
    """Stored 200 wide and 100 high, left half red; EXIF orientation 6 says: turn 90 degrees clockwise."""
    image = Image.new("RGB", (200, 100), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    return save(image, "JPEG", exif=exif.tobytes(), quality=95)


def with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    exif[0x8825] = {1: "N", 2: (55.0, 45.0, 0.0), 3: "E", 4: (37.0, 37.0, 0.0)}
    return save(photo(), "JPEG", exif=exif.tobytes())


def sixteen_bit_png() -> bytes:
    ramp = np.tile(np.linspace(0, 65535, 128, dtype=np.uint16), (64, 1))
    return save(Image.fromarray(ramp), "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in ((255, 255, 255), (0, 0, 0), (255, 0, 0))]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def palette_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.paste(1, (0, 0, 16, 32))
    return save(image, "PNG", transparency=0)


def float_tiff() -> bytes:
    values = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (16, 1))
    return save(Image.fromarray(values, mode="F"), "TIFF")


# --- checks of correct results ------------------------------------------------------------------


def decoded(result: OperationResult, index: int = 0) -> Image.Image:
    image = Image.open(io.BytesIO(result.images[index].data))
    image.load()
    return image


def is_jpeg_of(width: int, height: int) -> Check:
    def check(result: OperationResult) -> None:
        image = decoded(result)
        assert image.format == "JPEG" and image.size == (width, height)
        assert not image.getexif(), "results carry no EXIF"

    return check


def is_png_with_alpha(result: OperationResult) -> None:
    image = decoded(result)
    assert image.format == "PNG" and image.mode == "RGBA"
    alpha = np.asarray(image)[:, :, 3]
    assert alpha[:, :16].min() == 255 and alpha[:, 16:].max() == 0  # index 0 (right half) is clear


def rotated_upright(result: OperationResult) -> None:
    image = decoded(result)
    assert image.size == (100, 200), "EXIF orientation 6 applied: portrait"
    pixels = np.asarray(image).astype(int)
    top, bottom = pixels[:90].mean(axis=(0, 1)), pixels[110:].mean(axis=(0, 1))
    # Sepia of red is brighter than sepia of blue: the red half is now on top.
    assert top.sum() > bottom.sum() + 100


def first_gif_frame(result: OperationResult) -> None:
    assert np.asarray(decoded(result)).mean() > 200, "the first (white) frame, not the black one"


def sixteen_bit_scaled(result: OperationResult) -> None:
    grey = np.asarray(decoded(result).convert("L")).astype(int)
    assert grey[:, :8].mean() < 20 and grey[:, -8:].mean() > 200, "16-bit ramp scaled, not clipped"
    assert 80 < grey[:, 60:68].mean() < 180


def gps_stripped(result: OperationResult) -> None:
    data = result.images[0].data
    assert b"Exif" not in data and b"Camera maker" not in data
    assert not decoded(result).getexif()


BMP_60000 = b"BM" + struct.pack("<IHHIIiiHHII", 0, 0, 0, 54, 40, 60000, 60000, 1, 24, 0, 0)


def build_corpus() -> list[Case]:
    base = photo()
    jpeg = save(base, "JPEG", quality=90)
    png = save(base, "PNG")
    return [
        Case("zero_bytes", b"", CorruptImage),
        Case("text_named_jpg", b"just some text, named photo.jpg\n" * 4, UnsupportedFormat),
        Case("truncated_jpeg", jpeg[: len(jpeg) // 2], CorruptImage),
        Case("jpeg_header_only", jpeg[:20], CorruptImage),
        Case("jpeg_magic_then_noise", b"\xff\xd8\xff" + bytes(range(256)) * 8, CorruptImage),
        Case("truncated_png", png[: len(png) // 3], CorruptImage),
        Case("png_bad_crc", png[:30] + bytes([png[30] ^ 0xFF]) + png[31:], CorruptImage),
        Case("png_declares_30000x30000", png_declaring(30000, 30000), TooLarge),
        Case("png_declares_9000x9000_under_pillow_bomb_limit", png_declaring(9000, 9000), TooLarge),
        Case("png_declares_zero_width", png_declaring(0, 10), CorruptImage),
        Case("gif_bomb_65535x65535", gif_bomb(), TooLarge),
        Case("bmp_declares_huge", BMP_60000 + b"\x00" * 64, TooLarge),
        Case("bmw_text_starting_bm", b"BMW is a car brand, not a bitmap." * 3, CorruptImage),
        Case("svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', UnsupportedFormat),
        Case("pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", UnsupportedFormat),
        Case(
            "html",
            b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>",
            UnsupportedFormat,
        ),
        Case("zip", b"PK\x03\x04" + b"\x00" * 60, UnsupportedFormat),
        Case("windows_exe", b"MZ\x90\x00" + b"\x00" * 60, UnsupportedFormat),
        Case(
            "heic_without_pillow_heif", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", UnsupportedFormat
        ),
        Case("animated_gif_first_frame", animated_gif(), first_gif_frame),
        Case("cmyk_jpeg", save(base.convert("CMYK"), "JPEG"), is_jpeg_of(256, 192)),
        Case("sixteen_bit_png", sixteen_bit_png(), sixteen_bit_scaled),
        Case("one_by_one", save(Image.new("RGB", (1, 1), (200, 100, 50)), "PNG"), is_jpeg_of(1, 1)),
        Case("one_by_20000", save(Image.new("L", (1, 20000), 128), "PNG"), is_jpeg_of(1, 2560)),
        Case("exif_rotated", exif_rotated(), rotated_upright),
        Case("png_named_jpg_wrong_extension", png, is_jpeg_of(256, 192)),
        Case("palette_with_transparency", palette_with_transparency(), is_png_with_alpha),
        Case("grey_with_alpha", save(Image.new("LA", (8, 8), (100, 255)), "PNG"), is_jpeg_of(8, 8)),
        Case("bilevel_png", save(Image.new("1", (31, 17), 1), "PNG"), is_jpeg_of(31, 17)),
        Case("float_tiff", float_tiff(), is_jpeg_of(64, 16)),
        Case("bmp", save(base, "BMP"), is_jpeg_of(256, 192)),
        Case("tiff", save(base, "TIFF", compression="tiff_lzw"), is_jpeg_of(256, 192)),
        Case("webp", save(base, "WEBP"), is_jpeg_of(256, 192)),
        Case("jpeg_with_gps", with_gps(), gps_stripped),
    ]
