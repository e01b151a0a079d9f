"""Image processing benchmark: prints one JSON object.

A 4000x3000 JPEG (the astronaut upscaled, with sensor-like noise so its size is a camera's) to a
result of at most 1280 px: milliseconds per operation, the decode -> reduce -> sepia -> encode (q85)
pipeline against plain Pillow (open, load, resize LANCZOS, sepia, save) in the same run, and images/s
through the process pool with 1 and with 2 processes.

    .venv/bin/python -m bench.processing_bench [--repeat 7] [--jobs 24]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from photobot.logs import configure_logging
from photobot.processing import ImageProcessor, Limits, list_operations, run_operation

ASTRONAUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "astronaut.png"
SEPIA = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)


def test_photo() -> bytes:
    image = Image.open(ASTRONAUT).convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    noisy = np.asarray(image).astype(np.int16) + np.random.default_rng(1).normal(0, 6, (3000, 4000, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def plain_pillow(data: bytes) -> bytes:
    """The baseline: no reduce-on-decode, every pixel decoded and resampled with LANCZOS."""
    image = Image.open(io.BytesIO(data))
    image.load()
    image.thumbnail((1280, 1280), Image.Resampling.LANCZOS, reducing_gap=None)
    buffer = io.BytesIO()
    image.convert("RGB", SEPIA).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def median_ms(function: Callable[[], object], repeat: int) -> float:
    function()  # warm: caches, cascades, allocator
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 1)


async def throughput(data: bytes, limits: Limits, workers: int, jobs: int) -> float:
    processor = ImageProcessor(limits, workers=workers, timeout_seconds=120)
    try:
        await processor.warm_up()
        await asyncio.gather(*(processor.run(data, "sepia", {}) for _ in range(workers)))
        started = time.perf_counter()
        await asyncio.gather(*(processor.run(data, "sepia", {}) for _ in range(jobs)))
        return round(jobs / (time.perf_counter() - started), 2)
    finally:
        await processor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=24)
    args = parser.parse_args()
    configure_logging("WARNING", "json", None)
    data = test_photo()
    limits = Limits(result_max_side=1280, jpeg_quality=85, max_bytes=50 * 1024 * 1024)
    operations = {
        op.name: median_ms(functools.partial(run_operation, data, op.name, {}, limits), args.repeat)
        for op in list_operations()
    }
    pipeline = median_ms(lambda: run_operation(data, "sepia", {}, limits), args.repeat * 2)
    baseline = median_ms(lambda: plain_pillow(data), args.repeat * 2)
    one = asyncio.run(throughput(data, limits, 1, args.jobs))
    two = asyncio.run(throughput(data, limits, 2, args.jobs))
    summary = run_operation(data, "sepia", {}, limits).summary
    print(json.dumps({
        "input": {"width": 4000, "height": 3000, "bytes": len(data)},
        "result_max_side": 1280,
        "cpu_count": os.cpu_count(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "operation_ms": operations,
        "sepia_pipeline_ms": pipeline,
        "sepia_pipeline_stages_ms": summary["timings_ms"],
        "baseline_plain_pillow_ms": baseline,
        "speedup_vs_baseline": round(baseline / pipeline, 2),
        "faces_detect_ms": operations["faces_detect"],
        "images_per_second": {"1_process": one, "2_processes": two},
        "pool_ratio_2_over_1": round(two / one, 2),
    }, indent=None))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
