"""The read side of the daily quotas: what a user has left, and how many photos were refused today.

The enqueue script (lua/enqueue.lua) checks and counts a photo in the same atomic step that queues
its job; cancel, fail and reap give a unit back. This module only reads what they keep:
`quota:<user>` (the user's counted jobs, scored by when they were queued) and
`quota_refused:<UTC day number>`. The window is a rolling 24 hours, so a unit comes back exactly a
day after the photo that used it, not at midnight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from photobot.config import Settings
from photobot.redis_client import RedisClient

WINDOW_MS = 24 * 3600 * 1000
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Allowance:
    """A user's quota now. limit None: no limit (then used and left say nothing)."""

    limit: int | None
    used: int
    next_unit_ms: int | None  # when the oldest counted photo leaves the window; None when none counted

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def wait_seconds(self, now_ms: int) -> int:
        """Seconds until one more photo is allowed (0 when one is allowed now)."""
        if self.left is None or self.left > 0 or self.next_unit_ms is None:
            return 0
        return max(0, (self.next_unit_ms - now_ms + 999) // 1000)


class QuotaBook:
    """Reads the quota keys the queue's scripts write."""

    def __init__(self, redis: RedisClient, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.prefix = settings.key_prefix

    def key(self, user_key: str) -> str:
        return f"{self.prefix}:quota:{user_key}"

    async def allowance(self, user_key: str, tier: str, now_ms: int | None = None) -> Allowance:
        limit = self.settings.tier_quota(tier)
        now = int(time.time() * 1000) if now_ms is None else now_ms
        since = now - WINDOW_MS
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(self.key(user_key), f"({since}", "+inf")
            pipe.zrangebyscore(self.key(user_key), f"({since}", "+inf", start=0, num=1, withscores=True)
            used, oldest = await pipe.execute()
        next_unit = int(oldest[0][1]) + WINDOW_MS if oldest else None
        return Allowance(limit=limit, used=int(used), next_unit_ms=next_unit)

    def _refused_key(self, now_ms: int | None) -> str:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return f"{self.prefix}:quota_refused:{now // DAY_MS}"

    async def refused_today(self, now_ms: int | None = None) -> int:
        """Photos refused over quota since 00:00 UTC."""
        return int(await self.redis.get(self._refused_key(now_ms)) or 0)

    async def count_refusal(self) -> None:
        """A photo refused before its enqueue (the bot checks first, so nothing is stored for it);
        the enqueue script counts the refusals it makes itself."""
        key = self._refused_key(None)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 3 * 86400)
            await pipe.execute()
