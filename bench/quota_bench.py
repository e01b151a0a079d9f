"""Quota benchmark: what checking and counting the daily quota in the enqueue script costs. Prints
one JSON document.

    .venv/bin/python bench/quota_bench.py [--jobs 20000] [--users 100] [--batch 500] [--singles 5000]

On one redis-server started here on a free port (never 6379), chat jobs (platform telegram) of
`--users` users are enqueued three ways, each on an empty server:
- `unlimited`: their tier has no quota (the script skips the check);
- `counted`: a quota no user reaches (the script trims, counts and records every job);
- `refused`: a quota of 0 (every job refused, each refusal counted);
in batches of `--batch` (enqueue_many) and one job per call with 64 calls in flight, with the
server commands per job (INFO commandstats, Lua's inner calls included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from photobot.config import Settings  # noqa: E402
from photobot.jobs import Job, Platform  # noqa: E402
from photobot.logs import configure_logging  # noqa: E402
from photobot.queue import JobQueue, QuotaReached  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402

QUOTAS = {"unlimited": "free=unlimited", "counted": "free=1000000", "refused": "free=0"}


def reset(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.flushall()
    client.config_resetstat()
    client.close()


def server_commands(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        stats = cast(dict[str, dict[str, Any]], client.info("commandstats"))
        return sum(int(v["calls"]) for v in stats.values())
    finally:
        client.close()


def chat_jobs(n: int, users: int) -> list[Job]:
    return [
        Job(
            platform=Platform.TELEGRAM,
            user_id=str(i % users),
            chat_id=i % users,
            operation="noop",
            photo_id="p",
        )
        for i in range(n)
    ]


async def run(url: str, quota: str, *, n: int, users: int, batch: int, singles: int) -> dict[str, Any]:
    settings = Settings(
        _env_file=None, redis_url=url, log_file="none", max_pending_per_user=10_000_000, tier_quotas=quota
    )
    queue = JobQueue.from_settings(settings)
    out: dict[str, Any] = {}
    try:
        reset(url)
        jobs = chat_jobs(n, users)
        started = time.perf_counter()
        for i in range(0, n, batch):
            with contextlib.suppress(QuotaReached):
                await queue.enqueue_many(jobs[i : i + batch])
        elapsed = time.perf_counter() - started
        out["batched_jobs_per_s"] = round(n / elapsed)
        out["server_commands_per_job"] = round(server_commands(url) / n, 2)

        reset(url)
        jobs = chat_jobs(singles, users)
        in_flight = asyncio.Semaphore(64)

        async def one(job: Job) -> None:
            async with in_flight:
                with contextlib.suppress(QuotaReached):
                    await queue.enqueue(job)

        started = time.perf_counter()
        await asyncio.gather(*(one(job) for job in jobs))
        out["single_jobs_per_s"] = round(singles / (time.perf_counter() - started))
    finally:
        await queue.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--singles", type=int, default=5000)
    args = parser.parse_args()
    configure_logging("WARNING", "json", None)
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            results = {
                name: await run(
                    server.url, quota, n=args.jobs, users=args.users, batch=args.batch, singles=args.singles
                )
                for name, quota in QUOTAS.items()
            }
        finally:
            server.stop()
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "jobs": args.jobs,
        "users": args.users,
        "batch": args.batch,
        "singles": args.singles,
        **results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
