"""Load benchmark: simulated users across tiers at a target rate for a fixed time; prints one JSON
object.

`python -m photobot run` runs as a subprocess against the fake Bot API and a real redis-server
(appendonly) in a temporary folder, with local storage. Users are assigned their tier in Redis
before the start, then send photos captioned with one operation, each user chosen at random, at
`--rate` photos a second for `--duration` seconds. Reported:

- end-to-end latency by tier (the update put into the fake -> the status message has become the
  result, both on the fake's clock): p50, p95, p99, and how many were answered;
- queue depth over time (pending per tier, processing), sampled every `--sample` seconds;
- resident memory of photobot's process tree over time (the main process, its forkserver and pool)
  and its growth from the end of the warm-up to the end;
- CPU use of the tree, in percent of one core, over the load and in each sample.

The fake Bot API enforces no limits, and TG_GLOBAL_RATE / TG_CHAT_RATE are raised here so that what
is measured is photobot's queue and workers, not Telegram's pacing. To see premium stay fast while
free waits, offer more than the workers can do (--rate 40 does on a quiet 2-core machine).

Usage: python bench/load.py [--rate 20] [--duration 60] [--users free=40,premium=10]
       [--operation enhance] [--side 640] [--concurrent-jobs 3] [--process-workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import redis
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from photobot.config import Settings  # noqa: E402
from photobot.queue import JobQueue  # noqa: E402
from tests.chaos.support import RESULT_MARK, Photobot, base_env, wait_polling  # noqa: E402
from tests.fakes.telegram import FakeTelegram  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_users(text: str) -> dict[str, int]:
    tiers: dict[str, int] = {}
    for item in text.split(","):
        name, _, count = item.partition("=")
        tiers[name.strip()] = int(count)
    return tiers


def photo(seed: int, side: int) -> bytes:
    """A photo-like JPEG of its own: a gradient with noise, so JPEG and the filters have work."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize((side, side)).convert("RGB")
    tint = Image.new("RGB", (side, side), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    image = Image.blend(base, tint, 0.5)
    noise = Image.effect_noise((side, side), 40).convert("RGB")
    image = Image.blend(image, noise, 0.2)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@dataclass
class Sent:
    tier: str
    user_id: int
    message_id: int
    at: float


@dataclass
class Samples:
    rows: list[dict[str, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


def tree(pid: int) -> list[psutil.Process]:
    """The process and every descendant (forkserver and pool workers start their own sessions'
    children, so walk by parent links)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def sample_loop(pid: int, redis_url: str, began: float, every: float, samples: Samples) -> None:
    async def run() -> None:
        settings = Settings(_env_file=None, redis_url=redis_url, log_file="none")
        queue = JobQueue.from_settings(settings)
        cpu_seen: dict[int, float] = {}
        last_cpu: float | None = None  # the first sample has no interval: start-up is not load
        last_at = time.monotonic()
        try:
            while not samples.stop.is_set():
                rss = 0
                for process in tree(pid):
                    try:
                        with process.oneshot():
                            rss += process.memory_info().rss
                            times = process.cpu_times()
                            cpu_seen[process.pid] = times.user + times.system
                    except psutil.NoSuchProcess:
                        continue
                cpu_total, now = sum(cpu_seen.values()), time.monotonic()
                stats = await queue.stats()
                samples.rows.append({
                    "t": round(now - began, 2),
                    "pending_by_tier": dict(stats.tiers),
                    "processing": stats.counts.get("processing", 0),
                    "completed": stats.counts.get("completed", 0),
                    "rss_mb": round(rss / 2**20, 1),
                    "cpu_percent": None if last_cpu is None
                    else round(100 * (cpu_total - last_cpu) / max(1e-6, now - last_at), 1),
                    "cpu_seconds": round(cpu_total, 2),
                })
                last_cpu, last_at = cpu_total, now
                await asyncio.sleep(every)
        finally:
            await queue.close()

    asyncio.run(run())


def answered_at(tg: FakeTelegram, sent: list[Sent]) -> dict[int, float]:
    """index of each answered photo -> when its result appeared (fake's clock)."""
    chats = {s.user_id: tg.visible_messages(s.user_id) for s in sent}
    found: dict[int, float] = {}
    for index, item in enumerate(sent):
        for message in chats[item.user_id]:
            if message.reply_to_message_id != item.message_id:
                continue
            for version in message.versions:
                if (version.text or "").startswith(RESULT_MARK):
                    found[index] = version.at
                    break
    return found


def pct(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))], 3)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=20.0, help="photos per second, all users")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--users", default="free=40,premium=10", help="users per tier: name=count,...")
    parser.add_argument("--operation", default="enhance")
    parser.add_argument("--side", type=int, default=640, help="photo side in pixels")
    parser.add_argument("--concurrent-jobs", type=int, default=3)
    parser.add_argument("--process-workers", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds before memory is a baseline")
    parser.add_argument("--sample", type=float, default=2.0, help="seconds between samples")
    parser.add_argument("--drain", type=float, default=300.0, help="seconds to wait for the last results")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    tiers = parse_users(args.users)
    rng = random.Random(args.seed)
    users = [
        (tier, 70_000 + 1000 * i + n) for i, (tier, count) in enumerate(tiers.items()) for n in range(count)
    ]
    total = int(args.rate * args.duration)
    log(f"making {total} photos of {args.side}px")
    photos = [photo(args.seed * 1_000_000 + i, args.side) for i in range(total)]
    work = Path(tempfile.mkdtemp(prefix="photobot-load-"))
    server = RedisServer(work / "redis", appendonly=True).start()
    try:
        client = redis.Redis.from_url(server.url)
        for tier, user_id in users:
            client.hset(f"{{photobot}}:user:tg:{user_id}", "tier", tier)
        client.close()
        with FakeTelegram.run_in_thread() as tg:
            env = base_env(
                tg, server.url, work, CONCURRENT_JOBS=args.concurrent_jobs,
                PROCESS_WORKERS=args.process_workers, TG_GLOBAL_RATE=10_000, TG_CHAT_RATE=1000,
                TG_CHAT_BURST=100, FLOOD_LIMIT=100_000, MAX_PENDING_PER_USER=10_000, LEASE_SECONDS=30,
                TIER_QUOTAS="free=unlimited,premium=unlimited",
            )
            bot = Photobot(env, work).start()
            try:
                wait_polling(bot, timeout=120)
                report = drive(tg, bot, server.url, users=users, photos=photos, rng=rng, args=args)
            finally:
                bot.stop()
                bot.clean_up()
    finally:
        server.stop()
    print(json.dumps(report, indent=2))


def drive(
    tg: FakeTelegram, bot: Photobot, redis_url: str, *, users: list[tuple[str, int]], photos: list[bytes],
    rng: random.Random, args: argparse.Namespace,
) -> dict[str, Any]:
    assert bot.process is not None
    began = time.monotonic()
    samples = Samples()
    sampler = threading.Thread(
        target=sample_loop, args=(bot.process.pid, redis_url, began, args.sample, samples), daemon=True
    )
    sampler.start()
    sent: list[Sent] = []
    log(f"sending {len(photos)} photos at {args.rate}/s")
    for index, data in enumerate(photos):
        time.sleep(max(0.0, began + index / args.rate - time.monotonic()))
        tier, user_id = rng.choice(users)
        update_id = tg.inject_photo(user_id, data, args.operation)
        message_id = int(tg.update(update_id)["message"]["message_id"])
        sent.append(Sent(tier, user_id, message_id, time.monotonic()))
    load_ended = time.monotonic()
    log("load sent; waiting for the last results")
    deadline = load_ended + args.drain
    found = answered_at(tg, sent)
    while len(found) < len(sent) and time.monotonic() < deadline:
        time.sleep(1.0)
        found = answered_at(tg, sent)
    drained = time.monotonic()
    samples.stop.set()
    sampler.join(30)
    by_tier: dict[str, Any] = {}
    for tier in dict.fromkeys(s.tier for s in sent):
        mine = [(found[i], s) for i, s in enumerate(sent) if s.tier == tier and i in found]
        waits = [at - s.at for at, s in mine]
        during = [at for at, _ in mine if at <= load_ended]
        by_tier[tier] = {
            "sent": sum(1 for s in sent if s.tier == tier), "answered": len(waits),
            "p50_s": pct(waits, 0.5), "p95_s": pct(waits, 0.95), "p99_s": pct(waits, 0.99),
            "answered_during_load": len(during),
        }
    rows = samples.rows
    warm = [r for r in rows if r["t"] >= args.warmup]
    in_load = [r for r in rows if r["t"] <= load_ended - began]
    cpu_load = None
    if len(in_load) > 1:
        first, last = in_load[0], in_load[-1]
        cpu_load = 100 * (last["cpu_seconds"] - first["cpu_seconds"]) / max(1e-6, last["t"] - first["t"])
    return {
        "benchmark": "load",
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "config": {"rate": args.rate, "duration_s": args.duration, "users": parse_users(args.users),
                   "operation": args.operation, "side_px": args.side, "concurrent_jobs": args.concurrent_jobs,
                   "process_workers": args.process_workers},
        "photos": len(sent), "answered": len(found),
        "throughput_per_s": round(len(found) / max(1e-6, drained - began), 2),
        "drain_s_after_load": round(drained - load_ended, 1),
        "latency_by_tier": by_tier,
        "cpu_percent_of_one_core_during_load": round(cpu_load, 1) if cpu_load is not None else None,
        "rss_mb": {"after_warmup": warm[0]["rss_mb"] if warm else None,
                   "end": rows[-1]["rss_mb"] if rows else None,
                   "max": max((r["rss_mb"] for r in rows), default=None)},
        "samples": rows,
    }


if __name__ == "__main__":
    main()
