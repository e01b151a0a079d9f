"""The budgets of a chat platform's outgoing messages: overall, per chat and per group.

Telegram allows about 30 messages a second overall, about one a second to one chat (short bursts
are tolerated) and 20 a minute to one group; VK a number of calls a second per token. `RateLimiter`
keeps such budgets with GCRA buckets (a reservation per call, so waiters are served in order and
nobody spins), and a platform's "slow down" pauses a bucket. Telegram's calls reach it through
photobot.bot.telegram.requests, VK's through photobot.bot.vk.api.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


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
