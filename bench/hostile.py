"""Hostile-input benchmark: prints one JSON object.

Feeds photobot's process pool (default settings, as a chat document: no photo reduction) the files
that cost far more than their size: a progressive-JPEG scan bomb (7000x7000, 100,000 and 2,000
scans), a 1 x 49,999,999 PNG, 7000x7000 32-bit integer and float TIFFs, a 16-bit PNG and an RGBA
PNG, then an ordinary photo. Every file is generated here. For each: the answer (a typed error code,
or the result's size), the wall time, and the peak resident memory of the pool process that ran it;
and the peak of the whole process tree (this process, the forkserver and the workers) over the run.

    .venv/bin/python -m bench.hostile [--workers N] [--operation sepia]

Then all the files at once (as several users sending them together), for the tree's peak with every
worker busy.

Targets: every file answered within 10 s; no pool process above 1 GB; the tree under 1.5 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photobot.config import Settings
from photobot.locales import error_text
from photobot.logs import configure_logging
from photobot.processing import ImageProcessor, ProcessingError
from tests import hostile_files
from tests.conftest import ASTRONAUT

MB = 1024 * 1024
CORPUS: dict[str, Callable[[], bytes]] = {
    "jpeg_scan_bomb_100000_scans": hostile_files.scan_bomb,
    "jpeg_scan_bomb_2000_scans": lambda: hostile_files.scan_bomb(scans=2000),
    "png_1x49999999": hostile_files.tall_png,
    "tiff_int32_7000x7000": hostile_files.int32_tiff,
    "tiff_float_7000x7000": hostile_files.float_tiff,
    "png_16bit_7000x7000": hostile_files.sixteen_bit_png,
    "png_rgba_7000x7000": hostile_files.rgba_png,
    "ordinary_photo": ASTRONAUT.read_bytes,
}


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    """root and every descendant, read from /proc/<pid>/task/<tid>/children."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """Samples the resident memory of the tree every 10 ms: the tree's peak, and each child's."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.tree_peak_kb = 0
        self.child_peak_kb = 0
        self._halt = threading.Event()

    def reset_child_peak(self) -> None:
        self.child_peak_kb = 0

    def run(self) -> None:
        me = os.getpid()
        while not self._halt.wait(0.01):
            sizes = {pid: _status_kb(pid, "VmRSS") for pid in _tree(me)}
            self.tree_peak_kb = max(self.tree_peak_kb, sum(sizes.values()))
            children = [size for pid, size in sizes.items() if pid != me]
            self.child_peak_kb = max([self.child_peak_kb, *children])

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _reset_peak(pid: int) -> None:
    """Writing 5 to clear_refs resets VmHWM (Linux 4.0+), so each file gets its own peak."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


async def run(workers: int, operation: str) -> dict[str, object]:
    configure_logging("WARNING", "json", None)
    settings = Settings(process_workers=workers)
    workers = settings.resolved_process_workers
    files = {name: make() for name, make in CORPUS.items()}
    processor = ImageProcessor.from_settings(settings)
    sampler = Sampler()
    results: dict[str, dict[str, object]] = {}
    try:
        await processor.warm_up()
        idle_kb = max(_status_kb(pid, "VmRSS") for pid in processor.worker_pids())
        # One file at a time, so each answer and each peak belong to that file alone.
        sampler.start()
        for name, data in files.items():
            pids = processor.worker_pids()
            for pid in pids:
                _reset_peak(pid)
            sampler.reset_child_peak()
            started = time.perf_counter()
            try:
                result = await processor.run(data, operation, {})
                answer: dict[str, object] = {
                    "result": [f"{image.width}x{image.height}" for image in result.images]
                }
            except ProcessingError as error:
                answer = {"error": error.code, "message": error_text(error, "en")}
            seconds = time.perf_counter() - started
            await asyncio.sleep(0.03)  # one more sample after the answer
            peak_kb = max([sampler.child_peak_kb, *(_status_kb(pid, "VmHWM") for pid in pids)])
            results[name] = {
                "bytes": len(data),
                **answer,
                "seconds": round(seconds, 2),
                "pool_process_peak_mb": round(peak_kb / 1024),
            }
        sequential_peak_kb = sampler.tree_peak_kb
        # All at once, as users sending them together would: the tree's peak with every worker busy.
        sampler.tree_peak_kb = 0
        started = time.perf_counter()
        await asyncio.gather(
            *(processor.run(data, operation, {}) for data in files.values()), return_exceptions=True
        )
        together_seconds = time.perf_counter() - started
        await asyncio.sleep(0.03)
        together_peak_kb = sampler.tree_peak_kb
    finally:
        sampler.stop()
        await processor.close()
    worst = max(float(str(item["pool_process_peak_mb"])) for item in results.values())
    slowest = max(float(str(item["seconds"])) for item in results.values())
    return {
        "benchmark": "hostile",
        "operation": operation,
        "workers": workers,
        "process_timeout_seconds": settings.process_timeout_seconds,
        "pool_process_idle_mb": round(idle_kb / 1024),
        "files": results,
        "slowest_seconds": slowest,
        "pool_process_peak_mb": worst,
        "tree_peak_mb_one_at_a_time": round(sequential_peak_kb / 1024),
        "all_at_once": {
            "seconds": round(together_seconds, 2),
            "tree_peak_mb": round(together_peak_kb / 1024),
        },
        "targets": {
            "answered_within_10_s": slowest <= 10,
            "pool_process_under_1_gb": worst < 1024,
            "tree_under_1_5_gb": max(sequential_peak_kb, together_peak_kb) / 1024 < 1536,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=0, help="pool processes (default: PROCESS_WORKERS, one per core)"
    )
    parser.add_argument("--operation", default="sepia")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.workers, args.operation)), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
