"""A status-filtered job list reads an index, not the user's whole history.

With thousands of finished jobs, `user_jobs(status=...)` used to read every job's status inside one
Lua call (Redis serves nobody else meanwhile). Redis counts the commands a script runs, so the test
counts them instead of timing anything: a page of a status costs about its own size. Also tried:
a failed job requeued (leaves the failed index), cancelled and unfinished jobs, paging past the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis

from photobot.config import Settings
from photobot.jobs import JobStatus, PermanentJobError
from photobot.queue import JobQueue
from tests.fixtures.redis_server import reply
from tests.queue_support import check_invariants, make_job, open_queue

FINISHED = 1500


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    async with open_queue(make_settings(max_pending_per_user=100_000, tier_quotas="")) as q:
        yield q
    check_invariants(q.settings.redis_url or "")


def hash_reads(url: str) -> int:
    """Job-hash reads Redis has counted since the last CONFIG RESETSTAT (calls from scripts too)."""
    client = redis.Redis.from_url(url)
    stats = reply(client.info("commandstats"))
    client.close()
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("hget", "hmget", "hgetall"))


def reset_stats(url: str) -> None:
    client = redis.Redis.from_url(url)
    client.config_resetstat()
    client.close()


async def test_a_status_page_costs_its_size_not_the_history(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job("1") for _ in range(FINISHED)])
    while leases := await queue.lease("w", count=500):
        await queue.complete_many(leases)
    failed = (await queue.enqueue(make_job("1"))).job
    lease = (await queue.lease("w"))[0]
    assert await queue.fail(lease, PermanentJobError("bad")) == JobStatus.FAILED
    waiting = (await queue.enqueue(make_job("1"))).job
    url = queue.settings.redis_url or ""

    reset_stats(url)
    jobs, total = await queue.user_jobs("cli:1", JobStatus.FAILED, limit=10)
    assert [job.job_id for job in jobs] == [failed.job_id] and total == 1
    assert hash_reads(url) <= 5, "only the page's own hashes are read"

    reset_stats(url)
    jobs, total = await queue.user_jobs("cli:1", JobStatus.COMPLETED, limit=20, offset=FINISHED - 5)
    assert len(jobs) == 5 and total == FINISHED
    assert hash_reads(url) <= 25

    jobs, total = await queue.user_jobs("cli:1", JobStatus.PENDING)
    assert [job.job_id for job in jobs] == [waiting.job_id] and total == 1
    assert (await queue.user_jobs("cli:1", JobStatus.PROCESSING)) == ([], 0)

    await queue.requeue(failed.job_id)
    assert (await queue.user_jobs("cli:1", JobStatus.FAILED)) == ([], 0)
    await queue.cancel(waiting.job_id)
    jobs, _ = await queue.user_jobs("cli:1", JobStatus.CANCELLED)
    assert [job.job_id for job in jobs] == [waiting.job_id]
    _, everything = await queue.user_jobs("cli:1")
    assert everything == FINISHED + 2
