"""Riding out a Redis outage: back off with jitter, log once when it starts and once when it ends;
`every` runs a periodic step (the maintenance sweep, the retention sweep) through outages.

Workers and the maintenance loop keep going through a restart of Redis instead of dying; nothing is
lost meanwhile because every job's state lives in Redis and an unacknowledged lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from photobot.logs import get_logger

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)

log = get_logger(__name__)


class Outage:
    def __init__(self, what: str, first_delay: float = 0.05, max_delay: float = 2.0) -> None:
        self.what = what
        self.first_delay = first_delay
        self.max_delay = max_delay
        self._delay = first_delay
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    async def failed(self, error: BaseException) -> None:
        """Call on a connection error: logs the first one of an outage, then sleeps."""
        if self._since is None:
            self._since = time.monotonic()
            log.warning("redis unavailable; retrying", part=self.what, error=type(error).__name__,
                        detail=str(error)[:200])
        await asyncio.sleep(self._delay * random.uniform(0.5, 1.0))
        self._delay = min(self.max_delay, self._delay * 2)

    def ok(self) -> None:
        """Call after a call succeeded: logs the end of an outage."""
        if self._since is not None:
            log.info("redis reachable again", part=self.what,
                     down_seconds=round(time.monotonic() - self._since, 3))
        self._since = None
        self._delay = self.first_delay


async def every(
    what: str, interval: float, step: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> None:
    """Run `step` every `interval` seconds until `stop` is set, riding out Redis outages."""
    outage = Outage(what)
    while not stop.is_set():
        try:
            await step()
        except REDIS_DOWN as error:
            await outage.failed(error)
            continue
        outage.ok()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
