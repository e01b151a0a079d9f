"""Riding out a Redis outage: back off with jitter, log once when it starts and once when it ends;
`every` runs a periodic step (the maintenance sweep, the retention sweep) through outages.

Workers and the maintenance loop keep going through a restart of Redis instead of dying; nothing is
lost meanwhile because every job's state lives in Redis and an unacknowledged lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from photobot.backoff import Backoff
from photobot.logs import get_logger

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)

# Between two tries while Redis is down: half to all of 0.05, 0.1, 0.2... 2 s, so a restarted Redis is
# used again within about two seconds.
REDIS_BACKOFF = Backoff(0.05, 2.0, jitter=0.5)

log = get_logger(__name__)


@dataclass
class Outage:
    """One part's view of Redis being down: how many calls failed in a row, and since when."""

    what: str
    backoff: Backoff = REDIS_BACKOFF
    _failures: int = field(default=0, init=False)
    _since: float | None = field(default=None, init=False)

    @property
    def down(self) -> bool:
        return self._since is not None

    async def failed(self, error: BaseException) -> None:
        """Call on a connection error: logs the first one of an outage, then sleeps."""
        if self._since is None:
            self._since = time.monotonic()
            log.warning("redis unavailable; retrying", part=self.what, error=type(error).__name__,
                        detail=str(error)[:200])
        await asyncio.sleep(self.backoff.delay(self._failures))
        self._failures += 1

    def ok(self) -> None:
        """Call after a call succeeded: logs the end of an outage."""
        if self._since is not None:
            log.info("redis reachable again", part=self.what,
                     down_seconds=round(time.monotonic() - self._since, 3))
        self._since = None
        self._failures = 0


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
