"""Who is served first: strict priority between tiers, FIFO per user, round-robin between users,
aging against starvation, and positions that match the order leases really take."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from photobot.config import Settings
from photobot.queue import JobQueue
from tests.queue_support import check_invariants, make_job, open_queue


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    async with open_queue(make_settings(max_pending_per_user=1000)) as q:
        yield q


async def lease_one_by_one(queue: JobQueue, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        leases = await queue.lease("w")
        assert len(leases) == 1
        ids.append(leases[0].job.job_id)
    return ids


async def test_higher_tier_is_leased_first_whatever_the_enqueue_order(queue: JobQueue) -> None:
    free = await queue.enqueue(make_job("1", "free"))
    admin = await queue.enqueue(make_job("2", "admin"))
    premium = await queue.enqueue(make_job("3", "premium"))
    assert premium.job.priority == 10 and admin.job.priority == 20 and free.job.priority == 0
    leased = await lease_one_by_one(queue, 3)
    assert leased == [admin.job.job_id, premium.job.job_id, free.job.job_id]
    assert await queue.lease("w") == []


async def test_one_users_jobs_stay_fifo(queue: JobQueue) -> None:
    ids = [(await queue.enqueue(make_job("1"))).job.job_id for _ in range(10)]
    assert await lease_one_by_one(queue, 10) == ids


async def test_batched_lease_keeps_the_same_order(queue: JobQueue) -> None:
    ids = [(await queue.enqueue(make_job("1"))).job.job_id for _ in range(10)]
    leases = await queue.lease("w", count=4)
    leases += await queue.lease("w", count=100)
    assert [lease.job.job_id for lease in leases] == ids
    assert len({lease.token for lease in leases}) == 10


@pytest.mark.parametrize("batched", [False, True])
async def test_round_robin_five_single_users_are_served_within_six_leases_of_a_burst(
    queue: JobQueue, batched: bool
) -> None:
    burst = await queue.enqueue_many([make_job("heavy") for _ in range(50)])
    singles = [(await queue.enqueue(make_job(f"light{i}"))).job.job_id for i in range(5)]
    if batched:
        first_six = [lease.job.job_id for lease in await queue.lease("w", count=6)]
    else:
        first_six = await lease_one_by_one(queue, 6)
    assert set(singles) <= set(first_six)
    # The heavy user's jobs still come in their own order.
    rest = [lease.job.job_id for lease in await queue.lease("w", count=100)]
    heavy = [j for j in first_six + rest if j not in singles]
    assert heavy == [r.job.job_id for r in burst]
    check_invariants(queue.settings.redis_url or "")


async def test_users_take_turns_inside_a_tier(queue: JobQueue) -> None:
    a = [(await queue.enqueue(make_job("a"))).job.job_id for _ in range(3)]
    b = [(await queue.enqueue(make_job("b"))).job.job_id for _ in range(3)]
    c = [(await queue.enqueue(make_job("c"))).job.job_id for _ in range(1)]
    assert await lease_one_by_one(queue, 7) == [a[0], b[0], c[0], a[1], b[1], a[2], b[2]]


async def test_aging_lifts_a_waiting_low_tier_job_above_fresh_high_tier_jobs(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_queue(make_settings(aging_seconds=0.3)) as queue:
        old_free = await queue.enqueue(make_job("1", "free"))
        fresh_premium = await queue.enqueue(make_job("2", "premium"))
        # Before an aging period has passed, priority rules.
        first = (await queue.lease("w"))[0]
        assert first.job.job_id == fresh_premium.job.job_id
        await asyncio.sleep(0.35)  # an aging period passes
        newest_premium = await queue.enqueue(make_job("2", "premium"))
        leased = (await queue.lease("w"))[0]
        assert leased.job.job_id == old_free.job.job_id
        assert newest_premium.job.job_id != leased.job.job_id


async def test_aging_serves_a_low_tier_under_a_steady_high_tier_load(
    make_settings: Callable[..., Settings],
) -> None:
    async with open_queue(make_settings(aging_seconds=0.2, max_pending_per_user=1000)) as queue:
        free = await queue.enqueue(make_job("low", "free"))
        served_free = False
        for _ in range(40):
            await queue.enqueue_many([make_job("high", "admin") for _ in range(2)])
            leases = await queue.lease("w", count=1)
            if leases[0].job.job_id == free.job.job_id:
                served_free = True
                break
            await asyncio.sleep(0.02)  # the admin load keeps coming, a little at a time
        assert served_free, "the free job starved under admin load"


async def test_position_counts_exactly_the_jobs_leased_before(queue: JobQueue) -> None:
    rng = random.Random(7)
    jobs = []
    for _ in range(60):
        user = f"u{rng.randrange(5)}"
        tier = rng.choice(["free", "free", "premium", "admin"])
        jobs.append((await queue.enqueue(make_job(user, tier))).job.job_id)
    # Lease a few so the rings are mid-turn.
    await queue.lease("w", count=7)
    pending = [jid for jid in jobs if (await queue.get(jid)).status == "pending"]  # type: ignore[union-attr]
    positions = {jid: await queue.position(jid) for jid in pending}
    order = [lease.job.job_id for lease in await queue.lease("w", count=100)]
    for index, jid in enumerate(order):
        assert positions[jid] == index, f"{jid}: position {positions[jid]}, leased {index}th"
    assert await queue.position(order[0]) is None  # processing now
    assert await queue.position("no-such-job") is None
