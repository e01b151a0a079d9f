"""The reaper and the retry scheduler: expired leases back to retrying, due retries to pending.

Both steps are single Lua calls that pick what is due at the server's time, so any number of
processes can run a Maintenance at once: each job moves once, whoever gets to it first.
"""

from __future__ import annotations

import asyncio
import contextlib

from photobot.logs import get_logger
from photobot.queue.core import JobQueue
from photobot.queue.outage import REDIS_DOWN, Outage

log = get_logger(__name__)


class Maintenance:
    def __init__(self, queue: JobQueue, interval: float = 0.5) -> None:
        self.queue = queue
        self.interval = interval
        self._stop = asyncio.Event()

    async def run(self) -> None:
        outage = Outage("maintenance")
        while not self._stop.is_set():
            try:
                await self.run_once()
            except REDIS_DOWN as error:
                await outage.failed(error)
                continue
            outage.ok()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)

    async def run_once(self) -> tuple[int, int]:
        """One sweep: (promoted retries, reaped leases)."""
        promoted = await self.queue.promote_due_retries()
        reaped = await self.queue.reap_expired()
        return promoted, reaped

    def stop(self) -> None:
        self._stop.set()
