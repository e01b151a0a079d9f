"""The VK long poll through the inbox, against the fake VK and a real redis-server: one chat whose
handler is stuck holds back no other chat, and events in hand when photobot stops are handled by
the next process first, in order, with the position kept.

Bad input tried: a chat whose handler never finishes, a stop with events in hand, an unreadable
event left in the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from photobot.bot.ratelimit import RateLimiter
from photobot.bot.vk.api import PoliteAPI
from photobot.bot.vk.polling import ConfirmingLongPoll
from tests.fakes.vk import FakeVK

pytestmark = pytest.mark.timeout(60)

PREFIX = "{photobot}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def poller(vk: FakeVK, redis: Redis, handle: Any) -> tuple[ConfirmingLongPoll, PoliteAPI]:
    api = PoliteAPI(vk.token, api_url=vk.api_url, limiter=RateLimiter(global_rate=1000))
    poll = ConfirmingLongPoll(api, vk.group_id, handle, redis, PREFIX, wait=1, grace_seconds=0.5)
    return poll, api


def text_of(event: dict[str, Any]) -> str:
    return str(event["object"]["message"]["text"])


async def test_a_stuck_chat_holds_back_no_other(async_vk: FakeVK, redis: Redis) -> None:
    handled: list[str] = []
    stuck = asyncio.Event()

    async def handle(event: dict[str, Any]) -> None:
        if event["object"]["message"]["peer_id"] == 1:
            await stuck.wait()
        handled.append(text_of(event))

    poll, api = poller(async_vk, redis, handle)
    task = asyncio.create_task(poll.run())
    try:
        await async_vk.wait_for(lambda: len(async_vk.calls("longpoll")) >= 1)
        async_vk.inject_photo(1, b"not really", "first of the stuck chat")
        async_vk.inject_photo(1, b"not really", "second of the stuck chat")
        for index in range(5):  # photos: each is handled, none supersedes another
            async_vk.inject_photo(2, b"not really", f"calm {index}")
        await async_vk.wait_for(lambda: len(handled) == 5, timeout=10)
        assert handled == [f"calm {i}" for i in range(5)]
        assert len(poll.lanes) == 2  # the stuck chat's two events are still in hand
        stuck.set()
        await async_vk.wait_for(lambda: len(handled) == 7, timeout=10)
    finally:
        stuck.set()
        poll.stop()
        await task
        await api.close()
    assert handled[5:] == ["first of the stuck chat", "second of the stuck chat"]


async def test_events_in_hand_at_a_stop_come_first_at_the_next_start(async_vk: FakeVK, redis: Redis) -> None:
    never = asyncio.Event()

    async def hang(event: dict[str, Any]) -> None:
        await never.wait()

    first, api = poller(async_vk, redis, hang)
    task = asyncio.create_task(first.run())
    await async_vk.wait_for(lambda: len(async_vk.calls("longpoll")) >= 1)
    async_vk.inject_text(3, "kept one")
    async_vk.inject_text(3, "/help")
    await async_vk.wait_for(lambda: len(first.lanes) == 2, timeout=10)
    first.stop()
    await task  # the lane does not finish within the grace: its events stay in the inbox
    await api.close()
    saved_ts = await redis.get(f"{PREFIX}:vk:ts:{async_vk.group_id}")
    assert saved_ts == first.ts and saved_ts is not None
    inbox_key = f"{PREFIX}:vk:inbox:{async_vk.group_id}"
    assert await cast(Awaitable[int], redis.hlen(inbox_key)) == 2
    # Left by something else: dropped, logged.
    await cast(Awaitable[int], redis.hset(inbox_key, "0:0", "[not an event"))

    handled: list[str] = []

    async def handle(event: dict[str, Any]) -> None:
        handled.append(text_of(event))

    async_vk.inject_text(3, "new one")
    second, api = poller(async_vk, redis, handle)
    task = asyncio.create_task(second.run())
    try:
        await async_vk.wait_for(lambda: len(handled) == 3, timeout=10)
    finally:
        second.stop()
        await task
        await api.close()
    assert handled == ["kept one", "/help", "new one"]
    assert await cast(Awaitable[int], redis.hlen(inbox_key)) == 0
