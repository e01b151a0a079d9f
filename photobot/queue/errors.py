"""The queue's errors: each a stable `code` with the parameters of its message.

Callers (the bots, the web API, the CLI) branch on the class or `code` and show the catalog's
`error.<code>` (photobot.locales); nothing here carries a traceback or internal detail to the user.
A `detail` of InvalidJob and the base QueueError names the field at fault, so their messages
show it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from photobot.jobs import CodedError


class QueueError(CodedError):
    """Base of the queue's errors."""

    code: ClassVar[str] = "queue_error"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail, **{"detail": detail, **params})


class InvalidJob(QueueError):
    """Bad enqueue input: a missing or wrong field, an unknown tier, metadata too large."""

    code = "invalid_job"


class PendingCapReached(QueueError):
    """The user already has MAX_PENDING_PER_USER unfinished jobs."""

    code = "pending_cap"

    def __init__(self, user_key: str, limit: int) -> None:
        self.user_key = user_key
        self.limit = limit
        super().__init__(f"{user_key} has {limit} unfinished jobs", limit=limit, user_key=user_key)


class QuotaReached(QueueError):
    """The user's tier allows `limit` photos per rolling 24 hours and they are used up; the next
    unit comes back at `next_unit_ms` (server time, ms since the epoch)."""

    code = "quota_reached"

    def __init__(self, user_key: str, limit: int, next_unit_ms: int, now_ms: int) -> None:
        self.user_key = user_key
        self.limit = limit
        self.next_unit_ms = next_unit_ms
        self.wait_seconds = max(0, (next_unit_ms - now_ms + 999) // 1000)
        super().__init__(f"{user_key} used {limit} photos in 24 h", limit=limit, user_key=user_key)


class _AboutJob(QueueError):
    """An error about one job, named in its message."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(job_id, job_id=job_id)


class JobNotFound(_AboutJob):
    code = "job_not_found"


class _RefusedInState(QueueError):
    """The job's state does not allow the change."""

    def __init__(self, job_id: str, status: str) -> None:
        self.job_id, self.status = job_id, status
        super().__init__(f"{job_id} is {status}", job_id=job_id, status=status)


class NotCancellable(_RefusedInState):
    """Only pending and retrying jobs can be cancelled; a running one finishes its attempt."""

    code = "not_cancellable"


class NotRequeueable(_RefusedInState):
    """Only failed jobs can be requeued."""

    code = "not_requeueable"


class LeaseLost(_AboutJob):
    """The lease expired or another worker holds the job now: the holder must stop working on it."""

    code = "lease_lost"
