"""A record in Redis of every file photobot stored: who owns it, for which job, how large, since when.

Neither backend can answer "which files does this user have, and how many bytes" cheaply (a local
folder would have to be walked, Drive listed), and retention needs exactly that. `TrackedStorage`
wraps whichever backend is configured, so every put and delete, by the bot, the worker or the CLI,
is recorded the same way for local disk and Drive alike.

Keys (all under the queue's hash-tagged prefix, so they live in one cluster slot):
`files` (zset id -> stored at, ms), `fileinfo` (hash id -> JSON owner/job/kind/size),
`ufiles:<user>` (zset id -> stored at), `ubytes` (hash user -> bytes stored).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from redis.commands.core import AsyncScript

from photobot.config import Settings
from photobot.gdrive.base import Storage
from photobot.gdrive.errors import StorageError
from photobot.redis_client import RedisClient

# Records one file atomically. KEYS: fileinfo, files, ubytes. ARGV: id, record, stored at, the
# per-user key's prefix, user, size. (The per-user key shares the prefix's hash tag, so its slot.)
_ADD = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', ARGV[4] .. ARGV[5], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[5], ARGV[6])
return 1
"""

# Forgets one file atomically: its owner's byte count goes down by exactly what was added.
_REMOVE = """
local info = redis.call('HGET', KEYS[1], ARGV[1])
if not info then return 0 end
local record = cjson.decode(info)
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[2] .. record.u, ARGV[1])
local left = redis.call('HINCRBY', KEYS[3], record.u, -tonumber(record.s))
if left <= 0 then redis.call('HDEL', KEYS[3], record.u) end
return 1
"""


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    user_key: str
    job_id: str
    kind: str
    size: int
    stored_at: int  # ms


class StorageBudgetReached(StorageError):
    """The user's stored files already take USER_STORAGE_MB: nothing more is stored for them."""

    code: ClassVar[str] = "storage_budget"
    transient: ClassVar[bool] = False


class FileLedger:
    """The Redis record of stored files. Every method is one round trip or one script."""

    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self.redis = redis
        self._files = f"{prefix}:files"
        self._info = f"{prefix}:fileinfo"
        self._bytes = f"{prefix}:ubytes"
        self._user_prefix = f"{prefix}:ufiles:"
        self._add = AsyncScript(redis, _ADD)  # type: ignore[arg-type]  # a cluster client works too
        self._remove = AsyncScript(redis, _REMOVE)  # type: ignore[arg-type]

    async def add(self, stored: StoredFile) -> None:
        record = {"u": stored.user_key, "j": stored.job_id, "k": stored.kind, "s": stored.size}
        keys = [self._info, self._files, self._bytes]
        args: list[str | int] = [
            stored.file_id, json.dumps(record, separators=(",", ":")), stored.stored_at,
            self._user_prefix, stored.user_key, stored.size,
        ]
        await self._add(keys=keys, args=args)

    async def remove(self, file_id: str) -> bool:
        """Forget `file_id`; False when it was not recorded."""
        keys = [self._info, self._files, self._bytes]
        removed = await self._remove(keys=keys, args=[file_id, self._user_prefix])
        return bool(removed)

    async def known(self, file_ids: list[str]) -> list[bool]:
        """Whether each file is recorded."""
        if not file_ids:
            return []
        infos = await cast(Awaitable[list[Any]], self.redis.hmget(self._info, file_ids))
        return [info is not None for info in infos]

    async def user_bytes(self, user_key: str) -> int:
        value = await cast(Awaitable[Any], self.redis.hget(self._bytes, user_key))
        return int(value or 0)

    async def user_files(self, user_key: str) -> list[str]:
        members = await self.redis.zrange(self._user_prefix + user_key, 0, -1)
        return [_text(member) for member in members]

    async def stored_before(self, before_ms: int, offset: int, count: int) -> list[StoredFile]:
        """Files stored before `before_ms`, oldest first, a page at a time."""
        pairs = await self.redis.zrangebyscore(
            self._files, "-inf", f"({before_ms}", start=offset, num=count, withscores=True
        )
        if not pairs:
            return []
        ids = [_text(member) for member, _ in pairs]
        infos = await cast(Awaitable[list[Any]], self.redis.hmget(self._info, ids))
        found = []
        for (file_id, (_, score)), info in zip(zip(ids, pairs, strict=True), infos, strict=True):
            record: dict[str, Any] = json.loads(info) if info else {}
            owner, job_id, kind = (str(record.get(name, "")) for name in "ujk")
            found.append(StoredFile(file_id, owner, job_id, kind, int(record.get("s", 0)), int(score)))
        return found

    async def count(self) -> tuple[int, int]:
        """(files, bytes) recorded."""
        files = await self.redis.zcard(self._files)
        sizes = await cast(Awaitable[list[Any]], self.redis.hvals(self._bytes))
        return int(files), sum(int(size) for size in sizes)


@dataclass(eq=False)
class TrackedStorage:
    """A Storage that records each put in the ledger and refuses an original over the user's budget.

    Results are never refused: the job is already paid for in work, and its result must reach the
    user; they count towards the budget of the next original.
    """

    inner: Storage
    ledger: FileLedger
    user_budget_bytes: int
    retention_days: int
    backend: str = field(init=False)

    def __post_init__(self) -> None:
        self.backend = self.inner.backend

    @classmethod
    def from_settings(cls, inner: Storage, redis: RedisClient, settings: Settings) -> TrackedStorage:
        return cls(
            inner,
            FileLedger(redis, settings.key_prefix),
            settings.user_storage_mb * 1024 * 1024,
            max(1, settings.file_retention_seconds // 86400),
        )

    async def put(self, data: bytes, name: str, mime: str, meta: Mapping[str, str]) -> str:
        user = str(meta.get("user_id", ""))
        kind = str(meta.get("kind", "other"))
        if self.user_budget_bytes > 0 and kind == "original":
            used = await self.ledger.user_bytes(user)
            if used + len(data) > self.user_budget_bytes:
                raise StorageBudgetReached(
                    f"{user} stores {used} bytes",
                    used_mb=round(used / 1048576),
                    limit_mb=self.user_budget_bytes // 1048576,
                    days=self.retention_days,
                )
        file_id = await self.inner.put(data, name, mime, meta)
        job_id = str(meta.get("job_id", ""))
        stored = StoredFile(file_id, user, job_id, kind, len(data), int(time.time() * 1000))
        await self.ledger.add(stored)
        return file_id

    async def get(self, file_id: str) -> bytes:
        return await self.inner.get(file_id)

    async def delete(self, file_id: str) -> None:
        await self.inner.delete(file_id)
        await self.ledger.remove(file_id)

    async def link(self, file_id: str) -> str | None:
        return await self.inner.link(file_id)

    async def check(self) -> list[str]:
        return await self.inner.check()

    async def close(self) -> None:
        await self.inner.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
