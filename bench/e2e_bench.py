"""End-to-end benchmark of the Telegram bot: prints one JSON object.

`python -m photobot run` runs as a subprocess against the fake Bot API, with a real redis-server and
local storage in a temporary folder, exactly as in production but for the Bot API server.

- idle latency: one 12 MP photo at a time, captioned "sepia", from the moment the update is put in
  the fake to the moment the status message has become the result (p50, p99);
- sustained throughput: many users send small photos at once, with the default workers
  (CONCURRENT_JOBS, PROCESS_WORKERS); results per second from the first update to the last result;
- the bare processing rate of the same photos and operation in the same run, through
  ImageProcessor alone (the processing benchmark's images/s), for the ratio.

Usage: python bench/e2e_bench.py [--idle N] [--users N] [--photos-per-user N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from photobot.config import Settings  # noqa: E402
from photobot.logs import configure_logging  # noqa: E402
from photobot.processing import ImageProcessor  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402
from tests.telegram_support import BotProcess, results  # noqa: E402


def photo_12mp(seed: int) -> bytes:
    rng = random.Random(seed)
    small = Image.new("RGB", (160, 120))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(160 * 120)])
    buffer = io.BytesIO()
    small.resize((4000, 3000), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def photo_small(seed: int) -> bytes:
    rng = random.Random(seed)
    small = Image.new("RGB", (64, 48))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64 * 48)])
    buffer = io.BytesIO()
    small.resize((1280, 960), Image.Resampling.BICUBIC).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def idle_latency(tg: FakeTelegram, count: int) -> dict[str, float]:
    seconds = []
    photo = photo_12mp(1)
    for i in range(count):
        chat = 10_000 + i
        started = time.monotonic()
        tg.inject_photo(chat, photo, caption="sepia")
        tg.wait_for_sync(lambda chat=chat: bool(results(tg, chat)), 60)  # type: ignore[misc]
        seconds.append(time.monotonic() - started)
        time.sleep(0.2)
    return {
        "photos": count,
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "mean_ms": round(statistics.mean(seconds) * 1000, 1),
    }


def sustained(tg: FakeTelegram, users: int, per_user: int, photos: list[bytes]) -> dict[str, float]:
    chats = [20_000 + u for u in range(users)]
    started = time.monotonic()
    n = 0
    for _ in range(per_user):
        for chat in chats:
            tg.inject_photo(chat, photos[n % len(photos)], caption="sepia")
            n += 1
    for chat in chats:
        tg.wait_for_sync(lambda chat=chat: len(results(tg, chat)) >= per_user, 300)  # type: ignore[misc]
    elapsed = time.monotonic() - started
    return {"photos": n, "seconds": round(elapsed, 2), "photos_per_second": round(n / elapsed, 2)}


async def bare_processing(settings: Settings, photos: list[bytes], total: int) -> dict[str, float]:
    processor = ImageProcessor.from_settings(settings)
    try:
        await processor.run(photos[0], "sepia", {})  # warm-up
        sem = asyncio.Semaphore(settings.concurrent_jobs)

        async def one(i: int) -> None:
            async with sem:
                await processor.run(photos[i % len(photos)], "sepia", {})

        started = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.monotonic() - started
    finally:
        await processor.close()
    return {"images": total, "seconds": round(elapsed, 2), "images_per_second": round(total / elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--idle", type=int, default=20, help="photos for the idle latency")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--photos-per-user", type=int, default=3)
    args = parser.parse_args()
    configure_logging("WARNING", "json", None)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    photos = [photo_small(seed) for seed in range(16)]
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram.run_in_thread() as tg:
        redis = RedisServer(Path(tmp) / "redis").start()
        # Telegram's real limits would cap a single test chat; the fake chats are many users.
        bot = BotProcess(tg, redis.url, Path(tmp) / "bot", log_level="WARNING", process_workers=0)
        try:
            bot.start(tg)
            tg.inject_photo(1, photo_small(99), caption="sepia")  # warm the process pool
            tg.wait_for_sync(lambda: bool(results(tg, 1)), 60)
            idle = idle_latency(tg, args.idle)
            load = sustained(tg, args.users, args.photos_per_user, photos)
        finally:
            bot.stop()
            redis.stop()
    bare = asyncio.run(bare_processing(settings, photos, args.users * args.photos_per_user))
    print(json.dumps({
        "cpus": os.cpu_count(),
        "concurrent_jobs": settings.concurrent_jobs,
        "process_workers": settings.resolved_process_workers,
        "idle_12mp_sepia": idle,
        "sustained_1mp_sepia": load,
        "bare_processing_1mp_sepia": bare,
        "sustained_vs_bare": round(load["photos_per_second"] / bare["images_per_second"], 3),
    }, indent=2))


if __name__ == "__main__":
    main()
