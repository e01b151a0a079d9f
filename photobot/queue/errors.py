"""The queue's errors: each has a stable `code` and a message in English and Russian.

Callers (the bots, the web API, the CLI) show `user_message(language)` and branch on the class or
`code`; nothing here carries a traceback or internal detail to the user.
"""

from __future__ import annotations

from typing import Any, ClassVar


class QueueError(Exception):
    """Base of the queue's errors."""

    code: ClassVar[str] = "queue_error"
    messages: ClassVar[dict[str, str]] = {
        "en": "The queue could not do that: {detail}",
        "ru": "Очередь не смогла это выполнить: {detail}",
    }

    def __init__(self, detail: str = "", **params: Any) -> None:
        self.detail = detail
        self.params = {"detail": detail, **params}
        super().__init__(self.user_message("en"))

    def user_message(self, language: str = "en") -> str:
        template = self.messages.get(language) or self.messages["en"]
        return template.format_map(self.params)


class InvalidJob(QueueError):
    """Bad enqueue input: a missing or wrong field, an unknown tier, metadata too large."""

    code = "invalid_job"
    messages = {
        "en": "Invalid job: {detail}",
        "ru": "Неверное задание: {detail}",
    }


class PendingCapReached(QueueError):
    """The user already has MAX_PENDING_PER_USER unfinished jobs."""

    code = "pending_cap"
    messages = {
        "en": "You already have {limit} photos waiting; send more when some are done.",
        "ru": "У вас уже {limit} фото в очереди; пришлите ещё, когда часть будет готова.",
    }

    def __init__(self, user_key: str, limit: int) -> None:
        self.user_key = user_key
        self.limit = limit
        super().__init__(f"{user_key} has {limit} unfinished jobs", limit=limit, user_key=user_key)


class QuotaReached(QueueError):
    """The user's tier allows `limit` photos per rolling 24 hours and they are used up; the next
    unit comes back at `next_unit_ms` (server time, ms since the epoch)."""

    code = "quota_reached"
    messages = {
        "en": "You have used your {limit} photos of the last 24 hours.",
        "ru": "Вы использовали свои {limit} фото за последние 24 часа.",
    }

    def __init__(self, user_key: str, limit: int, next_unit_ms: int, now_ms: int) -> None:
        self.user_key = user_key
        self.limit = limit
        self.next_unit_ms = next_unit_ms
        self.wait_seconds = max(0, (next_unit_ms - now_ms + 999) // 1000)
        super().__init__(f"{user_key} used {limit} photos in 24 h", limit=limit, user_key=user_key)


class JobNotFound(QueueError):
    code = "job_not_found"
    messages = {
        "en": "No job {job_id}.",
        "ru": "Задание {job_id} не найдено.",
    }

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(job_id, job_id=job_id)


class NotCancellable(QueueError):
    """Only pending and retrying jobs can be cancelled; a running one finishes its attempt."""

    code = "not_cancellable"
    messages = {
        "en": "Job {job_id} is {status} and cannot be cancelled.",
        "ru": "Задание {job_id} в состоянии {status}, его нельзя отменить.",
    }

    def __init__(self, job_id: str, status: str) -> None:
        self.job_id, self.status = job_id, status
        super().__init__(f"{job_id} is {status}", job_id=job_id, status=status)


class NotRequeueable(QueueError):
    """Only failed jobs can be requeued."""

    code = "not_requeueable"
    messages = {
        "en": "Job {job_id} is {status}; only failed jobs can be requeued.",
        "ru": "Задание {job_id} в состоянии {status}; повторить можно только неудачные.",
    }

    def __init__(self, job_id: str, status: str) -> None:
        self.job_id, self.status = job_id, status
        super().__init__(f"{job_id} is {status}", job_id=job_id, status=status)


class LeaseLost(QueueError):
    """The lease expired or another worker holds the job now: the holder must stop working on it."""

    code = "lease_lost"
    messages = {
        "en": "The lease on job {job_id} was lost.",
        "ru": "Аренда задания {job_id} потеряна.",
    }

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(job_id, job_id=job_id)
