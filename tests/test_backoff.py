"""The one backoff every retrying part uses: its bounds, its jitter, a server's retry_after, and the
pause that a stop cuts short."""

from __future__ import annotations

import asyncio
import time

import pytest

from photobot.backoff import Backoff, pause
from photobot.bot.telegram.requests import NETWORK_BACKOFF
from photobot.bot.vk.api import VK_BACKOFF
from photobot.queue.outage import REDIS_BACKOFF
from photobot.startup import START_BACKOFF


@pytest.mark.parametrize("attempt", [0, 1, 2, 5, 40, 10_000])
def test_waits_between_the_jitter_floor_and_the_capped_ceiling(attempt: int) -> None:
    backoff = Backoff(0.5, 32.0)
    ceiling = min(32.0, 0.5 * 2**min(attempt, 30))
    waits = [backoff.delay(attempt) for _ in range(200)]
    assert all(ceiling / 4 <= wait <= ceiling for wait in waits)
    assert len(set(waits)) > 1  # jittered


def test_no_jitter_is_the_exact_ceiling() -> None:
    assert [START_BACKOFF.delay(attempt) for attempt in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert [round(Backoff(0.05, 0.5, jitter=0, factor=1.5).delay(a), 4) for a in range(7)] == [
        0.05, 0.075, 0.1125, 0.1688, 0.2531, 0.3797, 0.5
    ]


@pytest.mark.parametrize(("backoff", "first", "cap"), [
    (NETWORK_BACKOFF, 0.5, 10.0), (VK_BACKOFF, 0.3, 8.0), (REDIS_BACKOFF, 0.05, 2.0),
])
def test_half_jitter_of_the_chat_and_redis_retries(backoff: Backoff, first: float, cap: float) -> None:
    assert all(first / 2 <= backoff.delay(0) <= first for _ in range(100))
    assert all(cap / 2 <= backoff.delay(30) <= cap for _ in range(100))


def test_retry_after_is_waited_at_least_up_to_the_cap() -> None:
    backoff = Backoff(0.1, 5.0)
    assert backoff.delay(0, retry_after=3.0) == 3.0
    assert backoff.delay(0, retry_after=60.0) == 5.0
    assert backoff.delay(0, retry_after=0.0) <= 0.1


async def test_pause_runs_its_course_unless_stopped() -> None:
    stop = asyncio.Event()
    started = time.monotonic()
    assert await pause(0.05, stop) is True
    assert time.monotonic() - started >= 0.05
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await pause(30, stop) is False
    assert time.monotonic() - started < 5
