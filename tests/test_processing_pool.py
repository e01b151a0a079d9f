"""ImageProcessor: the real process pool, its time cap, and its recovery from a dead worker."""

from __future__ import annotations

import asyncio
import io
import os
import signal

import numpy as np
import pytest
from PIL import Image

from photobot.config import Settings
from photobot.metrics import Metrics
from photobot.processing import (
    BadParams,
    ImageProcessor,
    Limits,
    ProcessingTimeout,
    TooLarge,
    UnknownOperation,
    WorkerCrashed,
)
from tests.conftest import ASTRONAUT

pytestmark = pytest.mark.slow
PHOTO = ASTRONAUT.read_bytes()


def big_png() -> bytes:
    noise = np.random.default_rng(3).integers(0, 255, (2400, 2400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


async def test_runs_operations_in_worker_processes(settings: Settings) -> None:
    metrics = Metrics()
    processor = ImageProcessor.from_settings(settings.model_copy(update={"process_workers": 2}), metrics)
    try:
        results = await asyncio.gather(
            processor.run(PHOTO, "sepia", {}),
            processor.run(PHOTO, "faces_detect", {}),
            processor.run(PHOTO, "blur", {"radius": "3"}),
        )
        assert [r.summary["operation"] for r in results] == ["sepia", "faces_detect", "blur"]
        assert results[1].summary["faces"] == 1
        pids = processor.worker_pids()
        assert len(pids) == 2 and os.getpid() not in pids
        sample = metrics.registry.get_sample_value(
            "photobot_processing_seconds_count", {"operation": "sepia"}
        )
        assert sample == 1
    finally:
        await processor.close()


async def test_refusals_before_the_pool() -> None:
    processor = ImageProcessor(Limits(max_bytes=1024), workers=1, timeout_seconds=5)
    try:
        with pytest.raises(UnknownOperation):
            await processor.run(PHOTO, "paint", {})
        with pytest.raises(BadParams):
            await processor.run(PHOTO, "blur", {"radius": -1})
        with pytest.raises(TooLarge):
            await processor.run(PHOTO, "sepia", {})
        assert processor.worker_pids() == [], "no process was needed to refuse"
    finally:
        await processor.close()


async def test_timeout_kills_the_job_and_the_next_one_runs() -> None:
    processor = ImageProcessor(Limits(), workers=1, timeout_seconds=0.05)
    data = big_png()
    try:
        await processor.warm_up()
        (before,) = processor.worker_pids()
        with pytest.raises(ProcessingTimeout) as caught:
            await processor.run(data, "enhance", {})
        assert caught.value.transient and caught.value.code == "timeout"
        processor.timeout_seconds = 30
        result = await processor.run(PHOTO, "invert", {})
        assert result.images
        assert processor.worker_pids() and processor.worker_pids() != [before]
    finally:
        await processor.close()


async def test_a_killed_worker_is_reported_and_replaced() -> None:
    processor = ImageProcessor(Limits(), workers=1, timeout_seconds=30)
    data = big_png()
    try:
        await processor.warm_up()
        (pid,) = processor.worker_pids()
        job = asyncio.create_task(processor.run(data, "enhance", {}))
        await asyncio.sleep(0.2)  # the kill comes in the middle of the job, as a crash would
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerCrashed) as caught:
            await job
        assert caught.value.transient
        result = await processor.run(PHOTO, "sepia", {})
        assert result.images and processor.worker_pids() != [pid]
    finally:
        await processor.close()


async def test_the_event_loop_stays_responsive_while_images_are_processed() -> None:
    processor = ImageProcessor(Limits(), workers=1, timeout_seconds=30)
    data = big_png()
    try:
        await processor.warm_up()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)  # counts how often the loop is free to run it
                ticks += 1

        ticker = asyncio.create_task(tick())
        await processor.run(data, "enhance", {})
        ticker.cancel()
        assert ticks >= 5
    finally:
        await processor.close()
