"""Exponential backoff with jitter, shared by every part that retries: storage calls, chat API calls,
the chat pollers, the queue's ride through a Redis outage, and start-up's wait for a platform."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """A random wait in [ceiling * (1 - jitter), ceiling], ceiling = min(cap, base * factor**attempt);
    attempt 0 is the first retry. A server's retry_after, when given, is waited at least (up to the
    cap).

    jitter is the random part of the ceiling: 0.75 waits between a quarter of it and all of it, 0.5
    between half and all (many clients retrying at once spread out), 0 exactly the ceiling (one
    process waiting for a platform at start, where nobody else competes).
    """

    base: float = 0.5
    cap: float = 32.0
    jitter: float = 0.75
    factor: float = 2.0

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * (self.factor ** min(attempt, 30)))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = self.ceiling(attempt)
        wait = random.uniform(ceiling * (1 - self.jitter), ceiling) if self.jitter else ceiling
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait


async def pause(seconds: float, stop: asyncio.Event) -> bool:
    """Wait `seconds`, cut short when `stop` is set; True when the whole pause passed."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return not stop.is_set()
