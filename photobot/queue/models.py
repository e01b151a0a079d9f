"""Values the queue hands out: a lease, an enqueue result, a stats snapshot."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from photobot.jobs import Job


class Lease:
    """A job held by one worker until `deadline_ms` (server time); `token` proves the holding.

    A lease made from the hash the lease script returned decodes it into a Job only when `job` is
    first read: acknowledging needs nothing but job_id and token, so a drain that never looks at
    the job (worker --noop) skips the cost of building it.
    """

    __slots__ = ("__dict__", "_flat", "deadline_ms", "job_id", "token")

    def __init__(self, job: Job, token: str, deadline_ms: int) -> None:
        self.__dict__["job"] = job
        self._flat: Sequence[str] = ()
        self.job_id = job.job_id
        self.token = token
        self.deadline_ms = deadline_ms

    @classmethod
    def from_hash(cls, job_id: str, flat: Sequence[str], token: str, deadline_ms: int) -> Lease:
        lease = cls.__new__(cls)
        lease._flat = flat
        lease.job_id = job_id
        lease.token = token
        lease.deadline_ms = deadline_ms
        return lease

    @functools.cached_property
    def job(self) -> Job:
        from photobot.queue.codec import job_from_flat

        return job_from_flat(self._flat)

    def __repr__(self) -> str:
        return f"Lease(job_id={self.job_id!r}, token={self.token!r}, deadline_ms={self.deadline_ms})"


@dataclass(frozen=True)
class EnqueueResult:
    """created=False: a dedup hit (or the same job id again); `job` is the existing job."""

    job: Job
    created: bool


class QueueStats(BaseModel):
    """One snapshot of the queue, taken atomically on the server."""

    counts: dict[str, int] = Field(description="Jobs per status.")
    tiers: dict[str, int] = Field(description="Pending jobs per tier name.")
    oldest_wait_seconds: float = Field(description="Wait of the oldest pending job; 0 when none.")
    completed_last_minute: int
    completed_last_hour: int
    failed_last_minute: int
    failed_last_hour: int
    processing_p50_seconds: float | None = Field(description="Median lease-to-completion time.")
    processing_p95_seconds: float | None
    workers_alive: int = Field(description="Workers seen within two lease periods.")
