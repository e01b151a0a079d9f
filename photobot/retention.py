"""Retention: what photobot stores is deleted again, on local disk and Drive alike.

- An original or a result is deleted FILE_RETENTION_SECONDS after it was stored, unless its job is
  still waiting or running (then it goes once the job has finished).
- A file whose job does not exist STATE_TTL_SECONDS after it was stored is an orphan: a photo whose
  operation was never chosen, a photo refused after it was stored, a job long expired. It is deleted.
- `forget(user)` deletes every file of one user at once, after cancelling their waiting jobs
  (`/forget` in a chat, for one's own data; an admin's `/forget USER` for a banned user's).

Every process that runs jobs sweeps every RETENTION_SWEEP_SECONDS; the steps are idempotent, so
several processes sweeping at once delete each file once. `photobot storage gc` runs one sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

from photobot.config import Settings
from photobot.gdrive.errors import StorageError
from photobot.gdrive.ledger import FileLedger, StoredFile, TrackedStorage
from photobot.jobs import JobStatus
from photobot.logs import get_logger
from photobot.queue import JobNotFound, JobQueue, NotCancellable
from photobot.queue.outage import every

log = get_logger(__name__)
PAGE = 500
_UNFINISHED = {JobStatus.PENDING.value, JobStatus.PROCESSING.value, JobStatus.RETRYING.value}


@dataclass(frozen=True)
class Sweep:
    """What one sweep did: files deleted for age, as orphans, and files it could not delete."""

    expired: int = 0
    orphans: int = 0
    failed: int = 0


@dataclass(eq=False)
class Retention:
    """The sweeps of stored files: expired ones, orphans, and a user's own on /forget."""

    storage: TrackedStorage
    ledger: FileLedger
    queue: JobQueue
    settings: Settings
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    async def sweep(self, now_ms: int | None = None) -> Sweep:
        """Delete every file past its retention, and every orphan; see the module's docstring."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        expire_before = now - self.settings.file_retention_seconds * 1000
        orphan_before = now - self.settings.state_ttl_seconds * 1000
        expired = orphans = failed = 0
        offset = 0
        while page := await self.ledger.stored_before(orphan_before, offset, PAGE):
            statuses = await self._job_statuses(page)
            for stored, status in zip(page, statuses, strict=True):
                if status is None:
                    reason = "orphan"
                elif stored.stored_at < expire_before and status not in _UNFINISHED:
                    reason = "expired"
                else:
                    offset += 1
                    continue
                if await self._delete(stored, reason):
                    expired += reason == "expired"
                    orphans += reason == "orphan"
                else:
                    failed += 1
                    offset += 1
        if expired or orphans or failed:
            log.info("retention sweep", expired=expired, orphans=orphans, failed=failed)
        return Sweep(expired, orphans, failed)

    async def forget(self, user_key: str) -> int:
        """Cancel the user's waiting jobs and delete every file they have; returns files deleted."""
        active = await cast(Awaitable[set[str]], self.queue.redis.smembers(self.queue.keys.active(user_key)))
        for job_id in active:
            with contextlib.suppress(JobNotFound, NotCancellable):
                await self.queue.cancel(job_id)
        deleted = 0
        for file_id in await self.ledger.user_files(user_key):
            try:
                await self.storage.delete(file_id)
            except StorageError as error:
                log.warning("forget: a file could not be deleted", file_id=file_id, detail=error.detail)
                continue
            deleted += 1
        log.info("user data forgotten", user_id=user_key, files=deleted, jobs_cancelled=len(active))
        return deleted

    async def adopt(self, files: list[StoredFile]) -> int:
        """Record files stored before the ledger existed (or put by hand), so sweeps judge them too;
        returns how many were new to it."""
        adopted = 0
        for start in range(0, len(files), PAGE):
            page = files[start : start + PAGE]
            for stored, known in zip(page, await self.ledger.known([f.file_id for f in page]), strict=True):
                if not known:
                    await self.ledger.add(stored)
                    adopted += 1
        if adopted:
            log.info("retention: files adopted", files=adopted)
        return adopted

    async def _job_statuses(self, page: list[StoredFile]) -> list[str | None]:
        """Each file's job status; None when it has no job (gone, never made, or no id recorded)."""
        async with self.queue.redis.pipeline(transaction=False) as pipe:
            for stored in page:
                pipe.hget(self.queue.keys.job(stored.job_id or "-"), "status")
            values: list[Any] = await pipe.execute()
        return [str(value) if value else None for value in values]

    async def _delete(self, stored: StoredFile, reason: str) -> bool:
        try:
            await self.storage.delete(stored.file_id)
        except StorageError as error:
            log.warning(
                "retention: delete failed", file_id=stored.file_id, reason=reason, detail=error.detail
            )
            return False
        log.debug("retention: deleted", file_id=stored.file_id, reason=reason, user_id=stored.user_key)
        return True

    async def run(self) -> None:
        """Sweep every RETENTION_SWEEP_SECONDS until `stop`."""
        await every("retention", self.settings.retention_sweep_seconds, self.sweep, self._stop)

    def stop(self) -> None:
        self._stop.set()
