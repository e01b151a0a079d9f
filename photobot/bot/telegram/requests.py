"""Every outgoing Telegram call goes through `PoliteRequests`, an aiogram session middleware in front
of `make_request`: it takes a turn from the `RateLimiter` for calls that put a message in a chat,
obeys `retry_after` (pausing the chat's bucket, or every bucket for a call without a chat), retries
network and server errors with backoff where repeating cannot send twice, and lets "blocked by the
user" (403) through at once, since retrying cannot help.
"""

from __future__ import annotations

import asyncio
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING

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
from photobot.bot.ratelimit import RateLimiter
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
