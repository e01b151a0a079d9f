"""The read side of the queue: a job, its position, histories, stats. Nothing here changes state
(except trimming finished sets past their retention, which stats does on the way)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from photobot.config import Settings
from photobot.jobs import Job, JobStatus
from photobot.queue.codec import job_from_flat, job_from_hash
from photobot.queue.keys import Keys
from photobot.queue.models import QueueStats
from photobot.redis_client import RedisClient

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The set each status lives in, and the order a page shows: work to come oldest first,
# finished work newest first.
STATUS_INDEX: dict[JobStatus, tuple[str, str]] = {
    JobStatus.PENDING: ("pending", "asc"),
    JobStatus.PROCESSING: ("processing", "asc"),
    JobStatus.RETRYING: ("retry", "asc"),
    JobStatus.COMPLETED: ("completed", "desc"),
    JobStatus.FAILED: ("failed", "desc"),
    JobStatus.CANCELLED: ("cancelled", "desc"),
}
MAX_PAGE = 1000


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


class QueueViews:
    redis: RedisClient
    settings: Settings
    keys: Keys

    async def _run(self, name: str, args: list[Any]) -> Any:
        raise NotImplementedError

    async def get(self, job_id: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        raw = await cast(Awaitable[dict[str, str]], self.redis.hgetall(self.keys.job(job_id)))
        return job_from_hash(raw) if raw else None

    async def position(self, job_id: str) -> int | None:
        """Jobs ahead of a pending job (see lua/position.lua); None when it is not pending."""
        if not JOB_ID.match(job_id):
            return None
        ahead = int(await self._run("position", [job_id, int(self.settings.aging_seconds * 1000)]))
        return None if ahead < 0 else ahead

    async def position_of_new(self, user_key: str, priority: int) -> int:
        """Jobs ahead of a job of this user and priority if it were queued now: what a chat shows
        in the status message it sends before the enqueue."""
        aging = int(self.settings.aging_seconds * 1000)
        return max(0, int(await self._run("position", ["", aging, user_key, priority])))

    async def find_duplicate(self, dedup_key: str) -> Job | None:
        """The job queued under `dedup_key` within the dedup window, if any."""
        job_id = await cast(Awaitable[str | None], self.redis.get(self.keys.dedup(dedup_key)))
        return await self.get(job_id) if job_id else None

    async def pending_count(self, user_key: str) -> int:
        """The user's unfinished jobs (pending, processing, retrying): what the cap counts."""
        return int(await cast(Awaitable[int], self.redis.scard(self.keys.active(user_key))))

    async def user_jobs(
        self, user_key: str, status: JobStatus | None = None, limit: int = 10, offset: int = 0
    ) -> tuple[list[Job], int]:
        """A page of the user's jobs, newest first, and how many match in all."""
        limit, offset = _page(limit, offset)
        reply = await self._run("history", ["user", user_key, status.value if status else "", offset, limit])
        return [job_from_flat(flat) for flat in reply[1:]], int(reply[0])

    async def list_jobs(
        self,
        status: JobStatus | None = None,
        user_key: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """A page of jobs by status and/or user, and how many match in all."""
        if user_key is not None:
            return await self.user_jobs(user_key, status, limit, offset)
        limit, offset = _page(limit, offset)
        name, order = STATUS_INDEX[status] if status is not None else ("all", "desc")
        reply = await self._run("history", ["index", name, order, offset, limit])
        return [job_from_flat(flat) for flat in reply[1:]], int(reply[0])

    async def stats(self) -> QueueStats:
        alive_ms = int(max(2 * self.settings.lease_seconds, 10.0) * 1000)
        now, counts, tiers, windows, durations, alive = await self._run(
            "stats", [self.settings.job_retention_seconds * 1000, alive_ms]
        )
        names = {str(priority): name for name, priority in self.settings.tiers.items()}
        depth = dict.fromkeys(self.settings.tiers, 0)
        oldest: int | None = None
        for priority, count, since in tiers:
            depth[names.get(priority, f"priority {priority}")] = int(count)
            if int(since) >= 0:
                oldest = int(since) if oldest is None else min(oldest, int(since))
        seconds = [int(ms) / 1000 for ms in durations]
        statuses = [status.value for status in STATUS_INDEX]
        return QueueStats(
            counts=dict(zip(statuses, (int(c) for c in counts), strict=True)),
            tiers=depth,
            oldest_wait_seconds=max(0.0, (int(now) - oldest) / 1000) if oldest is not None else 0.0,
            completed_last_minute=int(windows[0]),
            completed_last_hour=int(windows[1]),
            failed_last_minute=int(windows[2]),
            failed_last_hour=int(windows[3]),
            processing_p50_seconds=percentile(seconds, 0.5),
            processing_p95_seconds=percentile(seconds, 0.95),
            workers_alive=int(alive),
        )


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(int(limit), MAX_PAGE)), max(0, int(offset))
