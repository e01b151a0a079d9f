"""The worker loop: lease in batches, run the handler on up to `concurrency` jobs at once, keep
their leases alive, classify what they raise, and acknowledge in batches.

A job whose handler steps aside (`JobContext.step_aside`: its work is done and it waits on a chat's
send budget) keeps its lease but no longer takes one of the `concurrency` places, so a chat that
can only take a message a second does not stall the work of everyone else; at most `max_aside`
such jobs wait at once (more keep their place).

Acknowledgements go through one ack task that completes everything finished since its last call
in a single round trip, so under load the cost per job is a fraction of a call, while an idle
worker still acks a lone job at once. On stop (SIGTERM) the worker stops leasing, lets in-flight
jobs finish within the grace period and gives back the leases of those that did not, without
counting an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import structlog

from photobot.jobs import Job
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.queue.core import JobQueue
from photobot.queue.errors import LeaseLost
from photobot.queue.models import Lease
from photobot.queue.outage import REDIS_DOWN, Outage

log = get_logger(__name__)


@dataclass
class JobContext:
    """What a handler gets: the job, its lease and the queue. Set `result_ids` to have them stored
    with the completion."""

    job: Job
    lease: Lease
    queue: JobQueue
    result_ids: list[str] | None = field(default=None)
    step_aside: Callable[[], None] = field(default=lambda: None)
    """Call when what is left of the job waits on something else than this process (a chat's send
    budget): the job keeps its lease, and the worker takes another job in its place."""

    async def save_progress(
        self,
        *,
        result_ids: list[str] | None = None,
        delivered: bool | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Job:
        self.job = await self.queue.save_progress(
            self.lease, result_ids=result_ids, delivered=delivered, metadata=metadata
        )
        return self.job


Handler = Callable[[JobContext], Awaitable[None]]


@dataclass
class _Ack:
    lease: Lease
    result_ids: list[str] | None
    done: asyncio.Future[bool]


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(eq=False)
class Worker:
    """Leases up to `concurrency` jobs at once and runs each through `handler`; see the module."""

    queue: JobQueue
    handler: Handler
    _: KW_ONLY
    concurrency: int
    worker_id: str = field(default_factory=_worker_id)
    grace_seconds: float = 20.0
    metrics: Metrics | None = None
    idle_wait: float = 0.5
    max_aside: int = 200
    processed: int = field(default=0, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _slot_free: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _inflight: dict[str, tuple[Lease, asyncio.Task[None]]] = field(default_factory=dict, init=False)
    _aside: set[str] = field(default_factory=set, init=False)  # in flight, stepped aside: not busy
    _lost: set[str] = field(default_factory=set, init=False)
    _held_until: dict[str, float] = field(default_factory=dict, init=False)
    _acks: list[_Ack] = field(default_factory=list, init=False)
    _ack_ready: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")

    @property
    def _lease_seconds(self) -> float:
        return self.queue.settings.lease_seconds

    def _expired(self, lease: Lease) -> bool:
        """Whether the lease may have run out, by this process's clock (a lease is extended only
        by a heartbeat that succeeded, so this errs on the side of "expired")."""
        return time.monotonic() > self._held_until.get(lease.job_id, 0.0)

    def stop(self) -> None:
        """Stop leasing; run() then drains and returns. Safe to call from a signal handler."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> None:
        log.info("worker started", worker_id=self.worker_id, concurrency=self.concurrency)
        heart = asyncio.create_task(self._heartbeat_loop(), name="photobot-heartbeat")
        acker = asyncio.create_task(self._ack_loop(), name="photobot-acks")
        try:
            await self._lease_loop()
        finally:
            await self._drain()
            heart.cancel()
            acker.cancel()
            await asyncio.gather(heart, acker, return_exceptions=True)
            log.info("worker stopped", worker_id=self.worker_id, processed=self.processed)

    # --- Leasing ---------------------------------------------------------------------------------
    async def _lease_loop(self) -> None:
        outage = Outage("worker")
        while not self._stop.is_set():
            free = self.concurrency - (len(self._inflight) - len(self._aside))
            if free <= 0:
                self._slot_free.clear()
                await _first(self._slot_free.wait(), self._stop.wait())
                continue
            try:
                leases = await self.queue.lease(self.worker_id, free)
                if not leases:
                    await _first(self.queue.wait_for_work(self.idle_wait), self._stop.wait())
                    continue
            except REDIS_DOWN as error:
                await outage.failed(error)
                continue
            outage.ok()
            for lease in leases:
                self._held_until[lease.job_id] = time.monotonic() + self._lease_seconds
                task = asyncio.create_task(self._process(lease))
                self._inflight[lease.job_id] = (lease, task)
                task.add_done_callback(functools.partial(self._finished, lease.job_id))

    @property
    def aside(self) -> int:
        """Jobs in flight that stepped aside."""
        return len(self._aside)

    def _step_aside(self, job_id: str) -> None:
        """Beyond `max_aside` waiting jobs, a job keeps its place: the process's backlog stays bounded."""
        if job_id in self._inflight and job_id not in self._aside and len(self._aside) < self.max_aside:
            self._aside.add(job_id)
            self._slot_free.set()

    def _finished(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(job_id, None)
        self._aside.discard(job_id)
        self._lost.discard(job_id)
        self._held_until.pop(job_id, None)
        self._slot_free.set()

    async def _process(self, lease: Lease) -> None:
        job = lease.job
        ctx = JobContext(
            job=job, lease=lease, queue=self.queue, step_aside=functools.partial(self._step_aside, job.job_id)
        )
        # Each job runs in its own task, hence its own copy of the context: bound once, no reset.
        structlog.contextvars.bind_contextvars(job_id=job.job_id, user_id=job.user_key)
        try:
            await self.handler(ctx)
        except asyncio.CancelledError:
            if job.job_id in self._lost:
                log.warning("lease lost while running; abandoned", attempt=job.attempts)
                return
            raise
        except LeaseLost:
            log.warning("lease lost while running; abandoned", attempt=job.attempts)
            return
        except Exception as error:
            await self._fail(ctx, error)
            return
        await self._ack(ctx)

    async def _fail(self, ctx: JobContext, error: Exception) -> None:
        outage = Outage("worker-fail")
        while True:
            try:
                status = await self.queue.fail(ctx.lease, error)
            except LeaseLost:
                log.warning("lease lost before the failure was recorded")
                return
            except REDIS_DOWN as redis_error:
                if self._expired(ctx.lease):
                    log.warning("could not record a failure; the expired lease will retry the job")
                    return
                await outage.failed(redis_error)
                continue
            log.warning("job raised", status=str(status), error=type(error).__name__,
                        detail=str(error)[:300], attempt=ctx.job.attempts)
            self.processed += 1
            return

    # --- Acknowledgements ------------------------------------------------------------------------
    async def _ack(self, ctx: JobContext) -> None:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks.append(_Ack(ctx.lease, ctx.result_ids, done))
        self._ack_ready.set()
        if await done:
            self.processed += 1
        else:
            log.warning("lease lost before completion; the job may run again", attempt=ctx.job.attempts)

    async def _ack_loop(self) -> None:
        outage = Outage("worker-ack")
        while True:
            await self._ack_ready.wait()
            self._ack_ready.clear()
            batch, self._acks = self._acks, []
            while batch:
                try:
                    flags = await self.queue.complete_each(
                        [ack.lease for ack in batch], result_ids=[ack.result_ids for ack in batch]
                    )
                except REDIS_DOWN as error:
                    # A job whose lease has expired will be run again by whoever leases it next.
                    kept = [ack for ack in batch if not self._expired(ack.lease)]
                    for ack in batch:
                        if ack not in kept:
                            ack.done.set_result(False)
                    batch = kept
                    await outage.failed(error)
                    continue
                outage.ok()
                for ack, flag in zip(batch, flags, strict=True):
                    if not ack.done.done():
                        ack.done.set_result(flag)
                batch = []

    # --- Heartbeats ------------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        """Extend in-flight leases every third of a lease; cancel jobs whose lease is lost. Runs
        while idle too, so stats can count this worker as alive."""
        interval = max(0.05, self._lease_seconds / 3)
        outage = Outage("worker-heartbeat")
        while True:
            inflight = list(self._inflight.values())
            try:
                flags = await self.queue.heartbeat([lease for lease, _ in inflight], self.worker_id)
            except REDIS_DOWN as error:
                await outage.failed(error)
                continue
            outage.ok()
            now = time.monotonic()
            for (lease, task), held in zip(inflight, flags, strict=True):
                if held:
                    self._held_until[lease.job_id] = now + self._lease_seconds
                elif not task.done():
                    self._lost.add(lease.job_id)
                    task.cancel()
                    if self.metrics is not None:
                        self.metrics.job_retries.labels("lease_lost").inc()
            await asyncio.sleep(interval)

    # --- Shutdown --------------------------------------------------------------------------------
    async def _drain(self) -> None:
        if not self._inflight:
            return
        tasks = {task for _, task in self._inflight.values()}
        log.info("stopping: waiting for in-flight jobs", jobs=len(tasks), grace_seconds=self.grace_seconds)
        _, late = await asyncio.wait(tasks, timeout=self.grace_seconds)
        if not late:
            return
        leases = [lease for lease, task in self._inflight.values() if task in late]
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        outage = Outage("worker-release")
        for _ in range(20):
            try:
                given_back = await self.queue.release(leases)
            except REDIS_DOWN as error:
                await outage.failed(error)
                continue
            log.info("leases given back", jobs=sum(given_back))
            return
        log.warning("could not give leases back; they will expire", jobs=len(leases))


async def _first(*waits: Awaitable[Any]) -> None:
    """Wait until the first of several awaitables finishes; cancel the rest."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()  # an error of the first to finish (Redis down) reaches the caller
