"""photobot's Redis priority job queue: enqueue, lease, heartbeat, ack, retry, dead set, stats.

Fair (strict priority between tiers, round-robin between users inside a tier, FIFO per user,
aging against starvation), safe (every state change is one Lua call; leases with tokens and
deadlines; a reaper for the crashed) and fast (batched leases and acks, blocking wake-up).
"""

from photobot.queue.core import JobQueue
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
from photobot.queue.maintenance import Maintenance
from photobot.queue.models import EnqueueResult, Lease, QueueStats
from photobot.queue.worker import JobContext, Worker

__all__ = [
    "EnqueueResult",
    "InvalidJob",
    "JobContext",
    "JobNotFound",
    "JobQueue",
    "Lease",
    "LeaseLost",
    "Maintenance",
    "NotCancellable",
    "NotRequeueable",
    "PendingCapReached",
    "QueueError",
    "QueueStats",
    "QuotaReached",
    "Worker",
]
