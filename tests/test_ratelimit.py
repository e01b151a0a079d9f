"""The outgoing rate limiter and the aiogram request middleware.

Unit seams only (a fake clock, and a `make_request` that raises what Telegram would): bursts, the
per-chat and per-group budgets, retry_after obeyed, network errors retried, 403 not retried, and a
send not repeated when it may have reached Telegram.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.methods import EditMessageCaption, GetMe, SendMessage
from aiohttp import ClientConnectorError
from aiohttp.client_reqrep import ConnectionKey

from photobot.backoff import Backoff
from photobot.bot.ratelimit import RateLimiter
from photobot.bot.telegram.requests import PoliteRequests
from photobot.metrics import Metrics


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: Clock, **kw: Any) -> RateLimiter:
    options: dict[str, Any] = {"global_rate": 30.0, "chat_rate": 1.0, "chat_burst": 3, "group_per_minute": 20}
    options.update(kw)
    return RateLimiter(clock=clock, sleep=clock.sleep, **options)


async def test_chat_burst_then_one_per_second() -> None:
    clock = Clock()
    rl = limiter(clock)
    waits = [(await rl.acquire(1)).seconds for _ in range(5)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(1.0) and waits[4] == pytest.approx(1.0)


async def test_chats_do_not_share_a_budget_but_share_the_global_one() -> None:
    clock = Clock()
    rl = limiter(clock, global_rate=5.0)
    waits = [(await rl.acquire(chat)).seconds for chat in range(10)]
    assert sum(1 for w in waits if w == 0) == 5  # the global burst
    assert clock.now - 1000.0 == pytest.approx(1.0)  # 5 more at 5/s


async def test_groups_are_limited_per_minute() -> None:
    clock = Clock()
    rl = limiter(clock, chat_rate=100.0, chat_burst=3, group_per_minute=20)
    for _ in range(23):
        await rl.acquire(-100)
    # 3 in the burst, then 20 more at 20 a minute: about a minute.
    assert clock.now - 1000.0 == pytest.approx(60.0, rel=0.01)


async def test_a_backed_up_chat_does_not_hold_back_the_others() -> None:
    rl = RateLimiter(global_rate=30.0, chat_rate=1.0, chat_burst=1)
    queued = [asyncio.ensure_future(rl.acquire(1)) for _ in range(5)]  # chat 1's turns: 0 to 4 s ahead
    await asyncio.sleep(0)  # chat 1's acquires run first and reserve their turns
    try:
        assert (await rl.acquire(2)).seconds == 0
    finally:
        for task in queued:
            task.cancel()
        await asyncio.gather(*queued, return_exceptions=True)


async def test_pause_holds_a_chat() -> None:
    clock = Clock()
    rl = limiter(clock)
    rl.pause(5, 7.0)
    assert (await rl.acquire(5)).seconds == pytest.approx(7.0)
    assert (await rl.acquire(6)).seconds == 0


@pytest.mark.parametrize("paused_chat", [5, None], ids=["chat", "global"])
async def test_a_retry_after_that_comes_while_a_call_waits_holds_that_call(paused_chat: int | None) -> None:
    """The call reserved its turn 1 s ahead; a 429 with retry_after 3 answered meanwhile (into the
    chat, or for the whole bot) moves it to the end of the pause, not into it."""
    clock = Clock()
    rl = limiter(clock, chat_burst=1)
    await rl.acquire(5)

    async def sleep_while_a_429_comes(seconds: float) -> None:
        if not clock.slept:
            rl.pause(paused_chat, 3.0)
        await clock.sleep(seconds)

    rl._sleep = sleep_while_a_429_comes
    wait = await rl.acquire(5)
    assert clock.now == pytest.approx(1003.0)
    assert wait.seconds == pytest.approx(3.0)
    assert wait.scope == ("chat" if paused_chat else "global")


class VirtualTime:
    """A clock whose sleeps end in order of their wake-up time, with no real waiting, so several
    callers can wait at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), woken))
        await woken

    async def run(self, *steps: Awaitable[float]) -> list[float]:
        tasks = [asyncio.ensure_future(step) for step in steps]
        while not all(task.done() for task in tasks):
            for _ in range(10):  # let every task run up to its next sleep
                await asyncio.sleep(0)
            if self._sleepers:
                at, _, woken = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                woken.set_result(None)
        return [task.result() for task in tasks]


async def test_calls_held_by_a_retry_after_go_one_turn_apart_after_it() -> None:
    """Three calls into a chat hold turns 0, 1 and 2 s ahead; at 0.5 s Telegram says retry_after 3.
    The first went before; the other two go after the pause, a turn apart, not together at its end."""
    virtual = VirtualTime()
    rl = RateLimiter(global_rate=30.0, chat_rate=1.0, chat_burst=1, clock=virtual, sleep=virtual.sleep)

    async def send() -> float:
        await rl.acquire(5)
        return virtual.now

    async def refuse() -> float:
        await virtual.sleep(0.5)
        rl.pause(5, 3.0)
        return virtual.now

    sent = await virtual.run(send(), send(), send(), refuse())
    assert sent[:3] == [pytest.approx(1000.0), pytest.approx(1003.5), pytest.approx(1004.5)]


class Requests:
    """A scripted make_request: raises the given errors in turn, then answers."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, bot: Bot, method: Any) -> Any:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


@pytest.fixture
def bot() -> Bot:
    return Bot("123456:" + "A" * 35)


def middleware(clock: Clock, metrics: Metrics | None = None) -> PoliteRequests:
    return PoliteRequests(limiter(clock), metrics, backoff=Backoff(0.0))


async def test_retry_after_is_obeyed(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr("photobot.bot.ratelimit.asyncio.sleep", clock.sleep)
    method = SendMessage(chat_id=1, text="x")
    requests = Requests(TelegramRetryAfter(method, "429", 3), TelegramRetryAfter(method, "429", 2))
    metrics = Metrics()
    assert cast(object, await middleware(clock, metrics)(requests, bot, method)) == "ok"
    assert requests.calls == 3
    assert 3 in clock.slept and 2 in clock.slept
    sample = metrics.registry.get_sample_value(
        "photobot_chat_api_calls_total",
        {"platform": "telegram", "method": "sendMessage", "outcome": "retry_after"},
    )
    assert sample == 2


async def test_blocked_user_is_not_retried(bot: Bot) -> None:
    method = SendMessage(chat_id=1, text="x")
    requests = Requests(TelegramForbiddenError(method, "Forbidden: bot was blocked by the user"))
    with pytest.raises(TelegramForbiddenError):
        await middleware(Clock())(requests, bot, method)
    assert requests.calls == 1


async def test_network_errors_on_edits_are_retried(bot: Bot) -> None:
    method = EditMessageCaption(chat_id=1, message_id=2, caption="x")
    requests = Requests(TelegramNetworkError(method, "timeout"), TelegramNetworkError(method, "timeout"))
    assert cast(object, await middleware(Clock())(requests, bot, method)) == "ok"
    assert requests.calls == 3


async def test_a_send_that_may_have_arrived_is_not_repeated(bot: Bot) -> None:
    method = SendMessage(chat_id=1, text="x")
    requests = Requests(TelegramNetworkError(method, "Request timeout error"))
    with pytest.raises(TelegramNetworkError):
        await middleware(Clock())(requests, bot, method)
    assert requests.calls == 1


async def test_a_send_that_never_connected_is_repeated(bot: Bot) -> None:
    method = SendMessage(chat_id=1, text="x")
    error = TelegramNetworkError(method, "cannot connect")
    key = ConnectionKey("h", 1, False, True, None, None, None)
    error.__cause__ = ClientConnectorError(key, OSError(111, "refused"))
    requests = Requests(error)
    assert cast(object, await middleware(Clock())(requests, bot, method)) == "ok"
    assert requests.calls == 2


async def test_calls_that_are_not_messages_skip_the_budget(bot: Bot) -> None:
    clock = Clock()
    mw = middleware(clock)
    for _ in range(50):
        await mw(Requests(), bot, GetMe())
    assert clock.slept == []
