"""Files that cost far more than their size: scans, memory, and the process's own cap.

Bad inputs tried: a progressive JPEG whose last scan repeats 1,000 times (a scan bomb), an EXIF-like
APP segment full of start-of-scan markers (must not count), a 1 x 2,000,000 PNG (one row pointer a
row), 16-bit and 32-bit greyscale (the int64/float copies they used to make), and an RGBA PNG larger
than a worker's address-space cap. A timeout or a dead worker on the same job twice fails the job.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Callable

import pytest

from photobot.config import Settings
from photobot.jobs import JobStatus
from photobot.locales import error_text
from photobot.processing import (
    ImageProcessor,
    Limits,
    ProcessingTimeout,
    TooLarge,
    WorkerCrashed,
    decode_image,
)
from photobot.processing.cost import count_jpeg_scans
from photobot.processing.errors import TooComplex
from photobot.queue import JobQueue
from tests import hostile_files
from tests.conftest import ASTRONAUT
from tests.fixtures.redis_server import reply
from tests.processing_corpus import photo, save
from tests.queue_support import make_job, open_queue


def test_scan_bomb_is_refused_before_decoding() -> None:
    bomb = hostile_files.scan_bomb(side=256, scans=1000)
    assert count_jpeg_scans(bomb, stop_after=10_000) == 1000
    with pytest.raises(TooComplex) as caught:
        decode_image(bomb, Limits())
    assert "100" in error_text(caught.value, "en") and "100" in error_text(caught.value, "ru")


def test_an_ordinary_progressive_jpeg_decodes() -> None:
    progressive = save(photo(), "JPEG", progressive=True)
    assert 1 < count_jpeg_scans(progressive, stop_after=100) <= 12
    assert decode_image(progressive, Limits()).pixels.shape == (192, 256, 3)


def test_scan_markers_inside_segments_do_not_count() -> None:
    """An APP segment (where an EXIF thumbnail lives) may hold any bytes, SOS markers included."""
    plain = save(photo(), "JPEG")
    payload = b"\xff\xda\x00\x08" * 4000
    app = b"\xff\xef" + (len(payload) + 2).to_bytes(2, "big") + payload
    padded = plain[:2] + app + plain[2:]
    assert count_jpeg_scans(padded, stop_after=100) == count_jpeg_scans(plain, stop_after=100) == 1
    assert decode_image(padded, Limits()).pixels.shape == (192, 256, 3)


def test_memory_budget_counts_row_pointers_of_a_tall_image() -> None:
    """1 x 2,000,000: 6 MB of pixels but 16 MB of row pointers as Pillow holds it; refused unread."""
    tall = hostile_files.tall_png(height=2_000_000)
    with pytest.raises(TooLarge) as caught:
        decode_image(tall, Limits(max_image_memory=16 * 1024 * 1024))
    assert "decoded" in error_text(caught.value, "en")
    decoded = decode_image(tall, Limits(max_image_memory=128 * 1024 * 1024), max_side=2560)
    assert decoded.pixels.shape[1:] == (1, 3) and 2560 <= decoded.pixels.shape[0] < 2 * 2560


@pytest.mark.parametrize(
    ("name", "make"),
    [("sixteen_bit_png", hostile_files.sixteen_bit_png), ("int32_tiff", hostile_files.int32_tiff),
     ("float_tiff", hostile_files.float_tiff)],
)
def test_deep_images_make_no_wide_copies(name: str, make: Callable[[int], bytes]) -> None:
    """A 16- or 32-bit image becomes 8-bit strip by strip: numpy never holds a whole-image int64 or
    float array (8 bytes a pixel), which is what made a 300 KB TIFF cost 1.5 GB."""
    side = 2000
    data = make(side)
    tracemalloc.start()
    try:
        decoded = decode_image(data, Limits(), max_side=2560)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.pixels.shape == (side, side, 3)
    assert decoded.pixels[:, :10].max() < 10 and decoded.pixels[:, -10:].min() > 100, name
    assert peak < 8 * side * side, f"{name}: numpy peak {peak / 1e6:.0f} MB"


@pytest.mark.slow
async def test_a_file_past_the_process_memory_cap_fails_its_job_not_the_worker() -> None:
    """With the decode budget lifted, a 16000x16000 RGBA PNG (1 GB as Pillow holds it, whatever the
    libraries already mapped) meets the worker's 1 GB RLIMIT_AS: a typed TooLarge, and the same worker
    runs the next photo."""
    limits = Limits(max_pixels=300_000_000, max_image_memory=1 << 40)
    processor = ImageProcessor(limits, workers=1, timeout_seconds=120, memory_bytes=1 << 30)
    try:
        await processor.warm_up()
        (pid,) = processor.worker_pids()
        with pytest.raises(TooLarge):
            await processor.run(hostile_files.rgba_png(16000), "sepia", {})
        result = await processor.run(ASTRONAUT.read_bytes(), "sepia", {})
        assert result.images and processor.worker_pids() == [pid]
    finally:
        await processor.close()


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    async with open_queue(make_settings(max_attempts=5, retry_base_seconds=1)) as q:
        yield q


@pytest.mark.parametrize("error", [ProcessingTimeout("over 60 s"), WorkerCrashed("worker process died")])
async def test_the_same_job_timing_out_twice_fails(queue: JobQueue, error: Exception) -> None:
    """A scan bomb used to time out five times (five minutes of a process); now once more at most."""
    await queue.enqueue(make_job("1"))
    lease = (await queue.lease("w"))[0]
    assert await queue.fail(lease, error) == JobStatus.RETRYING
    await _make_retry_due(queue)
    lease = (await queue.lease("w"))[0]
    assert lease.job.attempts == 2
    assert await queue.fail(lease, error) == JobStatus.FAILED
    job = await queue.get(lease.job.job_id)
    assert job is not None and job.error is not None and job.error.code == error.code  # type: ignore[attr-defined]


async def _make_retry_due(queue: JobQueue) -> None:
    import redis

    client = redis.Redis.from_url(queue.settings.redis_url or "")
    for job_id in reply(client.zrange("{photobot}:retry", 0, -1)):
        client.zadd("{photobot}:retry", {job_id: 1})
    client.close()
    await queue.promote_due_retries()
