"""Enqueue and update input checked before anything is written: a bad job or field raises
InvalidJob and leaves Redis untouched, so a half-written job can never exist."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from photobot.config import Settings
from photobot.jobs import Job, JobStatus, Platform
from photobot.queue.codec import encode_fields
from photobot.queue.errors import InvalidJob

TASK_FIELDS = frozenset({
    "job_id", "user_id", "photo_id", "operation", "tier", "priority", "platform", "chat_id",
    "message_id", "status_message_id", "language", "params", "dedup_key", "metadata", "max_attempts",
})
REQUIRED_TASK_FIELDS = ("user_id", "photo_id", "operation")


def describe(error: ValidationError) -> str:
    """The first problem as `field: message`, without echoing large inputs."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "job"
    return f"{where}: {first['msg']}"


def update_args(fields: dict[str, Any], settings: Settings) -> list[str]:
    """Field updates validated through the Job model, encoded as the codec writes them: the
    name/value pairs of the update script."""
    probe = Job(user_id="-", operation="-", photo_id="-")
    try:
        for name, value in fields.items():
            setattr(probe, name, value)
    except ValueError as error:
        raise InvalidJob(str(error).splitlines()[0]) from None
    if "metadata" in fields:
        size = len(json.dumps(probe.metadata, separators=(",", ":")).encode())
        if size > settings.max_metadata_bytes:
            raise InvalidJob(f"metadata: {size} bytes is over the limit of {settings.max_metadata_bytes}")
    return [part for pair in encode_fields(probe, fields).items() for part in pair]


def prepare_job(job: Job, settings: Settings) -> Job:
    """Validate a job for enqueue and give it a clean pending state.

    The job is validated again as a whole because `Job.model_construct` or a mutated nested value
    can carry data that never passed validation. Priority follows the tier unless the caller set
    it; max_attempts follows MAX_ATTEMPTS unless the caller set it.
    """
    given = job.model_fields_set
    data = job.model_dump()
    tier = data.get("tier")
    if not isinstance(tier, str) or tier not in settings.tiers:
        raise InvalidJob(f"tier: unknown tier {tier!r} (known: {', '.join(settings.tiers)})")
    data.update(
        status=JobStatus.PENDING, attempts=0, next_retry_at=None, error=None,
        started_at=None, finished_at=None, enqueued_at=None,
    )
    if "priority" not in given:
        data["priority"] = settings.tiers[tier]
    if "max_attempts" not in given:
        data["max_attempts"] = settings.max_attempts
    try:
        clean = Job.model_validate(data)
    except ValidationError as error:
        raise InvalidJob(describe(error)) from None
    if clean.max_attempts < 1:
        raise InvalidJob("max_attempts: must be at least 1")
    for name in ("metadata", "params"):
        try:
            size = len(json.dumps(getattr(clean, name), separators=(",", ":")).encode())
        except (TypeError, ValueError):
            raise InvalidJob(f"{name}: must be JSON (objects, lists, text, numbers)") from None
        if size > settings.max_metadata_bytes:
            raise InvalidJob(f"{name}: {size} bytes is over the limit of {settings.max_metadata_bytes}")
    return clean


def job_from_task(task: dict[str, Any], settings: Settings) -> Job:
    """Build a Job from the seed service's task dict (see JobQueue.enqueue_task)."""
    if not isinstance(task, dict):
        raise InvalidJob("task: must be a dict")
    unknown = sorted(set(task) - TASK_FIELDS)
    if unknown:
        raise InvalidJob(f"{unknown[0]}: unknown field")
    missing = [name for name in REQUIRED_TASK_FIELDS if task.get(name) in (None, "")]
    if missing:
        raise InvalidJob(f"{missing[0]}: field required")
    data = {name: value for name, value in task.items() if value is not None}
    tier = data.get("tier")
    if tier is None:
        data["tier"] = _tier_for(data.get("priority"), settings)
    elif not isinstance(tier, str) or tier not in settings.tiers:
        raise InvalidJob(f"tier: unknown tier {tier!r} (known: {', '.join(settings.tiers)})")
    if data.get("dedup_key") is None and data.get("message_id") is not None:
        platform = data.get("platform", Platform.CLI.value)
        data["dedup_key"] = (
            f"{platform}:{data.get('chat_id', '')}:{data['message_id']}:{data['operation']}"
        )
    try:
        job = Job(**data)
    except ValidationError as error:
        raise InvalidJob(describe(error)) from None
    return prepare_job(job, settings)


def _tier_for(priority: object, settings: Settings) -> str:
    """The tier of a bare priority: the highest tier at or below it (the lowest tier otherwise)."""
    if priority is None:
        return settings.default_tier
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidJob(f"priority: must be an integer, got {priority!r}")
    at_or_below = [name for name, value in settings.tiers.items() if value <= priority]
    return at_or_below[-1] if at_or_below else next(iter(settings.tiers))
