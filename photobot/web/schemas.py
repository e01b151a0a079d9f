"""The JSON bodies of the API, as pydantic models: they serialise the answers and, through
`model_json_schema`, describe them in the OpenAPI document, so the two cannot disagree."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from photobot.jobs import Job, JobStatus, Platform
from photobot.locales import error_text
from photobot.sessions import Scope

JOB_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
USER_KEY_PATTERN = r"^(tg|vk|cli):[A-Za-z0-9_.@-]{1,64}$"
MAX_LIMIT = 100
MAX_OFFSET = 100_000


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable: unauthorized, invalid_token, forbidden, ...")
    message: str = Field(description="Human-readable; may change between versions.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class JobError(BaseModel):
    code: str = Field(description="Stable, machine-readable: too_large, no_faces, timeout, ...")
    message: str = Field(description="Human-readable, in the job's language; may change between versions.")

    @classmethod
    def of(cls, job: Job) -> JobError | None:
        return cls(code=job.error.code, message=error_text(job.error, job.language)) if job.error else None


class JobOut(BaseModel):
    """A job as its owner may see it; chat-internal fields (message ids, dedup key) stay inside."""

    model_config = ConfigDict(use_enum_values=True)

    job_id: str
    platform: Platform
    user_id: str
    user_key: str = Field(description="The owner across platforms, e.g. tg:123.")
    status: JobStatus
    operation: str
    params: dict[str, Any]
    tier: str
    priority: int
    attempts: int
    max_attempts: int
    result_ids: list[str] = Field(description="Storage ids of the results; fetch with /jobs/{id}/result.")
    error: JobError | None
    created_at: int = Field(description="Milliseconds since the Unix epoch.")
    enqueued_at: int | None
    started_at: int | None
    finished_at: int | None
    next_retry_at: int | None
    delivered: bool

    @classmethod
    def from_job(cls, job: Job) -> JobOut:
        fields = {name: getattr(job, name) for name in cls.model_fields if name != "error"}
        return cls.model_validate({**fields, "error": JobError.of(job)})


class JobPage(BaseModel):
    jobs: list[JobOut]
    total: int = Field(description="Jobs that match in all, beyond this page.")
    limit: int
    offset: int


# The API's one time format: integer milliseconds since the Unix epoch (UTC), as every job time is.
# /me's first fields were seconds; v1 keeps them, marked deprecated, beside their *_ms twins.
SECONDS_FIELD: dict[str, JsonValue] = {"deprecated": True}


class Me(BaseModel):
    model_config = ConfigDict(use_enum_values=True)

    user_key: str
    scope: Scope
    tier: str
    expires_at_ms: int = Field(description="When this token stops working, in ms since the Unix epoch.")
    quota: int | None = Field(
        None, description="Photos the tier allows per rolling 24 hours; null: no limit."
    )
    quota_left: int | None = Field(None, description="Photos left of the quota now; null: no limit.")
    quota_next_at_ms: int | None = Field(
        None,
        description="When the oldest counted photo leaves the 24 hours (one more is allowed), in "
        "milliseconds since the Unix epoch; null when none is counted.",
    )
    premium_until_ms: int | None = Field(
        None, description="When premium (paid or granted) ends or ended, in milliseconds since the epoch."
    )
    expires_at: int = Field(
        description="Deprecated: expires_at_ms in seconds, for v1 clients.", json_schema_extra=SECONDS_FIELD
    )
    quota_next_at: int | None = Field(
        None, description="Deprecated: quota_next_at_ms in seconds.", json_schema_extra=SECONDS_FIELD
    )
    premium_until: int | None = Field(
        None, description="Deprecated: premium_until_ms in seconds.", json_schema_extra=SECONDS_FIELD
    )

    @classmethod
    def build(
        cls, user_key: str, scope: Scope, tier: str, expires_at_ms: int, *,
        quota: int | None = None, quota_left: int | None = None,
        quota_next_at_ms: int | None = None, premium_until_ms: int | None = None,
    ) -> Me:
        """The answer, with each deprecated seconds field derived from its milliseconds twin."""
        return cls(
            user_key=user_key, scope=scope, tier=tier, quota=quota, quota_left=quota_left,
            expires_at_ms=expires_at_ms, expires_at=expires_at_ms // 1000,
            quota_next_at_ms=quota_next_at_ms,
            quota_next_at=None if quota_next_at_ms is None else quota_next_at_ms // 1000,
            premium_until_ms=premium_until_ms,
            premium_until=None if premium_until_ms is None else premium_until_ms // 1000,
        )


class TierChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: str = Field(min_length=1, max_length=32, description="One of the configured TIERS.")


class UserTier(BaseModel):
    user_key: str
    tier: str
