"""Daily quotas in the queue: checked and counted in the enqueue script itself (no race between two
photos), over a rolling 24 hours, per user key; a cancelled job or one that failed on photobot's side
gives its unit back, a job the user's file failed does not.

Bad input tried: fifty photos of one user at once against a quota of five (exactly five pass), a
batch that would cross the quota (nothing of it is written), the same update twice (counted once),
a quota of 0, an unknown tier name and a negative quota in TIER_QUOTAS (refused at start).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import cast

import pytest
import redis

from photobot.config import Settings, SettingsError, load_settings
from photobot.jobs import Job, JobError, Platform, now_ms
from photobot.metrics import Metrics
from photobot.processing.errors import CorruptImage
from photobot.queue import JobQueue, QuotaReached
from photobot.queue.quota import WINDOW_MS, QuotaBook
from tests.queue_support import check_invariants, make_job, open_queue


def chat_job(user: str, tier: str = "free", **fields: object) -> Job:
    return make_job(user, tier, platform=Platform.TELEGRAM, chat_id=int(user), **fields)


@pytest.fixture
async def queue(make_settings: Callable[..., Settings]) -> AsyncIterator[JobQueue]:
    settings = make_settings(tier_quotas="free=3,premium=5,admin=unlimited", max_attempts=1)
    async with open_queue(settings) as q:
        yield q
    check_invariants(settings.redis_url or "")


async def test_the_quota_is_reached_and_the_next_photo_refused(queue: JobQueue) -> None:
    for _ in range(3):
        assert (await queue.enqueue(chat_job("7"))).created
    before = now_ms()
    with pytest.raises(QuotaReached) as refused:
        await queue.enqueue(chat_job("7"))
    assert refused.value.limit == 3 and refused.value.user_key == "tg:7"
    # A rolling window: the unit comes back a day after the oldest counted photo.
    assert before + WINDOW_MS - 5_000 <= refused.value.next_unit_ms <= now_ms() + WINDOW_MS
    assert 24 * 3600 - 10 <= refused.value.wait_seconds <= 24 * 3600
    book = QuotaBook(queue.redis, queue.settings)
    allowance = await book.allowance("tg:7", "free")
    assert (allowance.limit, allowance.used, allowance.left) == (3, 3, 0)
    assert await book.refused_today() == 1
    assert await queue.pending_count("tg:7") == 3
    # Another user, another tier, an operator's CLI job and an unlimited tier are not affected.
    assert (await queue.enqueue(chat_job("8"))).created
    assert (await queue.enqueue(chat_job("7", tier="premium"))).created
    assert (await queue.enqueue(make_job("7"))).created
    for _ in range(10):
        assert (await queue.enqueue(chat_job("9", tier="admin"))).created
    assert (await book.allowance("tg:9", "admin")).left is None


async def test_fifty_photos_at_once_take_exactly_the_quota(queue: JobQueue) -> None:
    results = await asyncio.gather(
        *(queue.enqueue(chat_job("5", tier="premium")) for _ in range(50)), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, QuotaReached)]
    assert len(created) == 5 and len(refused) == 45


async def test_a_batch_over_the_quota_writes_nothing_and_repeats_count_once(queue: JobQueue) -> None:
    first = chat_job("3", dedup_key="tg:3:1:blur")
    assert (await queue.enqueue(first)).created
    again = await queue.enqueue(chat_job("3", dedup_key="tg:3:1:blur"))  # the same update again
    assert not again.created
    with pytest.raises(QuotaReached):
        await queue.enqueue_many([chat_job("3"), chat_job("3"), chat_job("3")])
    assert await queue.pending_count("tg:3") == 1
    assert (await QuotaBook(queue.redis, queue.settings).allowance("tg:3", "free")).used == 1


async def test_cancelled_and_our_failures_give_the_unit_back_the_users_file_does_not(
    queue: JobQueue,
) -> None:
    book = QuotaBook(queue.redis, queue.settings)
    jobs = [chat_job("4") for _ in range(3)]
    await queue.enqueue_many(jobs)
    await queue.cancel(jobs[0].job_id)
    assert (await book.allowance("tg:4", "free")).used == 2
    [lease] = await queue.lease("w")
    await queue.fail(lease, CorruptImage())  # the user's file: the photo still counts
    assert (await book.allowance("tg:4", "free")).used == 2
    [lease] = await queue.lease("w")
    await queue.fail(lease, JobError())  # photobot's fault: given back
    assert (await book.allowance("tg:4", "free")).used == 1


async def test_a_job_whose_worker_died_gives_the_unit_back(queue: JobQueue) -> None:
    book = QuotaBook(queue.redis, queue.settings)
    await queue.enqueue(chat_job("6"))
    [lease] = await queue.lease("w")
    client = redis.Redis.from_url(queue.settings.redis_url or "")
    client.zadd("{photobot}:processing", {lease.job_id: 1}, xx=True)  # its lease ran out
    client.close()
    assert await queue.reap_expired() == 1
    assert (await book.allowance("tg:6", "free")).used == 0


async def test_a_unit_comes_back_a_day_after_its_photo(queue: JobQueue) -> None:
    for _ in range(3):
        await queue.enqueue(chat_job("2"))
    client = redis.Redis.from_url(queue.settings.redis_url or "")
    oldest = cast(list[bytes], client.zrange("{photobot}:quota:tg:2", 0, 0))[0]
    client.zadd("{photobot}:quota:tg:2", {oldest: now_ms() - WINDOW_MS - 1})  # a day passes for it
    client.close()
    book = QuotaBook(queue.redis, queue.settings)
    assert (await book.allowance("tg:2", "free")).left == 1
    assert (await queue.enqueue(chat_job("2"))).created


async def test_a_quota_of_zero_refuses_every_photo(make_settings: Callable[..., Settings]) -> None:
    metrics = Metrics()
    queue = JobQueue.from_settings(make_settings(tier_quotas="free=0"), metrics=metrics)
    try:
        with pytest.raises(QuotaReached) as refused:
            await queue.enqueue(chat_job("1"))
        assert refused.value.limit == 0
        assert metrics.registry.get_sample_value("photobot_quota_refusals_total", {"tier": "free"}) == 1
    finally:
        await queue.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("gold=5", "not one of TIERS"),
        ("free=-3", "negative"),
        ("free=lots", "not a number"),
        ("free", "pairs"),
    ],
)
def test_bad_tier_quotas_are_refused_at_start(redis_url: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(_env_file=None, redis_url=redis_url, tier_quotas=value)


def test_tier_quotas_default_and_unlimited(settings: Settings) -> None:
    assert settings.tier_quotas == {"free": 30, "premium": 500, "admin": None}
    assert Settings(_env_file=None, tier_quotas="free=5,premium=none").tier_quota("premium") is None


def test_default_quotas_and_premium_step_aside_for_tiers_of_other_names(redis_url: str) -> None:
    """TIERS without premium or admin: the default TIER_QUOTAS and PREMIUM_TIER do not stop the start
    (no quota for tiers they do not name, no premium for sale); values set by hand must name tiers."""
    custom = load_settings(_env_file=None, redis_url=redis_url, tiers="free=0,gold=10")
    assert custom.tier_quotas == {"free": 30} and custom.tier_quota("gold") is None
    assert not custom.premium_enabled and not custom.premium_for_sale
    with pytest.raises(SettingsError, match="PREMIUM_TIER 'premium' is not one of TIERS"):
        load_settings(_env_file=None, redis_url=redis_url, tiers="free=0,gold=10", premium_tier="premium")
    gold = load_settings(_env_file=None, redis_url=redis_url, tiers="free=0,gold=10", premium_tier="gold")
    assert gold.premium_for_sale
