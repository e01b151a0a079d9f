"""Exponential backoff with jitter, shared by every part that retries (storage, chat updates)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """A random wait in [ceiling / 4, ceiling], ceiling = min(cap, base * 2**attempt); attempt 0 is
    the first retry. A server's retry_after, when given, is waited at least (up to the cap)."""

    base: float = 0.5
    cap: float = 32.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(attempt, 30)))
        wait = random.uniform(ceiling / 4, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.cap))
        return wait
