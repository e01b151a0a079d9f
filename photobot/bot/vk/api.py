"""vkbottle's `API` with photobot's manners: paced, patient with "too many requests", metered.

Every VK call of every part (the long poll's server requests, sends, edits, the uploader's
photos.* calls) goes through `PoliteAPI.request`, so one place keeps the group token under its rate
(VK_RATE, about 20 requests a second for a community token) through the shared `RateLimiter`.
One conversation may use a quarter of that rate, so a chat that floods leaves the rest of the budget
to the others (their calls find a free slot at once) and its own backlog drains at that pace.
VK's "slow down" answers (6 too many requests, 9 flood control, 10 internal error) and network
errors are retried with exponential backoff and jitter; past the patience they surface as
`VKUnavailable`, which the adapter turns into a transient `ChatUnavailable`. Repeating a call is
safe: sends carry a random_id, which VK deduplicates, and edits are idempotent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientError, ClientTimeout
from vkbottle import API
from vkbottle.exception_factory import VKAPIError
from vkbottle.http import AiohttpClient

from photobot.backoff import Backoff
from photobot.bot.ratelimit import RateLimiter
from photobot.config import Settings
from photobot.logs import adopt_library_logger, get_logger, register_secret
from photobot.metrics import Metrics

log = get_logger(__name__)

# VK error codes that mean "try again a little later".
SLOW_DOWN_CODES = frozenset({6, 9, 10})
DEFAULT_API_URL = "https://api.vk.com/method/"
CHAT_SHARE = 0.25  # of VK_RATE, for one conversation


class VKUnavailable(Exception):
    """VK kept refusing (rate, flood control, internal errors) or could not be reached."""


def api_base_url(url: str) -> str:
    """vkbottle concatenates the base URL and the method name, so the base must end in "/"."""
    url = url.strip() or DEFAULT_API_URL
    return url.rstrip("/") + "/"


def error_code(error: BaseException) -> int | None:
    code = getattr(error, "code", None)
    return code if isinstance(error, VKAPIError) and isinstance(code, int) else None


# Between two tries of a refused or failed call: half to all of 0.3, 0.6, 1.2... 8 s.
VK_BACKOFF = Backoff(0.3, 8.0, jitter=0.5)


class PoliteAPI(API):
    """An `API` whose `request` waits for a rate slot and retries VK's transient refusals."""

    def __init__(
        self,
        token: str,
        *,
        api_url: str,
        limiter: RateLimiter,
        metrics: Metrics | None = None,
        max_retries: int = 8,
        backoff: Backoff = VK_BACKOFF,
        request_timeout: float = 60.0,
    ) -> None:
        self.client = AiohttpClient(timeout=ClientTimeout(total=request_timeout))
        super().__init__(token, http_client=self.client)
        self.API_URL = api_base_url(api_url)
        self.limiter = limiter
        self.metrics = metrics
        self.max_retries = max_retries
        self.backoff = backoff

    async def request(self, method: str, data: dict[str, Any], version: str | None = None) -> dict[str, Any]:
        failures = 0
        while True:
            wait = await self.limiter.acquire(_conversation_of(data))
            if wait.seconds > 0 and self.metrics is not None:
                self.metrics.rate_limit_waits.labels("vk", wait.scope).inc()
                self.metrics.rate_limit_wait_seconds.labels("vk").inc(wait.seconds)
            try:
                response = await super().request(method, dict(data), version)
            except VKAPIError as error:
                code = error_code(error)
                if code not in SLOW_DOWN_CODES:
                    self._count(method, f"error_{code}")
                    raise
                self._count(method, f"error_{code}")
                failures += 1
                if failures > self.max_retries:
                    raise VKUnavailable(f"VK error {code} on {method} after {failures} tries") from error
                delay = self.backoff.delay(failures - 1)
                # Everyone slows down, not only this call: the budget is the token's.
                self.limiter.pause(None, delay)
                log.warning("vk asked to slow down", method=method, code=code, retry_in=round(delay, 2))
                await asyncio.sleep(delay)
                continue
            except (ClientError, TimeoutError) as error:
                self._count(method, "network_error")
                failures += 1
                if failures > self.max_retries:
                    raise VKUnavailable(f"VK unreachable on {method}: {error!r}") from error
                await asyncio.sleep(self.backoff.delay(failures - 1))
                continue
            self._count(method, "ok")
            return response

    def _count(self, method: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.chat_api_calls.labels("vk", method, outcome).inc()

    async def close(self) -> None:
        await self.client.close()


def _conversation_of(data: dict[str, Any]) -> int | None:
    """The one conversation a call is about (messages.send's peer_ids, messages.edit's and the
    upload servers' peer_id), whose budget it counts against; None for the others."""
    raw = data.get("peer_id", data.get("peer_ids"))
    try:
        return int(raw) if raw is not None and "," not in str(raw) else None
    except (TypeError, ValueError):
        return None


def build_api(settings: Settings, metrics: Metrics | None = None) -> PoliteAPI:
    """The community's API client from VK_TOKEN, VK_API_URL and VK_RATE; the token is redacted."""
    token = settings.require_vk_token()
    register_secret(token)
    adopt_library_logger("vkbottle", settings.log_level)  # vkbottle added a console handler at import
    # VK counts requests in any one-second window: a steady pace a little under the rate, with no
    # burst, never puts more than VK_RATE calls in one second.
    # One conversation may use a quarter of it: a chat that floods is answered at that pace and
    # leaves the rest free, so every other chat's call finds a free slot at once.
    limiter = RateLimiter(
        global_rate=settings.vk_rate * 0.9,
        global_burst=1,
        chat_rate=settings.vk_rate * CHAT_SHARE,
        chat_burst=3,
    )
    return PoliteAPI(token, api_url=settings.vk_api_url, limiter=limiter, metrics=metrics)
