"""One limiter for every outgoing Telegram call, as an aiogram session middleware (VK reuses the
`RateLimiter` for its token's budget, in photobot.bot.vk.api).

Telegram allows about 30 messages a second overall, about one a second to one chat (short bursts
are tolerated) and 20 a minute to one group. `RateLimiter` keeps those budgets with GCRA buckets
(a reservation per call, so waiters are served in order and nobody spins); `PoliteRequests` puts it
in front of aiogram's `make_request`, so every call of every part goes through it, and it obeys
`retry_after`, retries network errors with backoff and lets "blocked by the user" (403) through at
once, since retrying cannot help.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientConnectorError

from photobot.backoff import Backoff
from photobot.logs import get_logger
from photobot.metrics import Metrics

if TYPE_CHECKING:
    from aiogram import Bot

log = get_logger(__name__)

# Calls that put a message in a chat count against the chat budgets; the rest (getUpdates,
# answerCallbackQuery, getFile, setMyCommands...) only go through retry handling.
_MESSAGE_PREFIXES = ("send", "edit", "copy", "forward", "stop")
# Calls that create something: a network error after the request left may mean it was done, so they
# are retried only when the connection was never made.
_CREATING_PREFIXES = ("send", "copy", "forward")
# Between two tries of a call that met a network or server error: half to all of 0.5, 1, 2... 10 s.
NETWORK_BACKOFF = Backoff(0.5, 10.0, jitter=0.5)


class _Bucket:
    """GCRA: `tat` is the theoretical arrival time of the next call at the steady rate;
    `paused_until` is the end of the last retry_after Telegram gave."""

    __slots__ = ("interval", "paused_until", "tat", "tolerance")

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = (max(1, burst) - 1) * self.interval
        self.tat = 0.0
        self.paused_until = 0.0

    def allowed_at(self, now: float) -> float:
        return max(self.tat, now) - self.tolerance

    def take(self, start: float) -> None:
        self.tat = max(self.tat, start) + self.interval


@dataclass(frozen=True)
class Wait:
    seconds: float
    scope: str  # which budget made the call wait: global, chat or group


class RateLimiter:
    """Global, per-chat and per-group budgets; `acquire` reserves a slot and sleeps until it."""

    def __init__(
        self,
        *,
        global_rate: float = 30.0,
        chat_rate: float = 1.0,
        chat_burst: int = 3,
        group_per_minute: int = 20,
        global_burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._global = _Bucket(global_rate, global_burst or max(1, int(global_rate)))
        self._chat_rate = chat_rate
        self._chat_burst = chat_burst
        self._group_rate = group_per_minute / 60.0
        self._group_burst = min(chat_burst, group_per_minute)
        self._chats: dict[int | str, _Bucket] = {}
        self._groups: dict[int | str, _Bucket] = {}
        self._clock = clock
        self._sleep = sleep

    def _reserve(self, buckets: list[tuple[str, _Bucket]]) -> Wait:
        """Take the first slot every bucket allows; returns how long to wait for it."""
        now = self._clock()
        scope, start = "none", now
        for name, bucket in buckets:
            at = bucket.allowed_at(now)
            if at > start + 1e-9:  # float noise must not turn a free slot into a wait
                scope, start = name, at
        for _, bucket in buckets:
            bucket.take(start)
        return Wait(max(0.0, start - now), scope)

    async def acquire(self, chat_id: int | str | None) -> Wait:
        """Wait for the chat's turn (its own and its group's budget), then for a global slot.

        The global slot is taken only once the chat's turn has come: reserved together, a chat
        whose turn is far ahead (a flood, a retry_after) would push the global budget's next slot
        just as far and hold back every other chat until then. A retry_after that came while the
        call slept voids its turn: it takes a new one after the pause, in line with the others.
        """
        waited, scope = 0.0, "none"
        chat: list[tuple[str, _Bucket]] = []
        if chat_id is not None:
            chat.append(("chat", self._bucket(self._chats, chat_id, self._chat_rate, self._chat_burst)))
            if _is_group(chat_id):
                chat.append(
                    ("group", self._bucket(self._groups, chat_id, self._group_rate, self._group_burst))
                )
        while True:
            for buckets in (chat, [("global", self._global)]):
                if not buckets:
                    continue
                wait = self._reserve(buckets)
                if wait.seconds > 0:
                    await self._sleep(wait.seconds)
                    if wait.seconds > waited:
                        scope = wait.scope
                    waited += wait.seconds
            now = self._clock()
            if all(bucket.paused_until <= now for _, bucket in [*chat, ("global", self._global)]):
                return Wait(waited, scope)

    def pause(self, chat_id: int | str | None, seconds: float) -> None:
        """Telegram said retry_after: nobody sends to that chat (or at all) before then."""
        until = self._clock() + seconds
        if chat_id is None:
            bucket = self._global
        else:
            bucket = self._bucket(self._chats, chat_id, self._chat_rate, self._chat_burst)
        bucket.tat = max(bucket.tat, until + bucket.tolerance)
        bucket.paused_until = max(bucket.paused_until, until)

    def _bucket(
        self, table: dict[int | str, _Bucket], chat_id: int | str, rate: float, burst: int
    ) -> _Bucket:
        bucket = table.get(chat_id)
        if bucket is None:
            if len(table) > 10_000:
                self._forget_idle(table)
            bucket = table[chat_id] = _Bucket(rate, burst)
        return bucket

    def _forget_idle(self, table: dict[int | str, _Bucket]) -> None:
        now = self._clock()
        for key in [key for key, bucket in table.items() if bucket.tat < now]:
            del table[key]


def _is_group(chat_id: int | str) -> bool:
    # Telegram: groups, supergroups and channels have negative ids; "@name" addresses a channel.
    return (isinstance(chat_id, int) and chat_id < 0) or (
        isinstance(chat_id, str) and chat_id.startswith("@")
    )


@dataclass(eq=False)
class PoliteRequests(BaseRequestMiddleware):
    """aiogram session middleware: rate limits, obeys retry_after, retries network errors."""

    limiter: RateLimiter
    metrics: Metrics | None = None
    _: KW_ONLY
    max_retry_after: int = 20
    max_network_retries: int = 5
    backoff: Backoff = NETWORK_BACKOFF

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        chat_id = getattr(method, "chat_id", None)
        limited = name.startswith(_MESSAGE_PREFIXES)
        retry_afters = network_errors = 0
        while True:
            if limited:
                wait = await self.limiter.acquire(chat_id)
                if wait.seconds > 0 and self.metrics is not None:
                    self.metrics.rate_limit_waits.labels("telegram", wait.scope).inc()
                    self.metrics.rate_limit_wait_seconds.labels("telegram").inc(wait.seconds)
            try:
                response = await make_request(bot, method)
            except TelegramRetryAfter as error:
                self._count(name, "retry_after")
                retry_afters += 1
                if retry_afters > self.max_retry_after:
                    raise
                self.limiter.pause(chat_id if limited else None, error.retry_after)
                log.warning("telegram asked to slow down", method=name, retry_after=error.retry_after)
                await asyncio.sleep(error.retry_after)
                continue
            except TelegramForbiddenError:
                self._count(name, "forbidden")
                raise
            except (TelegramNetworkError, TelegramServerError) as error:
                self._count(
                    name, "network_error" if isinstance(error, TelegramNetworkError) else "server_error"
                )
                network_errors += 1
                if (
                    name == "getUpdates"
                    or network_errors > self.max_network_retries
                    or not self._safe_to_repeat(name, error)
                ):
                    raise
                await asyncio.sleep(self.backoff.delay(network_errors - 1))
                continue
            except Exception:
                self._count(name, "error")
                raise
            self._count(name, "ok")
            return response

    @staticmethod
    def _safe_to_repeat(name: str, error: Exception) -> bool:
        if not name.startswith(_CREATING_PREFIXES):
            return True
        # A message may have been sent if the request reached Telegram and its answer was lost; repeat
        # only when Telegram answered with an error or the connection was never made.
        return isinstance(error, TelegramServerError) or isinstance(error.__cause__, ClientConnectorError)

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.chat_api_calls.labels("telegram", method, outcome).inc()
