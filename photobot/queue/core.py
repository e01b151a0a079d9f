"""JobQueue: every change of a job's state is one Lua call on the server (see lua/).

The Python side validates input, encodes arguments and decodes replies; it never reads a structure
and then writes another, so no crash of a client can leave a job in no set or in two.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Awaitable, Sequence
from typing import Any, cast

from photobot.config import Settings
from photobot.jobs import Job, JobError, JobErrorInfo, JobStatus, Platform, now_ms
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.queue.codec import job_from_flat, job_to_hash
from photobot.queue.errors import (
    InvalidJob,
    JobNotFound,
    LeaseLost,
    NotCancellable,
    NotRequeueable,
    PendingCapReached,
    QueueError,
    QuotaReached,
)
from photobot.queue.keys import Keys
from photobot.queue.models import EnqueueResult, Lease
from photobot.queue.scripts import Scripts
from photobot.queue.validation import job_from_task, prepare_job, update_args
from photobot.queue.views import QueueViews
from photobot.redis_client import RedisClient, RedisNotConfigured, connect

ENQUEUE_CHUNK = 1000
CHAT_PLATFORMS = frozenset({Platform.TELEGRAM, Platform.VK})
QUOTA_WINDOW_MS = 24 * 3600 * 1000  # a rolling 24 hours: a photo's unit comes back a day after it
SWEEP_LIMIT = 1000
DURATIONS_KEPT = 1000
SETTABLE_FIELDS = frozenset({"status_message_id", "language", "metadata"})
# What a job whose worker stopped answering records: the chat shows the catalog's error.lease_expired.
LEASE_EXPIRED = JobErrorInfo(code="lease_expired").model_dump_json(exclude_none=True)

log = get_logger(__name__)


class JobQueue(QueueViews):
    """The Redis priority queue. Safe to share between tasks; one per process is enough."""

    def __init__(self, redis: RedisClient, settings: Settings, metrics: Metrics | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.metrics = metrics
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis)
        self._lease_ms = int(settings.lease_seconds * 1000)
        self._retention_ms = settings.job_retention_seconds * 1000
        self._backoff_ms = [int(settings.retry_base_seconds * 1000), int(settings.retry_max_seconds * 1000)]

    @classmethod
    def from_settings(
        cls, settings: Settings, *, redis: RedisClient | None = None, metrics: Metrics | None = None
    ) -> JobQueue:
        """A queue on settings.redis_url: a cluster client when REDIS_CLUSTER is true."""
        if redis is None:
            try:
                redis = connect(settings, decode_responses=True)
            except RedisNotConfigured as error:
                raise QueueError(str(error)) from None
        return cls(redis, settings, metrics)

    async def close(self) -> None:
        await self.redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:
            return False

    async def _run(self, name: str, args: list[Any]) -> Any:
        return await self.scripts.run(name, self.keys.tiers, args)

    # --- Enqueue ---------------------------------------------------------------------------------
    async def enqueue(self, job: Job) -> EnqueueResult:
        """Queue one job; idempotent on job.dedup_key and on job.job_id."""
        return (await self.enqueue_many([job]))[0]

    async def enqueue_many(self, jobs: Sequence[Job]) -> list[EnqueueResult]:
        """Queue many jobs in one round trip. Every job is validated before anything is written;
        the pending cap and each user's quota (TIER_QUOTAS by the job's tier, over a rolling 24
        hours) are checked and counted in the same script as the enqueue, all-or-nothing per chunk
        of ENQUEUE_CHUNK jobs, so two photos at once cannot both take the last unit."""
        prepared = [prepare_job(job, self.settings) for job in jobs]
        if not prepared:
            return []
        chunks = [prepared[i : i + ENQUEUE_CHUNK] for i in range(0, len(prepared), ENQUEUE_CHUNK)]
        if len(chunks) == 1:
            replies = [await self._run("enqueue", self._enqueue_args(chunks[0]))]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                calls = [self.scripts.pipe(pipe, "enqueue", self.keys.tiers, self._enqueue_args(chunk))
                         for chunk in chunks]
                replies = await self.scripts.execute(pipe, calls)
        results: list[EnqueueResult] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            if reply[0] == -1:
                raise PendingCapReached(reply[1], self.settings.max_pending_per_user)
            if reply[0] == -2:
                if self.metrics is not None:
                    tier = next(job.tier for job in chunk if job.user_key == reply[1])
                    self.metrics.quota_refusals.labels(tier).inc()
                raise QuotaReached(reply[1], int(reply[3]), int(reply[2]), now_ms())
            now = int(reply[0])
            for job, (flag, _job_id, existing) in zip(chunk, reply[1:], strict=True):
                if flag == 1:
                    job.enqueued_at = now
                    results.append(EnqueueResult(job, True))
                    if self.metrics is not None:
                        self.metrics.jobs_enqueued.labels(job.tier, job.operation).inc()
                else:
                    results.append(EnqueueResult(job_from_flat(existing), False))
        return results

    def _enqueue_args(self, jobs: Sequence[Job]) -> list[Any]:
        args: list[Any] = [self.settings.max_pending_per_user, self.settings.dedup_ttl_seconds,
                           self._retention_ms, len(jobs), QUOTA_WINDOW_MS]
        for job in jobs:
            payload = json.dumps(job_to_hash(job), separators=(",", ":"), ensure_ascii=False)
            # Only a chat user's photos count: jobs an operator queues (CLI, the seed service) do not.
            quota = self.settings.tier_quota(job.tier) if job.platform in CHAT_PLATFORMS else None
            args += [job.job_id, job.user_key, job.priority, job.dedup_key or "", payload,
                     -1 if quota is None else quota]
        return args

    async def enqueue_task(self, task: dict[str, Any]) -> str:
        """The seed service's enqueue: a task dict (user_id, photo_id, operation, tier or priority;
        optional job_id, chat_id, message_id, platform, dedup_key, metadata) -> the job id."""
        return (await self.enqueue(job_from_task(task, self.settings))).job.job_id

    async def dequeue_task(self, worker_id: str = "tasks") -> dict[str, Any] | None:
        """The seed service's dequeue: lease the next job and return it as a dict (every job field,
        plus lease_token and lease_deadline_ms for ack_task). An un-acked task comes back after
        LEASE_SECONDS, so a consumer that crashes loses nothing."""
        leases = await self.lease(worker_id)
        if not leases:
            return None
        lease = leases[0]
        task = lease.job.model_dump(mode="json")
        task.update(lease_token=lease.token, lease_deadline_ms=lease.deadline_ms)
        return task

    async def ack_task(self, task: dict[str, Any], error: BaseException | None = None) -> None:
        """Finish a task from dequeue_task: completed, or failed/retried by `error`."""
        lease = Lease(Job.model_validate({k: v for k, v in task.items() if k in Job.model_fields}),
                      str(task["lease_token"]), int(task["lease_deadline_ms"]))
        if error is None:
            await self.complete(lease)
        else:
            await self.fail(lease, error)

    # --- Leases ----------------------------------------------------------------------------------
    async def lease(
        self,
        worker_id: str,
        count: int = 1,
        timeout: float = 0.0,  # noqa: ASYNC109 - the wait is a server-side BLPOP
    ) -> list[Lease]:
        """Lease up to `count` jobs at once. With timeout > 0 an idle caller blocks on the wake
        list (BLPOP) until an enqueue pushes to it, so pickup takes milliseconds, not a poll."""
        leases = await self._lease_now(worker_id, count)
        if leases or timeout <= 0:
            return leases
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (remaining := deadline - loop.time()) > 0:
            await self.wait_for_work(min(remaining, 1.0))
            leases = await self._lease_now(worker_id, count)
            if leases:
                return leases
        return []

    async def wait_for_work(self, timeout: float) -> bool:  # noqa: ASYNC109 - a server-side BLPOP
        """Block until an enqueue (or a retry, requeue or lease given back) signals work, or the
        timeout passes. Safe to cancel: at worst one wake signal is used up, and the next lease
        call finds the work anyway."""
        wait = max(0.01, timeout)  # BLPOP takes fractions of a second since Redis 6
        got = await cast(Awaitable[Any], self.redis.blpop([self.keys.wake], timeout=wait))  # type: ignore[arg-type]
        return got is not None

    async def _lease_now(self, worker_id: str, count: int) -> list[Lease]:
        return self._leases_from(await self._run("lease", self._lease_args(worker_id, count)))

    def _lease_args(self, worker_id: str, count: int) -> list[Any]:
        return [count, self._lease_ms, int(self.settings.aging_seconds * 1000), worker_id,
                secrets.token_hex(8)]

    async def complete_and_lease(
        self, done: Sequence[Lease], worker_id: str, count: int
    ) -> tuple[list[bool], list[Lease]]:
        """Complete `done` and lease up to `count` more in one round trip (two pipelined calls,
        each atomic): a draining loop then costs one round trip per batch."""
        async with self.redis.pipeline(transaction=False) as pipe:
            calls = []
            if done:
                calls.append(self.scripts.pipe(pipe, "complete", self.keys.tiers,
                                               self._complete_args(done, None)))
            lease_args = self._lease_args(worker_id, count)
            calls.append(self.scripts.pipe(pipe, "lease", self.keys.tiers, lease_args))
            replies = await self.scripts.execute(pipe, calls)
        flags = [flag == 1 for flag in replies[0]] if done else []
        self._record_completions(done, flags)
        return flags, self._leases_from(replies[-1])

    def _leases_from(self, reply: list[Any]) -> list[Lease]:
        leases = [Lease.from_hash(job_id, flat, token, int(deadline))
                  for token, deadline, flat, job_id in reply[1:]]
        if self.metrics is not None:
            for lease in leases:
                job = lease.job
                if job.enqueued_at is not None:
                    wait = max(0.0, (int(reply[0]) - job.enqueued_at) / 1000)
                    self.metrics.queue_wait.labels(job.operation, job.tier).observe(wait)
        return leases

    async def heartbeat(self, leases: Sequence[Lease], worker_id: str = "") -> list[bool]:
        """Extend the leases; False where a lease is lost. With worker_id, also mark it alive."""
        args: list[Any] = [self._lease_ms, worker_id]
        for lease in leases:
            args += [lease.job_id, lease.token]
        return [int(deadline) > 0 for deadline in await self._run("heartbeat", args)]

    async def release(self, leases: Sequence[Lease]) -> list[bool]:
        """Give leases back unfinished, not counted as an attempt (graceful shutdown)."""
        if not leases:
            return []
        args: list[Any] = []
        for lease in leases:
            args += [lease.job_id, lease.token]
        return [flag == 1 for flag in await self._run("release", args)]

    async def save_progress(
        self,
        lease: Lease,
        *,
        result_ids: list[str] | None = None,
        delivered: bool | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Job:
        """Record a finished step (results stored, result delivered) so a re-run resumes after it."""
        fields: dict[str, Any] = {}
        if result_ids is not None:
            fields["result_ids"] = result_ids
        if delivered is not None:
            fields["delivered"] = delivered
        if metadata is not None:
            fields["metadata"] = metadata
        flat = await self._run("update", [lease.job_id, lease.token, *update_args(fields, self.settings)])
        if not flat:
            raise LeaseLost(lease.job_id)
        return job_from_flat(flat)

    async def set_fields(self, job_id: str, **fields: Any) -> Job:
        """Set non-state fields (status_message_id, language, metadata) of any job."""
        unknown = sorted(set(fields) - SETTABLE_FIELDS)
        if unknown:
            raise InvalidJob(f"{unknown[0]}: cannot be set (settable: {', '.join(sorted(SETTABLE_FIELDS))})")
        flat = await self._run("update", [job_id, "", *update_args(fields, self.settings)])
        if not flat:
            raise JobNotFound(job_id)
        return job_from_flat(flat)

    # --- Outcomes --------------------------------------------------------------------------------
    async def complete(self, lease: Lease, *, result_ids: list[str] | None = None) -> None:
        if not (await self.complete_each([lease], result_ids=[result_ids]))[0]:
            raise LeaseLost(lease.job_id)

    async def complete_many(self, leases: Sequence[Lease]) -> None:
        """Complete many leases in one round trip; raises LeaseLost for the first lost one after
        completing all the others."""
        for lease, done in zip(leases, await self.complete_each(leases), strict=True):
            if not done:
                raise LeaseLost(lease.job_id)

    async def complete_each(
        self, leases: Sequence[Lease], *, result_ids: Sequence[list[str] | None] | None = None
    ) -> list[bool]:
        """Complete many leases in one call; True per job completed, False where the lease was lost.
        result_ids, when given, runs parallel to leases (None: keep what save_progress stored)."""
        if not leases:
            return []
        flags = [flag == 1 for flag in await self._run("complete", self._complete_args(leases, result_ids))]
        self._record_completions(leases, flags)
        return flags

    def _complete_args(
        self, leases: Sequence[Lease], result_ids: Sequence[list[str] | None] | None
    ) -> list[Any]:
        per_job = result_ids if result_ids is not None else [None] * len(leases)
        args: list[Any] = [self._retention_ms, DURATIONS_KEPT]
        for lease, results in zip(leases, per_job, strict=True):
            encoded = "" if results is None else json.dumps(results, separators=(",", ":"))
            args += [lease.job_id, lease.token, encoded]
        return args

    def _record_completions(self, leases: Sequence[Lease], flags: Sequence[bool]) -> None:
        if self.metrics is None:
            return
        now = now_ms()
        for lease, done in zip(leases, flags, strict=True):
            if done:
                job = lease.job
                self.metrics.jobs_finished.labels(job.operation, "completed").inc()
                if job.started_at is not None:
                    seconds = max(0.0, (now - job.started_at) / 1000)
                    self.metrics.job_duration.labels(job.operation, job.tier).observe(seconds)

    async def fail(self, lease: Lease, error: BaseException) -> JobStatus:
        """A JobError says whether it is transient, and after how many retries it no longer is; any
        other exception counts as transient (an unknown fault deserves a retry) and is recorded with
        a generic, safe message. A job that fails for good gives its unit of quota back unless the
        error blames the user's file."""
        job_error = error if isinstance(error, JobError) else JobError()
        transient = job_error.transient if isinstance(error, JobError) else True
        if transient and job_error.retries is not None and lease.job.attempts > job_error.retries:
            transient = False  # the same input failed the same way again: retrying will not help
        give_back = transient or not job_error.users_fault
        info = job_error.info()
        status = await self._run("fail", [
            lease.job_id, lease.token, "1" if transient else "0", info.model_dump_json(exclude_none=True),
            *self._backoff_ms, random.uniform(0.5, 1.0), self._retention_ms, "1" if give_back else "0",
        ])
        if status == "lost":
            raise LeaseLost(lease.job_id)
        if self.metrics is not None:
            if status == JobStatus.RETRYING:
                self.metrics.job_retries.labels(info.code).inc()
            else:
                self.metrics.jobs_finished.labels(lease.job.operation, "failed").inc()
        return JobStatus(status)

    async def cancel(self, job_id: str, user_key: str | None = None) -> Job:
        """Cancel a pending or retrying job; with user_key, only that user's (others: not found)."""
        reply = await self._run("cancel", [job_id, user_key or "", self._retention_ms])
        job = self._state_reply(job_id, reply, NotCancellable)
        if self.metrics is not None:
            self.metrics.jobs_finished.labels(job.operation, "cancelled").inc()
        return job

    async def requeue(self, job_id: str) -> Job:
        """A failed job back to pending with its attempts reset."""
        return self._state_reply(job_id, await self._run("requeue", ["one", job_id]), NotRequeueable)

    async def requeue_all_failed(self) -> int:
        total = 0
        while n := int(await self._run("requeue", ["all", SWEEP_LIMIT])):
            total += n
        return total

    @staticmethod
    def _state_reply(
        job_id: str, reply: list[Any], refused: type[NotCancellable] | type[NotRequeueable]
    ) -> Job:
        if reply[0] == "missing":
            raise JobNotFound(job_id)
        if reply[0] == "state":
            raise refused(job_id, reply[1])
        return job_from_flat(reply[1])

    # --- Maintenance -----------------------------------------------------------------------------
    async def reap_expired(self) -> int:
        """Expired leases back to retrying (or failed when attempts are spent); returns how many."""
        total = 0
        while True:
            reply = await self._run(
                "reap", [SWEEP_LIMIT, *self._backoff_ms, random.random(), self._retention_ms, LEASE_EXPIRED]
            )
            retrying, failed = int(reply[0]), int(reply[1])
            total += retrying + failed
            if self.metrics is not None and retrying + failed:
                self.metrics.job_retries.labels("lease_expired").inc(retrying)
            if retrying + failed:
                log.warning("leases expired", retrying=retrying, failed=failed)
            if retrying + failed < SWEEP_LIMIT:
                return total

    async def promote_due_retries(self) -> int:
        total = 0
        while True:
            n = int(await self._run("promote", [SWEEP_LIMIT]))
            total += n
            if n < SWEEP_LIMIT:
                return total
