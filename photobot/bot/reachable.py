"""Whether a chat platform answers, for /readyz: a bot that cannot reach Telegram (or VK) takes no
updates and delivers no results, so the process is not ready however healthy Redis is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from photobot.logs import get_logger

log = get_logger(__name__)


class Reachable:
    """A probe that makes one real call at most every `ttl` seconds, so that a load balancer asking
    every few seconds does not spend the platform's rate limit; probes in between get the last
    answer."""

    def __init__(self, name: str, call: Callable[[], Awaitable[object]], ttl: float = 15.0,
                 timeout: float = 2.0) -> None:
        self.name = name
        self.call = call
        self.ttl = ttl
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._checked_at: float | None = None
        self._answer = False

    async def __call__(self) -> bool:
        async with self._lock:
            now = time.monotonic()
            if self._checked_at is None or now - self._checked_at >= self.ttl:
                self._answer = await self._check()
                self._checked_at = time.monotonic()
            return self._answer

    async def _check(self) -> bool:
        try:
            await asyncio.wait_for(self.call(), self.timeout)
        except Exception as error:
            log.warning("chat platform not reachable", platform=self.name, error=repr(error)[:300])
            return False
        return True
