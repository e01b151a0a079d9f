"""Queue benchmark: prints one JSON document.

    .venv/bin/python bench/queue_bench.py [--jobs 20000] [--pickups 1000] [--arq-default-jobs 1000]

All on one redis-server started here on a free port (never 6379), in one run:
- photobot: enqueue -> lease -> complete of no-op jobs from one process (enqueue alone, drain of a
  full queue alone, and both at once), drained two ways: `worker --noop`'s NoopDrainer (batched
  leases and acks, one round trip per batch) and the Worker class with a no-op handler (a task
  per job, heartbeats, acks batched by its ack task);
- arq on the same server: tuned (poll_delay 0.01, max_jobs 50) and at its defaults (poll_delay 0.5,
  max_jobs 10; on fewer jobs, since it is slow);
- redis-benchmark ZADD and ZPOPMIN on the same server, as the bound of any sorted-set queue;
- commands per job, from INFO commandstats (client calls, and every command including those run
  inside Lua scripts or MULTI);
- idle pickup latency: enqueue -> handler start, p50 / p99 over single jobs with an idle worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from photobot.config import Settings  # noqa: E402
from photobot.jobs import Job  # noqa: E402
from photobot.logs import configure_logging  # noqa: E402
from photobot.queue import JobContext, JobQueue, Worker  # noqa: E402
from photobot.queue.drain import NoopDrainer  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402

CLIENT_CALLS = ("evalsha", "eval", "blpop", "script")  # what the client sends; Lua calls are not round trips


def commandstats(url: str) -> dict[str, int]:
    r = redis.Redis.from_url(url)
    try:
        stats = cast(dict[str, dict[str, Any]], r.info("commandstats"))
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
    finally:
        r.close()


def delta(before: dict[str, int], after: dict[str, int], names: tuple[str, ...] | None = None) -> int:
    keys = names if names is not None else tuple(after)
    return sum(after.get(k, 0) - before.get(k, 0) for k in keys)


def flush(url: str) -> None:
    r = redis.Redis.from_url(url)
    r.flushall()
    r.config_resetstat()
    r.close()


def make_jobs(n: int) -> list[Job]:
    return [Job(user_id=str(i % 100), operation="noop", photo_id="p") for i in range(n)]


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, redis_url=url, log_file="none",
                    max_pending_per_user=1_000_000, lease_seconds=30)


async def _noop(ctx: JobContext) -> None:
    return None


async def drain(queue: JobQueue, n: int, kind: str, concurrency: int, batch: int) -> float:
    """Drain n jobs with `worker --noop`'s drainer or with the Worker class and a no-op handler;
    returns the seconds it took."""
    runner: NoopDrainer | Worker
    if kind == "noop_drainer":
        runner = NoopDrainer(queue, batch=batch, idle_wait=0.05)
    else:
        runner = Worker(queue, _noop, concurrency=concurrency, idle_wait=0.05)
    started = time.perf_counter()
    task = asyncio.create_task(runner.run())
    while runner.processed < n:  # noqa: ASYNC110 - polls the runner's counter every millisecond
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    runner.stop()
    await task
    return elapsed


async def photobot_throughput(url: str, n: int, concurrency: int, batch: int) -> dict[str, Any]:
    queue = JobQueue.from_settings(settings_for(url))
    out: dict[str, Any] = {"jobs": n, "batch": batch, "worker_class_concurrency": concurrency}

    async def produce(jobs: list[Job]) -> None:
        for i in range(0, n, batch):
            await queue.enqueue_many(jobs[i : i + batch])
            await asyncio.sleep(0)

    flush(url)
    jobs = make_jobs(n)
    started = time.perf_counter()
    await produce(jobs)
    out["enqueue_only_jobs_per_s"] = round(n / (time.perf_counter() - started))
    for kind in ("noop_drainer", "worker_class"):
        if kind == "worker_class":
            flush(url)
            await produce(make_jobs(n))
        out[f"drain_only_{kind}_jobs_per_s"] = round(n / await drain(queue, n, kind, concurrency, batch))

    for kind in ("noop_drainer", "worker_class"):
        flush(url)
        before = commandstats(url)
        jobs = make_jobs(n)
        started = time.perf_counter()
        producer = asyncio.create_task(produce(jobs))
        await drain(queue, n, kind, concurrency, batch)
        await producer
        both_s = time.perf_counter() - started
        after = commandstats(url)
        out[f"enqueue_lease_complete_{kind}_jobs_per_s"] = round(n / both_s)
        out[f"client_calls_per_job_{kind}"] = round(delta(before, after, CLIENT_CALLS) / n, 4)
        out[f"server_commands_per_job_incl_lua_{kind}"] = round(delta(before, after) / n, 2)
    await queue.close()
    return out


async def pickup_latency(url: str, samples: int) -> dict[str, Any]:
    flush(url)
    queue = JobQueue.from_settings(settings_for(url))
    started_at: list[float] = []
    picked = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started_at.append(time.perf_counter())
        picked.set()

    worker = Worker(queue, handler, concurrency=1, idle_wait=5.0)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)
    latencies = []
    for i in range(samples):
        picked.clear()
        await asyncio.sleep(0.002)  # let the worker settle into its blocking wait
        sent = time.perf_counter()
        await queue.enqueue(Job(user_id=str(i), operation="noop", photo_id="p"))
        await picked.wait()
        latencies.append((started_at[-1] - sent) * 1000)
    worker.stop()
    await task
    await queue.close()
    latencies.sort()
    return {
        "samples": samples,
        "p50_ms": round(latencies[len(latencies) // 2], 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 3),
        "max_ms": round(latencies[-1], 3),
    }


async def arq_noop(ctx: dict[str, Any]) -> None:
    return None


async def arq_throughput(port: int, url: str, n: int, poll_delay: float, max_jobs: int) -> dict[str, Any]:
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker as ArqWorker

    flush(url)
    redis_settings = RedisSettings(host="127.0.0.1", port=port)
    pool = await create_pool(redis_settings)
    before = commandstats(url)
    started = time.perf_counter()
    for _ in range(n):
        await pool.enqueue_job("arq_noop")
    enqueue_s = time.perf_counter() - started
    worker = ArqWorker(functions=[arq_noop], redis_settings=redis_settings, burst=True,
                       poll_delay=poll_delay, max_jobs=max_jobs, handle_signals=False,
                       keep_result=60)
    drain_started = time.perf_counter()
    await worker.main()
    drain_s = time.perf_counter() - drain_started
    after = commandstats(url)
    await worker.close()
    await pool.aclose()
    assert worker.jobs_complete == n, f"arq completed {worker.jobs_complete} of {n}"
    return {
        "jobs": n, "poll_delay": poll_delay, "max_jobs": max_jobs,
        "enqueue_only_jobs_per_s": round(n / enqueue_s),
        "drain_only_jobs_per_s": round(n / drain_s),
        "enqueue_then_drain_jobs_per_s": round(n / (enqueue_s + drain_s)),
        "server_commands_per_job": round(delta(before, after) / n, 2),
    }


def redis_benchmark(port: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for clients, label in ((50, "50_clients"), (1, "1_client")):
        result = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", "100000", "-c", str(clients),
             "-t", "zadd,zpopmin", "--csv"],
            capture_output=True, text=True, timeout=300, check=True,
        )
        for line in result.stdout.splitlines()[1:]:
            fields = [f.strip('"') for f in line.split(",")]
            name = fields[0].split()[0].lower()
            out[f"{name}_per_s_{label}"] = round(float(fields[1]))
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--pickups", type=int, default=1000)
    parser.add_argument("--arq-default-jobs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    configure_logging("WARNING", "console", None)  # logs to stderr: stdout is the JSON alone
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp)).start()
        try:
            url = server.url
            server_info = cast(dict[str, Any], redis.Redis.from_url(url).info("server"))
            report: dict[str, Any] = {
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "redis": server_info["redis_version"],
                            "loadavg_before": [round(x, 2) for x in load_before]},
            }
            report["photobot"] = await photobot_throughput(url, args.jobs, args.concurrency, args.batch)
            report["photobot_pickup_latency"] = await pickup_latency(url, args.pickups)
            report["arq_tuned"] = await arq_throughput(server.port, url, args.jobs, 0.01, 50)
            report["arq_defaults"] = await arq_throughput(server.port, url, args.arq_default_jobs, 0.5, 10)
            flush(url)
            report["redis_benchmark"] = redis_benchmark(server.port)
        finally:
            server.stop()
    ours, arq = report["photobot"], report["arq_tuned"]
    report["ratio_vs_arq_tuned"] = {
        f"{what}_{kind}": round(ours[f"{what}_{kind}_jobs_per_s"] / arq[f"{theirs}_jobs_per_s"], 1)
        for kind in ("noop_drainer", "worker_class")
        for what, theirs in (("enqueue_lease_complete", "enqueue_then_drain"), ("drain_only", "drain_only"))
    }
    report["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
