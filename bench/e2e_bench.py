"""End-to-end benchmark of the Telegram bot: prints one JSON object.

`python -m photobot run` runs as a subprocess against the fake Bot API, with a real redis-server and
local storage in a temporary folder, exactly as in production but for the Bot API server.

- idle latency: one 12 MP photo at a time, captioned "sepia", from the moment the update is put in
  the fake to the moment the status message has become the result (p50, p99);
- sustained throughput: many users send 12 MP photos at once (the processing benchmark's photo),
  with the default workers (CONCURRENT_JOBS, PROCESS_WORKERS); results per second from the first
  update to the last result;
- the bare processing rate of the same photo and operation in the same run, through ImageProcessor
  alone with the bot's settings (the processing benchmark's images/s), for the ratio;
- the same sustained run with small (1.2 MP) photos, whose bound is Telegram's 30 messages/s
  divided by the chat messages each photo costs, not the processing: reported with that bound;
- CPU seconds per photo of each process during the sustained runs (bot, pool workers, redis, and
  this process, which runs the fake), which says where the time goes.

Usage: python bench/e2e_bench.py [--idle N] [--users N] [--photos-per-user N] [--small-users N]
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
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.processing_bench import test_photo  # noqa: E402
from photobot.config import Settings  # noqa: E402
from photobot.logs import configure_logging  # noqa: E402
from photobot.processing import ImageProcessor  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402
from tests.telegram_support import BotProcess, results  # noqa: E402


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


def cpu_seconds(pids: Callable[[], list[int]]) -> float:
    """User + system CPU time of the live processes `pids()` names (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def descendants(root: int) -> list[int]:
    """`root` and every live process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


class CpuMeter:
    """CPU seconds spent by the bot, its pool processes, redis and this process over a span."""

    def __init__(self, bot_pid: int, redis_pid: int) -> None:
        self.groups: dict[str, Callable[[], list[int]]] = {
            "bot_process": lambda: [bot_pid],
            "pool_processes": lambda: descendants(bot_pid)[1:],
            "redis": lambda: [redis_pid],
            "bench_and_fake": lambda: [os.getpid()],
        }
        self.start = self.read()

    def read(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) for name, pids in self.groups.items()}

    def per_photo_ms(self, photos: int) -> dict[str, float]:
        end = self.read()
        return {name: round((end[name] - self.start[name]) * 1000 / photos, 1) for name in end}


def idle_latency(tg: FakeTelegram, count: int, photo: bytes) -> dict[str, float]:
    seconds = []
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


def chat_calls(tg: FakeTelegram, chats: list[int]) -> dict[str, int]:
    """Bot API calls that put something in these chats, by method."""
    wanted = {str(chat) for chat in chats}
    counts: dict[str, int] = {}
    for call in tg.calls():
        if str(call.chat_id) in wanted:
            counts[call.method] = counts.get(call.method, 0) + 1
    return counts


def sustained(
    tg: FakeTelegram, bot: BotProcess, redis: RedisServer, *, first_chat: int, users: int, per_user: int,
    photos: list[bytes],
) -> dict[str, object]:
    chats = [first_chat + u for u in range(users)]
    assert bot.process is not None and redis.process is not None
    meter = CpuMeter(bot.process.pid, redis.process.pid)
    started = time.monotonic()
    n = 0
    for _ in range(per_user):
        for chat in chats:
            tg.inject_photo(chat, photos[n % len(photos)], caption="sepia")
            n += 1
    for chat in chats:
        tg.wait_for_sync(lambda chat=chat: len(results(tg, chat)) >= per_user, 600)  # type: ignore[misc]
    elapsed = time.monotonic() - started
    calls = chat_calls(tg, chats)
    messages = sum(count for method, count in calls.items() if method.startswith(("send", "edit")))
    return {
        "photos": n,
        "seconds": round(elapsed, 2),
        "photos_per_second": round(n / elapsed, 2),
        "chat_messages_per_photo": round(messages / n, 2),
        "bound_by_30_messages_per_s": round(30 / (messages / n), 2),
        "calls": calls,
        "cpu_ms_per_photo": meter.per_photo_ms(n),
    }


async def bare_processing(settings: Settings, photo: bytes, total: int) -> dict[str, float]:
    """ImageProcessor alone, with the bot's settings and a photo's result size, every job at once."""
    processor = ImageProcessor.from_settings(settings)
    try:
        await processor.warm_up()

        async def batch(count: int) -> None:
            await asyncio.gather(*(processor.run(photo, "sepia", {}, as_photo=True) for _ in range(count)))

        await batch(processor.workers)
        started = time.monotonic()
        await batch(total)
        elapsed = time.monotonic() - started
    finally:
        await processor.close()
    return {"images": total, "seconds": round(elapsed, 2), "images_per_second": round(total / elapsed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--idle", type=int, default=20, help="photos for the idle latency")
    parser.add_argument("--users", type=int, default=12, help="users of the 12 MP sustained run")
    parser.add_argument("--photos-per-user", type=int, default=3)
    parser.add_argument("--small-users", type=int, default=40, help="users of the 1.2 MP run; 0: skip")
    args = parser.parse_args()
    configure_logging("WARNING", "json", None)
    settings = Settings(_env_file=None)
    big = test_photo()
    load = [round(value, 2) for value in os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp, FakeTelegram.run_in_thread() as tg:
        redis = RedisServer(Path(tmp) / "redis").start()
        # Telegram's real limits would cap a single test chat; the fake chats are many users.
        bot = BotProcess(tg, redis.url, Path(tmp) / "bot", log_level="WARNING", process_workers=0,
                         tier_quotas="free=unlimited,premium=unlimited")
        try:
            bot.start(tg)
            tg.inject_photo(1, photo_small(99), caption="sepia")  # warm the process pool
            tg.wait_for_sync(lambda: bool(results(tg, 1)), 60)
            idle = idle_latency(tg, args.idle, big)
            heavy = sustained(
                tg, bot, redis, first_chat=20_000, users=args.users, per_user=args.photos_per_user,
                photos=[big],
            )
            small: dict[str, object] | None = None
            if args.small_users:
                photos = [photo_small(seed) for seed in range(16)]
                small = sustained(
                    tg, bot, redis, first_chat=30_000, users=args.small_users, per_user=args.photos_per_user,
                    photos=photos,
                )
        finally:
            bot.stop()
            redis.stop()
    bare = asyncio.run(bare_processing(settings, big, args.users * args.photos_per_user))
    print(json.dumps({
        "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "concurrent_jobs": settings.concurrent_jobs,
        "process_workers": settings.resolved_process_workers,
        "photo_result_max_side": settings.photo_result_max_side,
        "idle_12mp_sepia": idle,
        "sustained_12mp_sepia": heavy,
        "bare_processing_12mp_sepia": bare,
        "sustained_vs_bare": round(float(heavy["photos_per_second"]) / bare["images_per_second"], 3),  # type: ignore[arg-type]
        "sustained_1mp_sepia_rate_limited": small,
    }, indent=2))


if __name__ == "__main__":
    main()
