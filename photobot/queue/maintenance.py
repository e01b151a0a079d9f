"""The reaper and the retry scheduler: expired leases back to retrying, due retries to pending.

Both steps are single Lua calls that pick what is due at the server's time, so any number of
processes can run a Maintenance at once: each job moves once, whoever gets to it first.
"""

from __future__ import annotations

import asyncio

from photobot.logs import get_logger
from photobot.queue.core import JobQueue
from photobot.queue.outage import every

log = get_logger(__name__)


class Maintenance:
    def __init__(self, queue: JobQueue, interval: float = 0.5) -> None:
        self.queue = queue
        self.interval = interval
        self._stop = asyncio.Event()

    async def run(self) -> None:
        await every("maintenance", self.interval, self.run_once, self._stop)

    async def run_once(self) -> tuple[int, int]:
        """One sweep: (promoted retries, reaped leases)."""
        promoted = await self.queue.promote_due_retries()
        reaped = await self.queue.reap_expired()
        return promoted, reaped

    def stop(self) -> None:
        self._stop.set()
