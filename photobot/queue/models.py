"""Values the queue hands out: a lease, an enqueue result, a stats snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from photobot.jobs import Job


@dataclass(frozen=True)
class Lease:
    """A job held by one worker until `deadline_ms` (server time); `token` proves the holding."""

    job: Job
    token: str
    deadline_ms: int


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
