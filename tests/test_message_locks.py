"""The per-status-message lock on a real redis-server: edits of one message take turns, a live
holder keeps the lock past its time to live, and a holder that died blocks the next editor for that
time only (a process killed mid-edit no longer stalls the job that runs again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from photobot.bot.state import MessageLocks
from photobot.jobs import Platform
from tests.waiting import eventually

PREFIX = "{photobot}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_edits_of_one_message_take_turns_and_others_do_not_wait(redis: Redis) -> None:
    locks = MessageLocks(redis, PREFIX, ttl=0.6)
    order: list[str] = []

    async def edit(name: str, message_id: int, seconds: float) -> None:
        async with locks.hold(Platform.TELEGRAM, 1, message_id):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)  # the edit's work, with the lock held
            order.append(f"{name} out")

    first = asyncio.ensure_future(edit("a", 10, 1.5))  # holds longer than the ttl: renewed
    await eventually(lambda: order == ["a in"], 5, "a to hold the lock")
    await asyncio.gather(edit("b", 10, 0), edit("other", 11, 0), first)
    assert order.index("other in") < order.index("a out")  # another message: no wait
    assert order.index("a out") < order.index("b in")  # the same message: after a, never during


async def test_a_dead_holder_blocks_for_the_ttl_only(redis: Redis) -> None:
    locks = MessageLocks(redis, PREFIX, ttl=0.5, wait_seconds=30)
    # A process that died while holding the lock: taken, never renewed, never released.
    dead = redis.lock(f"{PREFIX}:msglock:tg:1:12", timeout=0.5)
    assert await dead.acquire()
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with locks.hold(Platform.TELEGRAM, 1, 12):
        waited = loop.time() - started
    assert 0.2 < waited < 10.0  # about the ttl, not the 30 s a waiter would wait for a live holder
