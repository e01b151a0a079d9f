"""Hostile input: a generated corpus of bad, odd and malicious files, and a fuzz of mutated bytes.

The corpus covers: zero bytes, text named .jpg, truncated JPEG and PNG, a JPEG header alone, JPEG
magic followed by noise, a PNG with a bad CRC, PNGs declaring 30000x30000 and 9000x9000 (under
Pillow's own bomb limit, so only our cap stops it), zero width, a GIF bomb (65535x65535 screen), a
BMP declaring 60000x60000, text starting with "BM", SVG, PDF, HTML, ZIP, an EXE, HEIC without
pillow-heif, animated GIF, CMYK JPEG, 16-bit PNG, 1x1, 1x20000, EXIF-rotated JPEG, a PNG with the
wrong extension, palette with transparency, grey with alpha, bilevel, float TIFF, BMP, TIFF, WEBP,
and a JPEG with GPS data.
"""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photobot.locales import error_text
from photobot.processing import (
    CorruptImage,
    ImageProcessor,
    Limits,
    ProcessingError,
    TooLarge,
    UnsupportedFormat,
    decode_image,
    run_operation,
)
from tests.processing_corpus import Case, build_corpus, photo, save

CORPUS = build_corpus()
LIMITS = Limits(max_bytes=5 * 1024 * 1024, max_pixels=40_000_000, result_max_side=2560)


def test_corpus_has_at_least_25_cases() -> None:
    assert len(CORPUS) >= 25
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_corpus_case(case: Case) -> None:
    if isinstance(case.expected, type):
        assert issubclass(case.expected, ProcessingError)
        with pytest.raises(ProcessingError) as caught:
            run_operation(case.data, "sepia", {}, LIMITS)
        error = caught.value
        assert isinstance(error, case.expected), error
        assert error.code == case.expected.code
        for language in ("en", "ru"):
            message = error_text(error, language)
            assert message and "{" not in message and "Traceback" not in message
    else:
        case.expected(run_operation(case.data, "sepia", {}, LIMITS))


@pytest.mark.parametrize(
    ("name", "shown"),
    [("png_declares_30000x30000", "900 MP"), ("png_declares_9000x9000_under_pillow_bomb_limit", "9000×9000")],
)
def test_bomb_is_refused_from_the_header(name: str, shown: str) -> None:
    """30000x30000 would need 2.7 GB decoded, 9000x9000 243 MB; both are refused on the declared
    size, before any pixel is decoded, and the message says how large the image claims to be."""
    bomb = next(case.data for case in CORPUS if case.name == name)
    with pytest.raises(TooLarge) as caught:
        decode_image(bomb, LIMITS)
    assert shown in error_text(caught.value, "en")
    assert shown in error_text(caught.value, "ru")
    assert "40 MP" in error_text(caught.value, "ru")


def test_byte_cap() -> None:
    data = save(photo(), "PNG")
    with pytest.raises(TooLarge):
        decode_image(data, Limits(max_bytes=len(data) - 1))
    assert decode_image(data, Limits(max_bytes=len(data))).pixels.shape == (192, 256, 3)


def test_pixel_cap_is_the_settings_value() -> None:
    data = save(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(TooLarge):
        decode_image(data, Limits(max_pixels=9_999))
    assert decode_image(data, Limits(max_pixels=10_000)).pixels.shape == (100, 100, 3)


@pytest.mark.slow
async def test_corpus_through_the_pool_within_time_and_memory_caps() -> None:
    """Every file through the real process pool under a 10 s cap; the worker's peak memory stays
    far below what any of the bombs would take decoded (2.7 GB for 30000x30000)."""
    processor = ImageProcessor(LIMITS, workers=1, timeout_seconds=10)
    try:
        await processor.warm_up()
        (pid,) = processor.worker_pids()
        for case in CORPUS:
            try:
                await processor.run(case.data, "sepia", {})
            except ProcessingError as error:
                assert isinstance(case.expected, type) and isinstance(error, case.expected), case.name
        assert processor.worker_pids() == [pid], "no case killed or timed out the worker"
        with open(f"/proc/{pid}/status") as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
        assert peak_kb < 600 * 1024
    finally:
        await processor.close()


SEED_JPEG = save(photo((48, 36)), "JPEG", quality=80)
SEED_PNG = save(photo((48, 36)), "PNG")
TYPED = (CorruptImage, UnsupportedFormat, TooLarge)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif data:
            del data[position : position + draw(st.integers(1, 64))]
    return bytes(data)


def _decode_or_typed_error(data: bytes) -> None:
    try:
        decoded = decode_image(data, Limits(max_pixels=4_000_000))
    except TYPED:
        return
    assert decoded.pixels.dtype.name == "uint8" and decoded.pixels.ndim == 3


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SEED_JPEG))
def test_fuzz_mutated_jpeg_gives_pixels_or_typed_errors(data: bytes) -> None:
    _decode_or_typed_error(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(SEED_PNG))
def test_fuzz_mutated_png_gives_pixels_or_typed_errors(data: bytes) -> None:
    _decode_or_typed_error(data)


def test_seeds_decode() -> None:
    assert decode_image(SEED_JPEG, Limits()).pixels.shape == (36, 48, 3)
    assert Image.open(io.BytesIO(SEED_PNG)).size == (48, 36)
