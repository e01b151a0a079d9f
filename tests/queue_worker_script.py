"""A worker process for the multi-process queue tests: `python -m tests.queue_worker_script MODE`.

MODE hang: note the job in `test:started`, then work on it forever (to be killed mid-job).
MODE record: count each run in the hash `test:runs`, then complete.
Settings come from the environment, like photobot's own worker; SIGTERM stops it gracefully.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable
from typing import cast

from photobot.config import load_settings
from photobot.logs import configure_logging
from photobot.queue import JobContext, JobQueue, Maintenance, Worker


async def main(mode: str) -> int:
    settings = load_settings()
    configure_logging("INFO", "json", None, to_stderr=True)
    queue = JobQueue.from_settings(settings)

    async def handler(ctx: JobContext) -> None:
        if mode == "hang":
            started = f"{ctx.job.job_id}:{os.getpid()}"
            await cast(Awaitable[int], ctx.queue.redis.rpush("test:started", started))
            await asyncio.sleep(3600)  # a job that hangs
        await asyncio.sleep(float(os.environ.get("TEST_JOB_SECONDS", "0")))  # the job's work
        await cast(Awaitable[int], ctx.queue.redis.hincrby("test:runs", ctx.job.job_id, 1))

    worker = Worker(queue, handler, concurrency=int(os.environ.get("TEST_CONCURRENCY", "4")),
                    grace_seconds=2.0)
    maintenance = Maintenance(queue, interval=0.05)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, worker.stop)
    background = asyncio.create_task(maintenance.run())
    await worker.run()
    maintenance.stop()
    await background
    await queue.close()
    print(worker.processed, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1])))
