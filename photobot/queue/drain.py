"""The no-op drain behind `worker --noop`: the queue's own cost with no handler in the way.

Each round trip completes the previous batch and leases the next (JobQueue.complete_and_lease), so
the cost per job is a share of one call. A real worker (Worker) adds a task per job, heartbeats
and error handling; the benchmark reports both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket

from photobot.logs import get_logger
from photobot.queue.core import JobQueue
from photobot.queue.models import Lease
from photobot.queue.outage import REDIS_DOWN, Outage

log = get_logger(__name__)


class NoopDrainer:
    def __init__(
        self, queue: JobQueue, *, batch: int = 500, worker_id: str | None = None, idle_wait: float = 0.5
    ) -> None:
        self.queue = queue
        self.batch = batch
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.idle_wait = idle_wait
        self.processed = 0
        self._stop = asyncio.Event()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        held: list[Lease] = []
        outage = Outage("noop-drain")
        while True:
            count = 0 if self._stop.is_set() else self.batch
            try:
                flags, leased = await self.queue.complete_and_lease(held, self.worker_id, count)
            except REDIS_DOWN as error:
                # Unacknowledged leases expire and are run again: nothing is lost.
                held = []
                await outage.failed(error)
                continue
            outage.ok()
            self.processed += sum(flags)
            held = leased
            if self._stop.is_set() and not held:
                return
            if not held:
                await self._idle()

    async def _idle(self) -> None:
        waiter = asyncio.ensure_future(self.queue.wait_for_work(self.idle_wait))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)
