"""The worker in this process: concurrency, error classification, heartbeats, lease loss,
graceful stop, and wake-up by enqueue rather than by polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from photobot.config import Settings
from photobot.jobs import JobStatus, PermanentJobError, TransientJobError
from photobot.metrics import Metrics
from photobot.queue import JobContext, JobQueue, Maintenance, Worker
from tests.queue_support import check_invariants, make_job, open_queue
from tests.waiting import eventually


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    settings = make_settings(
        lease_seconds=0.6,
        retry_base_seconds=0.05,
        retry_max_seconds=0.1,
        max_attempts=3,
        max_pending_per_user=1000,
    )
    async with open_queue(settings) as q:
        yield q
    check_invariants(settings.redis_url or "")


async def status_of(queue: JobQueue, job_id: str) -> JobStatus:
    job = await queue.get(job_id)
    assert job is not None
    return job.status


async def test_runs_at_most_concurrency_jobs_at_once_and_completes_all(queue: JobQueue) -> None:
    running, peak, done = 0, 0, []

    async def handler(ctx: JobContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)  # the job's work, during which others may start
        running -= 1
        ctx.result_ids = [f"result-{ctx.job.job_id}"]
        done.append(ctx.job.job_id)

    results = await queue.enqueue_many([make_job(str(i % 7)) for i in range(60)])
    worker = Worker(queue, handler, concurrency=4, metrics=Metrics())
    task = asyncio.create_task(worker.run())
    await eventually(lambda: worker.processed == 60)
    worker.stop()
    await task
    assert peak == 4 and sorted(done) == sorted(r.job.job_id for r in results)
    job = await queue.get(results[0].job.job_id)
    assert job is not None and job.status == JobStatus.COMPLETED
    assert job.result_ids == [f"result-{job.job_id}"]


async def test_a_job_that_steps_aside_frees_its_place_and_keeps_its_lease(queue: JobQueue) -> None:
    """Jobs waiting on a slow chat step aside: the others still get all the places, and the
    waiting ones stay leased (heartbeats go on) until they finish; beyond `max_aside`, a waiting
    job keeps its place."""
    chat_open = asyncio.Event()
    slow_waiting, quick_done = 0, 0
    running, peak = 0, 0

    async def handler(ctx: JobContext) -> None:
        nonlocal slow_waiting, quick_done, running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)  # the job's work, during which others may start
        running -= 1
        if ctx.job.operation == "slow-chat":
            ctx.step_aside()
            slow_waiting += 1
            await chat_open.wait()
        else:
            quick_done += 1

    await queue.enqueue_many([make_job("slow", operation="slow-chat") for _ in range(4)])
    quick = await queue.enqueue_many([make_job(str(i), operation="quick") for i in range(20)])
    worker = Worker(queue, handler, concurrency=2, max_aside=3, metrics=Metrics())
    task = asyncio.create_task(worker.run())
    await eventually(lambda: quick_done == 20 and slow_waiting == 4)
    await asyncio.sleep(1.0)  # beyond the 0.6 s lease: the waiting ones are kept by heartbeats
    stats = await queue.stats()
    assert peak <= 2 and worker.aside == 3  # the fourth keeps its place
    assert stats.counts["processing"] == 4 and worker.processed == 20
    chat_open.set()
    await eventually(lambda: worker.processed == 24)
    worker.stop()
    await task
    assert [await status_of(queue, r.job.job_id) for r in quick] == [JobStatus.COMPLETED] * 20


async def test_errors_are_classified(queue: JobQueue) -> None:
    bad = (await queue.enqueue(make_job("1", operation="bad"))).job
    flaky = (await queue.enqueue(make_job("2", operation="flaky"))).job
    bug = (await queue.enqueue(make_job("3", operation="bug"))).job
    calls: dict[str, int] = {}

    async def handler(ctx: JobContext) -> None:
        calls[ctx.job.operation] = calls.get(ctx.job.operation, 0) + 1
        if ctx.job.operation == "bad":
            raise PermanentJobError("not an image")
        if ctx.job.operation == "flaky" and ctx.job.attempts < 2:
            raise TransientJobError("timeout")
        if ctx.job.operation == "bug":
            raise KeyError("internal detail")

    worker = Worker(queue, handler, concurrency=3)
    maintenance = Maintenance(queue, interval=0.02)
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(maintenance.run())]
    await eventually(lambda: calls.get("bug", 0) == 3 and calls.get("flaky", 0) == 2)

    async def recorded() -> bool:  # just after the handler's last call
        statuses = [await status_of(queue, job.job_id) for job in (bad, flaky, bug)]
        return statuses == [JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.FAILED]

    await eventually(recorded, 10, "the three outcomes to be recorded")
    worker.stop()
    maintenance.stop()
    await asyncio.gather(*tasks)
    assert await status_of(queue, bad.job_id) == JobStatus.FAILED and calls["bad"] == 1
    assert await status_of(queue, flaky.job_id) == JobStatus.COMPLETED
    failed_bug = await queue.get(bug.job_id)
    assert failed_bug is not None and failed_bug.status == JobStatus.FAILED
    assert failed_bug.error is not None and "internal detail" not in failed_bug.error.model_dump_json()


async def test_heartbeats_keep_a_long_job_leased(queue: JobQueue) -> None:
    job = (await queue.enqueue(make_job("1"))).job
    runs = 0

    async def handler(ctx: JobContext) -> None:
        nonlocal runs
        runs += 1
        await asyncio.sleep(2.0)  # more than three lease periods

    worker = Worker(queue, handler, concurrency=1)
    maintenance = Maintenance(queue, interval=0.05)
    tasks = [asyncio.create_task(worker.run()), asyncio.create_task(maintenance.run())]
    await eventually(lambda: worker.processed == 1)
    worker.stop()
    maintenance.stop()
    await asyncio.gather(*tasks)
    done = await queue.get(job.job_id)
    assert runs == 1 and done is not None and done.status == JobStatus.COMPLETED
    assert done.attempts == 1


async def test_a_lost_lease_cancels_the_handler(queue: JobQueue) -> None:
    job = (await queue.enqueue(make_job("1"))).job
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)  # a job that would run long
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker = Worker(queue, handler, concurrency=1)
    task = asyncio.create_task(worker.run())
    await started.wait()
    r = redis.Redis.from_url(queue.settings.redis_url or "")
    r.zadd("{photobot}:processing", {job.job_id: 1}, xx=True)  # the lease runs out
    r.close()
    assert await queue.reap_expired() == 1
    await asyncio.wait_for(cancelled.wait(), 5)
    worker.stop()
    await task
    assert await status_of(queue, job.job_id) == JobStatus.RETRYING


async def test_stop_lets_quick_jobs_finish_and_gives_slow_leases_back(queue: JobQueue) -> None:
    quick = (await queue.enqueue(make_job("1", operation="quick"))).job
    slow = (await queue.enqueue(make_job("2", operation="slow"))).job
    started: set[str] = set()

    async def handler(ctx: JobContext) -> None:
        started.add(ctx.job.operation)
        await asyncio.sleep(0.2 if ctx.job.operation == "quick" else 30)  # the jobs' work

    worker = Worker(queue, handler, concurrency=2, grace_seconds=0.5)
    task = asyncio.create_task(worker.run())
    await eventually(lambda: started == {"quick", "slow"})
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert await status_of(queue, quick.job_id) == JobStatus.COMPLETED
    given_back = await queue.get(slow.job_id)
    assert given_back is not None and given_back.status == JobStatus.PENDING
    assert given_back.attempts == 0  # a graceful stop does not spend an attempt


async def test_idle_worker_is_woken_by_enqueue_not_by_polling(queue: JobQueue) -> None:
    picked = asyncio.Event()

    async def handler(ctx: JobContext) -> None:
        picked.set()

    # A 30 s wait between polls: only the wake-up can explain a pickup within a second.
    worker = Worker(queue, handler, concurrency=1, idle_wait=30)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.3)  # the worker gets into its blocking wait (the scenario: no sign shows it)
    await queue.enqueue(make_job("1"))
    await asyncio.wait_for(picked.wait(), 1.0)
    await asyncio.sleep(0.1)  # blocked waiting again (as above)
    worker.stop()  # returns at once, without waiting out the 30 s
    await asyncio.wait_for(task, 2)


async def test_worker_is_counted_alive_in_stats(queue: JobQueue) -> None:
    async def handler(ctx: JobContext) -> None:
        return None

    worker = Worker(queue, handler, concurrency=1, worker_id="w-alive", idle_wait=0.1)
    task = asyncio.create_task(worker.run())

    async def counted() -> bool:
        return (await queue.stats()).workers_alive == 1

    await eventually(counted, 10, "the worker to be counted alive")
    worker.stop()
    await task
