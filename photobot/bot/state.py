"""What the chat side keeps in Redis between updates.

- `PendingChoices`: a photo waiting for its operation (one record per status message, with the
  state TTL), so it survives restarts and expires on its own.
- `WaitingChoices`: how many of those each user has, for the pending cap.
- `AnsweredMessages`: which user message got which status message, so an update delivered twice
  (platforms deliver at least once) is answered once.
- `AlbumChoices`: the operation named in an album's caption, for the album's other photos.
- `LatestWaiting`: a sender's latest photo waiting for a choice in a chat, for a text that names
  the operation instead of a button (VK).
- `MessageLocks`: one edit at a time per status message across processes, so "queued, position N"
  from the bot can never land after the worker's "processing" or its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from photobot.jobs import Platform
from photobot.queue.outage import REDIS_DOWN
from photobot.redis_client import RedisClient


class PendingPhoto(BaseModel):
    """A stored original shown back with the operations keyboard, waiting for a choice."""

    job_id: str
    photo_id: str
    message_id: int
    user_key: str
    as_document: bool = False
    resend_ref: str | None = None
    chosen_job_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class PendingChoices:
    """Pending photos keyed by (platform, chat, user, status message), as JSON with a TTL.

    The key is the one aiogram's FSM RedisStorage gave such a record when photobot kept it there
    (`<prefix>:fsm:<bot id>:<chat>:<user>:<platform>-photo-<status message>:data`), so a photo that
    waits across an upgrade still has its record; nothing else of aiogram is needed for it.
    """

    def __init__(
        self, redis: RedisClient, prefix: str, ttl_seconds: int, bot_ids: dict[Platform, int]
    ) -> None:
        self._redis = redis
        self._base = f"{prefix}:fsm"
        self._ttl = ttl_seconds
        self._bot_ids = bot_ids

    def _key(self, platform: Platform, chat_id: int, user_id: str, status_message_id: int) -> str:
        bot_id, destiny = self._bot_ids.get(platform, 0), f"{platform.short}-photo-{status_message_id}"
        return f"{self._base}:{bot_id}:{chat_id}:{int(user_id)}:{destiny}:data"

    async def save(
        self, platform: Platform, chat_id: int, user_id: str, status_message_id: int, pending: PendingPhoto
    ) -> None:
        key = self._key(platform, chat_id, user_id, status_message_id)
        await self._redis.set(key, pending.model_dump_json(), ex=self._ttl)

    async def load(
        self, platform: Platform, chat_id: int, user_id: str, status_message_id: int
    ) -> PendingPhoto | None:
        data = await self._redis.get(self._key(platform, chat_id, user_id, status_message_id))
        return PendingPhoto.model_validate_json(data) if data else None


class WaitingChoices:
    """How many photos each user has waiting for a choice, so they count against the pending cap.

    A sorted set per user of the photos' job ids scored by when their choice expires (the state TTL,
    as the choice itself), trimmed on each count: a choice that expired stops counting on its own.
    """

    def __init__(self, redis: RedisClient, prefix: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_ms = ttl_seconds * 1000

    def _key(self, user_key: str) -> str:
        return f"{self._prefix}:choices:{user_key}"

    async def add(self, user_key: str, job_id: str) -> None:
        key = self._key(user_key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {job_id: _now_ms() + self._ttl_ms})
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()

    async def remove(self, user_key: str, job_id: str) -> None:
        await self._redis.zrem(self._key(user_key), job_id)

    async def clear(self, user_key: str) -> None:
        await self._redis.delete(self._key(user_key))

    async def count(self, user_key: str) -> int:
        key = self._key(user_key)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", _now_ms())
            pipe.zcard(key)
            _, count = await pipe.execute()
        return int(count)


def _now_ms() -> int:
    return int(time.time() * 1000)


class ChatRecords:
    """(platform, chat, item) -> a message id, each kept for `ttl_seconds`."""

    def __init__(self, redis: RedisClient, base: str, ttl_seconds: int) -> None:
        self._redis = redis
        self._base = base
        self._ttl = ttl_seconds

    def _key(self, platform: Platform, chat_id: int, item: int | str) -> str:
        return f"{self._base}:{platform.short}:{chat_id}:{item}"

    async def get(self, platform: Platform, chat_id: int, item: int | str) -> int | None:
        value = await self._redis.get(self._key(platform, chat_id, item))
        return int(value) if value is not None else None

    async def set(self, platform: Platform, chat_id: int, item: int | str, message_id: int) -> None:
        await self._redis.set(self._key(platform, chat_id, item), message_id, ex=self._ttl)

    async def forget(self, platform: Platform, chat_id: int, item: int | str) -> None:
        await self._redis.delete(self._key(platform, chat_id, item))


class AnsweredMessages(ChatRecords):
    """user message -> the status message that answers it, kept as long as enqueue dedup lasts."""

    def __init__(self, redis: RedisClient, prefix: str, ttl_seconds: int) -> None:
        super().__init__(redis, f"{prefix}:answered", ttl_seconds)


class LatestWaiting(ChatRecords):
    """(chat, sender) -> the message id of the sender's latest photo that waits for its operation."""

    def __init__(self, redis: RedisClient, prefix: str, ttl_seconds: int) -> None:
        super().__init__(redis, f"{prefix}:waiting", ttl_seconds)


class AlbumChoices:
    """An album's operation, named in one photo's caption, applied to its other photos."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int = 3600) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, platform: Platform, chat_id: int, album_id: str) -> str:
        return f"{self._prefix}:album:{platform.short}:{chat_id}:{album_id}"

    async def get(self, platform: Platform, chat_id: int, album_id: str) -> tuple[str, dict[str, Any]] | None:
        value = await self._redis.get(self._key(platform, chat_id, album_id))
        if value is None:
            return None
        data = json.loads(value)
        return str(data["operation"]), dict(data["params"])

    async def set(
        self, platform: Platform, chat_id: int, album_id: str, operation: str, params: dict[str, Any]
    ) -> None:
        value = json.dumps({"operation": operation, "params": params})
        await self._redis.set(self._key(platform, chat_id, album_id), value, ex=self._ttl)


class MessageLocks:
    """A Redis lock per status message; whoever edits it holds the lock.

    The lock lives `ttl` seconds and is renewed while its holder runs (an edit may wait for the
    chat's send budget for longer), so a holder that died blocks the next editor for `ttl` at most,
    not for as long as a live holder may need. A waiter gives up after `wait_seconds` and edits
    anyway: an edit out of order is better than no edit.
    """

    def __init__(self, redis: Redis, prefix: str, ttl: float = 6.0, wait_seconds: float = 60.0) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl
        self._wait = wait_seconds

    @asynccontextmanager
    async def hold(self, platform: Platform | str, chat_id: int, message_id: int) -> AsyncIterator[None]:
        name = f"{self._prefix}:msglock:{Platform(platform).short}:{chat_id}:{message_id}"
        lock = self._redis.lock(name, timeout=self._ttl, blocking_timeout=self._wait, sleep=0.02)
        acquired = await lock.acquire()
        renewal = asyncio.ensure_future(self._renew(lock)) if acquired else None
        try:
            yield
        finally:
            if renewal is not None:
                renewal.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewal
            if acquired:
                # A lock that could not be renewed has expired on its own; nothing to release.
                with contextlib.suppress(LockError, *REDIS_DOWN):
                    await lock.release()

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await lock.reacquire()
            except (LockError, *REDIS_DOWN):
                return  # lost or unreachable: the lock expires, and the next editor goes ahead
