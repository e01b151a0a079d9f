"""A job's life: dedup, the pending cap, leases and heartbeats, retries with backoff, failure,
cancel, requeue, the reaper, progress, histories and stats; the seed service's task API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis

from photobot.config import Settings
from photobot.jobs import JobStatus, PermanentJobError, TransientJobError, now_ms
from photobot.locales import error_text
from photobot.queue import (
    JobNotFound,
    JobQueue,
    LeaseLost,
    NotCancellable,
    NotRequeueable,
    PendingCapReached,
)
from tests.fixtures.redis_server import reply
from tests.queue_support import check_invariants, make_job, open_queue


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    settings = make_settings(
        max_pending_per_user=5, retry_base_seconds=10, retry_max_seconds=60, max_attempts=3, lease_seconds=30
    )
    async with open_queue(settings) as q:
        yield q
    check_invariants(settings.redis_url or "")


def expire_lease(url: str, job_id: str) -> None:
    """Time passing, without waiting: move the lease deadline into the past."""
    r = redis.Redis.from_url(url)
    r.zadd("{photobot}:processing", {job_id: 1}, xx=True)
    r.close()


def make_retry_due(url: str) -> None:
    r = redis.Redis.from_url(url)
    for job_id in reply(r.zrange("{photobot}:retry", 0, -1)):
        r.zadd("{photobot}:retry", {job_id: 1})
    r.close()


async def test_dedup_key_returns_the_existing_job(queue: JobQueue) -> None:
    first = await queue.enqueue(make_job("1", dedup_key="tg:5:77:blur"))
    again = await queue.enqueue(make_job("1", dedup_key="tg:5:77:blur", operation="sepia"))
    assert first.created and not again.created
    assert again.job.job_id == first.job.job_id and again.job.operation == "blur"
    other = await queue.enqueue(make_job("1", dedup_key="tg:5:77:sepia"))
    assert other.created
    # Still recognised after the job finished.
    leases = await queue.lease("w", count=5)
    await queue.complete_many(leases)
    late = await queue.enqueue(make_job("1", dedup_key="tg:5:77:blur"))
    assert not late.created and late.job.status == JobStatus.COMPLETED


async def test_same_job_id_twice_and_duplicates_inside_one_batch_are_one_job(queue: JobQueue) -> None:
    job = make_job("1")
    assert (await queue.enqueue(job)).created
    assert not (await queue.enqueue(job)).created
    twins = await queue.enqueue_many([make_job("2", dedup_key="k"), make_job("2", dedup_key="k")])
    assert [t.created for t in twins] == [True, False]
    assert twins[0].job.job_id == twins[1].job.job_id
    assert await queue.pending_count("cli:2") == 1


async def test_task_dedup_from_platform_chat_message_and_operation(queue: JobQueue) -> None:
    task = {
        "user_id": 9,
        "photo_id": "p",
        "operation": "blur",
        "platform": "telegram",
        "chat_id": 5,
        "message_id": 77,
        "tier": "premium",
    }
    first = await queue.enqueue_task(task)
    assert await queue.enqueue_task(dict(task)) == first
    assert await queue.enqueue_task({**task, "operation": "sepia"}) != first
    no_message = {"user_id": 9, "photo_id": "p", "operation": "blur", "platform": "telegram"}
    assert await queue.enqueue_task(no_message) != await queue.enqueue_task(no_message)


async def test_pending_cap_refuses_the_sixth_job_and_writes_nothing(queue: JobQueue) -> None:
    for _ in range(5):
        await queue.enqueue(make_job("1"))
    r = redis.Redis.from_url(queue.settings.redis_url or "")
    keys_before = r.dbsize()
    with pytest.raises(PendingCapReached) as caught:
        await queue.enqueue(make_job("1"))
    assert caught.value.code == "pending_cap" and caught.value.limit == 5
    assert "5" in error_text(caught.value, "ru")
    assert r.dbsize() == keys_before
    # Another user is not affected; a dedup hit is not refused.
    assert (await queue.enqueue(make_job("2"))).created
    # A finished job frees a place.
    lease = (await queue.lease("w"))[0]
    await queue.complete(lease)
    assert (await queue.enqueue(make_job(lease.job.user_id))).created
    r.close()


async def test_pending_cap_on_a_batch_is_all_or_nothing(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job("1") for _ in range(3)])
    with pytest.raises(PendingCapReached):
        await queue.enqueue_many([make_job("2"), make_job("1"), make_job("1"), make_job("1")])
    assert await queue.pending_count("cli:1") == 3
    assert await queue.pending_count("cli:2") == 0


async def test_heartbeat_extends_and_reports_lost_leases(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job("1"), make_job("2")])
    a, b = await queue.lease("w", count=2)
    r = redis.Redis.from_url(queue.settings.redis_url or "")
    before = reply(r.zscore("{photobot}:processing", a.job.job_id))
    await asyncio.sleep(0.01)  # the clock moves on: the renewed lease ends later
    assert await queue.heartbeat([a, b], worker_id="w") == [True, True]
    assert (reply(r.zscore("{photobot}:processing", a.job.job_id)) or 0) > (before or 0)
    expire_lease(queue.settings.redis_url or "", b.job.job_id)
    assert await queue.reap_expired() == 1
    assert await queue.heartbeat([a, b]) == [True, False]
    r.close()


async def test_expired_lease_is_retried_and_the_old_holder_cannot_ack(queue: JobQueue) -> None:
    await queue.enqueue(make_job("1"))
    old = (await queue.lease("old"))[0]
    expire_lease(queue.settings.redis_url or "", old.job.job_id)
    assert await queue.reap_expired() == 1
    job = await queue.get(old.job.job_id)
    assert job is not None and job.status == JobStatus.RETRYING and job.error is not None
    assert job.error.code == "lease_expired" and job.error.message is None  # a code, rendered where shown
    assert "retried" in error_text(job.error, "en") and "повторено" in error_text(job.error, "ru")
    make_retry_due(queue.settings.redis_url or "")
    assert await queue.promote_due_retries() == 1
    new = (await queue.lease("new"))[0]
    assert new.job.job_id == old.job.job_id and new.job.attempts == 2
    with pytest.raises(LeaseLost):
        await queue.complete(old)
    with pytest.raises(LeaseLost):
        await queue.fail(old, RuntimeError("late"))
    with pytest.raises(LeaseLost):
        await queue.save_progress(old, delivered=True)
    await queue.complete(new, result_ids=["r1"])
    done = await queue.get(new.job.job_id)
    assert done is not None and done.status == JobStatus.COMPLETED and done.result_ids == ["r1"]


async def test_transient_errors_back_off_exponentially_then_fail(queue: JobQueue) -> None:
    await queue.enqueue(make_job("1", language="ru"))
    delays = []
    for attempt in (1, 2):
        lease = (await queue.lease("w"))[0]
        assert lease.job.attempts == attempt
        before = now_ms()
        assert await queue.fail(lease, TransientJobError("network down")) == JobStatus.RETRYING
        job = await queue.get(lease.job.job_id)
        assert job is not None and job.next_retry_at is not None
        delays.append((job.next_retry_at - before) / 1000)
        assert job.error is not None and job.error.code == "temporary"
        assert job.error.params == {} and error_text(job.error, job.language).startswith("Временная")
        make_retry_due(queue.settings.redis_url or "")
        await queue.promote_due_retries()
    # base 10 s: attempt 1 waits 5-10 s, attempt 2 waits 10-20 s (jitter in [0.5, 1]).
    assert 4.9 <= delays[0] <= 10.1 and 9.9 <= delays[1] <= 20.1
    lease = (await queue.lease("w"))[0]
    assert await queue.fail(lease, TransientJobError()) == JobStatus.FAILED  # max_attempts=3
    assert await queue.pending_count("cli:1") == 0


async def test_permanent_error_fails_at_once_and_other_exceptions_retry(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job("1"), make_job("2")])
    bad, odd = await queue.lease("w", count=2)
    assert await queue.fail(bad, PermanentJobError("not an image")) == JobStatus.FAILED
    assert await queue.fail(odd, ZeroDivisionError("oops")) == JobStatus.RETRYING
    job = await queue.get(odd.job.job_id)
    assert job is not None and job.error is not None
    assert job.error.code == "internal" and "oops" not in job.error.model_dump_json()


async def test_cancel_pending_and_retrying_but_not_processing(queue: JobQueue) -> None:
    running = (await queue.enqueue(make_job("2"))).job
    lease = (await queue.lease("w"))[0]
    pending = (await queue.enqueue(make_job("1"))).job
    await queue.enqueue(make_job("1"))
    assert (await queue.cancel(pending.job_id)).status == JobStatus.CANCELLED
    with pytest.raises(NotCancellable):
        await queue.cancel(running.job_id)
    await queue.fail(lease, TransientJobError())
    with pytest.raises(JobNotFound):
        await queue.cancel(running.job_id, user_key="cli:1")  # not this user's job
    assert (await queue.cancel(running.job_id, user_key="cli:2")).status == JobStatus.CANCELLED
    with pytest.raises(NotCancellable):
        await queue.cancel(running.job_id)
    with pytest.raises(JobNotFound):
        await queue.cancel("nope")
    assert await queue.pending_count("cli:2") == 0


async def test_requeue_resets_attempts_and_requeue_all(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job(str(i)) for i in range(3)])
    for lease in await queue.lease("w", count=3):
        await queue.fail(lease, PermanentJobError())
    failed, total = await queue.list_jobs(JobStatus.FAILED)
    assert total == 3
    job = await queue.requeue(failed[0].job_id)
    assert job.status == JobStatus.PENDING and job.attempts == 0 and job.error is None
    with pytest.raises(NotRequeueable):
        await queue.requeue(failed[0].job_id)
    with pytest.raises(JobNotFound):
        await queue.requeue("nope")
    assert await queue.requeue_all_failed() == 2
    leases = await queue.lease("w", count=10)
    assert len(leases) == 3 and all(lease.job.attempts == 1 for lease in leases)


async def test_release_gives_the_lease_back_without_an_attempt(queue: JobQueue) -> None:
    first = (await queue.enqueue(make_job("1"))).job
    second = (await queue.enqueue(make_job("1"))).job
    lease = (await queue.lease("w"))[0]
    assert lease.job.job_id == first.job_id
    assert await queue.release([lease]) == [True]
    assert await queue.release([lease]) == [False]
    again = (await queue.lease("w"))[0]
    assert again.job.job_id == first.job_id and again.job.attempts == 1
    assert second.job_id != again.job.job_id


async def test_progress_and_fields(queue: JobQueue) -> None:
    job = (await queue.enqueue(make_job("1"))).job
    lease = (await queue.lease("w"))[0]
    saved = await queue.save_progress(lease, result_ids=["a", "b"], delivered=True, metadata={"k": 1})
    assert saved.result_ids == ["a", "b"] and saved.delivered and saved.metadata == {"k": 1}
    updated = await queue.set_fields(job.job_id, status_message_id=42, language="ru")
    assert updated.status_message_id == 42 and updated.language == "ru"
    await queue.complete(lease)  # keeps the stored results
    done = await queue.get(job.job_id)
    assert done is not None and done.result_ids == ["a", "b"]


async def test_history_filters_and_pages(queue: JobQueue) -> None:
    ids = [(await queue.enqueue(make_job("1"))).job.job_id for _ in range(5)]
    leases = await queue.lease("w", count=3)
    await queue.complete(leases[0])
    await queue.fail(leases[1], PermanentJobError())
    await queue.cancel(ids[4])
    page, total = await queue.user_jobs("cli:1", limit=2)
    assert total == 5 and [j.job_id for j in page] == [ids[4], ids[3]]  # newest first
    page, total = await queue.user_jobs("cli:1", limit=2, offset=4)
    assert total == 5 and [j.job_id for j in page] == [ids[0]]
    page, total = await queue.user_jobs("cli:1", status=JobStatus.PENDING)
    assert total == 1 and page[0].job_id == ids[3]
    page, total = await queue.list_jobs(status=JobStatus.PROCESSING, user_key="cli:1")
    assert total == 1 and page[0].job_id == ids[2]
    assert (await queue.user_jobs("cli:404"))[1] == 0
    page, total = await queue.list_jobs()
    assert total == 5 and len(page) == 5
    for status, expected in [
        (JobStatus.COMPLETED, ids[0]),
        (JobStatus.FAILED, ids[1]),
        (JobStatus.CANCELLED, ids[4]),
    ]:
        page, total = await queue.list_jobs(status=status)
        assert total == 1 and page[0].job_id == expected


async def test_stats_snapshot(queue: JobQueue) -> None:
    await queue.enqueue_many([make_job("1", "free"), make_job("2", "premium"), make_job("3", "premium")])
    leases = await queue.lease("w", count=2)
    await queue.complete(leases[0])
    await queue.fail(leases[1], PermanentJobError())
    stats = await queue.stats()
    assert stats.counts == {
        "pending": 1,
        "processing": 0,
        "retrying": 0,
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
    }
    assert stats.tiers == {"free": 1, "premium": 0, "admin": 0}
    assert stats.completed_last_minute == 1 and stats.failed_last_hour == 1
    assert stats.processing_p50_seconds is not None and stats.workers_alive == 1
    assert stats.oldest_wait_seconds >= 0


async def test_seed_task_api_round_trip(queue: JobQueue) -> None:
    task = {
        "user_id": 7,
        "photo_id": "drive-1",
        "operation": "sepia",
        "priority": 10,
        "chat_id": 3,
        "metadata": {"caption": "hi"},
    }
    job_id = await queue.enqueue_task(task)
    got = await queue.dequeue_task()
    assert got is not None and got["job_id"] == job_id
    for name, value in task.items():
        assert got[name] == (str(value) if name == "user_id" else value)
    assert got["tier"] == "premium"
    assert await queue.dequeue_task() is None
    await queue.ack_task(got)
    job = await queue.get(job_id)
    assert job is not None and job.status == JobStatus.COMPLETED
