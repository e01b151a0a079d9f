"""Workers as real processes: killed with SIGKILL mid-job, Redis stopped and started under them,
and two of them sharing 2,000 jobs. Every accepted job ends completed, exactly once where the
worker lived to acknowledge it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from photobot.config import Settings
from photobot.jobs import JobStatus
from photobot.queue import JobQueue
from tests.fixtures.redis_server import RedisServer, reply
from tests.queue_support import check_invariants, make_job, open_queue
from tests.waiting import eventually

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def worker_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "LEASE_", "RETRY_"))}
    env.update(REDIS_URL=url, DATA_DIR=str(tmp_path / "data"), LOG_FILE="none", LEASE_SECONDS="1",
               RETRY_BASE_SECONDS="0.05", RETRY_MAX_SECONDS="0.1", MAX_PENDING_PER_USER="100000",
               PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


class Processes:
    """Started subprocesses, each with its stderr in a file; all stopped at the end of a test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[str]] = []

    def start(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        log = (self.tmp_path / f"proc-{len(self.started)}.log").open("w")
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=log)
        self.started.append(proc)
        return proc

    def terminate(self, proc: subprocess.Popen[str], timeout: float = 15) -> tuple[int, str]:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


def completed_ids(url: str) -> set[str]:
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        return set(reply(r.zrange("{photobot}:completed", 0, -1)))
    finally:
        r.close()


async def test_job_of_a_worker_killed_mid_job_is_completed_once_by_another(
    settings: Settings, processes: Processes, tmp_path: Path
) -> None:
    url = settings.redis_url or ""
    async with open_queue(settings) as queue:
        job = (await queue.enqueue(make_job("1"))).job
        r = redis.Redis.from_url(url, decode_responses=True)
        doomed = processes.start(["-m", "tests.queue_worker_script", "hang"], worker_env(url, tmp_path))
        await eventually(lambda: r.llen("test:started") == 1, 20, "the first worker to start the job")
        assert r.lrange("test:started", 0, -1) == [f"{job.job_id}:{doomed.pid}"]
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()

        survivor = processes.start(["-m", "tests.queue_worker_script", "record"],
                                   worker_env(url, tmp_path))
        await eventually(lambda: job.job_id in completed_ids(url), 20, "the job to be completed")
        code, out = processes.terminate(survivor)
        assert code == 0 and out.strip() == "1"
        done = await queue.get(job.job_id)
        assert done is not None and done.status == JobStatus.COMPLETED
        assert done.attempts == 2 and done.error is None
        assert r.hgetall("test:runs") == {job.job_id: "1"}
        r.close()
    check_invariants(url)


async def test_worker_rides_out_a_redis_restart_and_no_accepted_job_is_lost(
    make_settings: Callable[..., Settings], processes: Processes, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "aof-redis", appendonly=True).start()
    try:
        settings = make_settings(redis_url=server.url, max_pending_per_user=100000)
        worker = processes.start(["-m", "tests.queue_worker_script", "record"],
                                 worker_env(server.url, tmp_path, TEST_JOB_SECONDS="0.02"))
        accepted: set[str] = set()
        async with open_queue(settings) as queue:

            async def enqueue_batch(batch_no: int) -> None:
                batch = [make_job(f"u{i % 5}", job_id=f"job-{batch_no}-{i}") for i in range(10)]
                while True:  # the same ids again after an error: enqueue is idempotent
                    try:
                        results = await queue.enqueue_many(batch)
                    except (redis.ConnectionError, OSError):
                        await asyncio.sleep(0.05)  # Redis is restarting: a client's retry pace
                        continue
                    accepted.update(result.job.job_id for result in results)
                    return

            await wait_for_workers(queue, 1)
            for batch_no in range(15):
                await enqueue_batch(batch_no)
            # Stop Redis while the worker is busy: some jobs are in flight, some wait.
            await eventually(lambda: len(completed_ids(server.url)) >= 30, 30, "work to be under way")
            server.stop()  # SHUTDOWN: the append-only file is flushed
            await asyncio.sleep(1.0)  # Redis stays down a while, the worker busy meanwhile
            server.start()
            for batch_no in range(15, 30):
                await enqueue_batch(batch_no)
                await asyncio.sleep(0.01)  # batches paced, arriving while the worker works
            await eventually(lambda: accepted <= completed_ids(server.url), 60,
                             "every accepted job to complete")
            assert worker.poll() is None, "the worker died with Redis"
            stats = await queue.stats()
            assert stats.counts["completed"] == 300 and stats.counts["pending"] == 0
        code, _ = processes.terminate(worker)
        assert code == 0
        assert len(accepted) == 300
        log = (tmp_path / "proc-0.log").read_text()
        assert "redis unavailable; retrying" in log and "redis reachable again" in log, log[-3000:]
        check_invariants(server.url)
    finally:
        server.stop()


async def test_two_worker_processes_complete_2000_jobs_exactly_once(
    make_settings: Callable[..., Settings], processes: Processes, tmp_path: Path
) -> None:
    settings = make_settings(max_pending_per_user=100000)
    url = settings.redis_url or ""
    env = worker_env(url, tmp_path, LEASE_SECONDS="30")
    workers = [processes.start(["-m", "photobot", "worker", "--noop"], env) for _ in range(2)]
    async with open_queue(settings) as queue:
        await wait_for_workers(queue, 2)
        ids: list[str] = []
        for batch in range(20):
            results = await queue.enqueue_many([make_job(f"u{(batch + i) % 9}") for i in range(100)])
            ids += [result.job.job_id for result in results]
            await asyncio.sleep(0.005)  # batches paced, arriving while the workers work
        await eventually(lambda: len(completed_ids(url)) == 2000, 60, "2,000 completions")
        processed = [int(processes.terminate(w)[1].strip()) for w in workers]
        assert sum(processed) == 2000, processed
        assert completed_ids(url) == set(ids)
        for jid in ids[::50]:
            job = await queue.get(jid)
            assert job is not None and job.attempts == 1 and job.status == JobStatus.COMPLETED
        r = redis.Redis.from_url(url, decode_responses=True)
        attempts = [r.hget(f"{{photobot}}:job:{jid}", "attempts") for jid in ids]
        r.close()
        assert set(attempts) == {"1"}, "a job was leased more than once"
    check_invariants(url)


async def wait_for_workers(queue: JobQueue, n: int) -> None:
    async def alive() -> bool:
        return (await queue.stats()).workers_alive >= n

    await eventually(alive, 30, f"{n} workers to start")
