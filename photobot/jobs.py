"""The words every part of photobot shares: Job, JobStatus, Platform, Tier, and the job errors.

This module imports nothing of the project, so the queue, processing, storage, the bots and the web
side can all depend on it without depending on each other.
"""

from __future__ import annotations

import enum
import time
import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    RETRYING = "retrying"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Platform(enum.StrEnum):
    TELEGRAM = "telegram"
    VK = "vk"
    CLI = "cli"

    @property
    def short(self) -> str:
        return {"telegram": "tg", "vk": "vk", "cli": "cli"}[self.value]


class Tier(BaseModel):
    """A named priority class of users; a higher priority is served first."""

    model_config = ConfigDict(frozen=True)

    name: str
    priority: int


class JobErrorInfo(BaseModel):
    """What a job records of its last error: a stable code and the parameters of its message.

    The text comes from the catalog (photobot.locales) where the job is shown, in the reader's
    language. `message` is what an older photobot stored instead of the parameters, already in the
    job's language; a job stored that way still shows it.
    """

    code: str
    params: dict[str, JsonValue] = Field(default_factory=dict)
    message: str | None = None


def new_job_id() -> str:
    return uuid.uuid4().hex


def now_ms() -> int:
    return int(time.time() * 1000)


class Job(BaseModel):
    """One photo's job. Stored as a Redis hash; photobot/queue/codec.py is the one way in and out."""

    model_config = ConfigDict(validate_assignment=True)

    JSON_FIELDS: ClassVar[frozenset[str]] = frozenset({"params", "result_ids", "error", "metadata"})

    job_id: str = Field(default_factory=new_job_id, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    platform: Platform = Platform.CLI
    chat_id: int | None = None
    message_id: int | None = Field(None, description="The user's message that carried the photo.")
    status_message_id: int | None = Field(None, description="The bot's message that tells the status.")
    user_id: str = Field(min_length=1, max_length=64)
    language: str = "en"
    tier: str = "free"
    priority: int = 0
    operation: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    photo_id: str = Field(min_length=1, max_length=256)
    result_ids: list[str] = Field(default_factory=list)
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    max_attempts: int = 5
    next_retry_at: int | None = None
    error: JobErrorInfo | None = None
    created_at: int = Field(default_factory=now_ms)
    enqueued_at: int | None = None
    started_at: int | None = None
    finished_at: int | None = None
    delivered: bool = False
    dedup_key: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("user_id", mode="before")
    @classmethod
    def _user_id_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("dedup_key")
    @classmethod
    def _empty_dedup_key_is_none(cls, value: str | None) -> str | None:
        """The enqueue script ignores an empty key, and the hash cannot tell '' from none."""
        return value or None

    @property
    def user_key(self) -> str:
        """The user across platforms: tg:123 and vk:123 are different people."""
        return user_key(self.platform, self.user_id)


def user_key(platform: Platform | str, user_id: int | str) -> str:
    return f"{Platform(platform).short}:{user_id}"


def parse_user_ref(value: str, default: Platform | str) -> str | None:
    """A user as a person names one, in a chat command or on the command line: `123` is a user of
    the `default` platform, `tg:123` / `vk:123` name the platform; None for anything else."""
    value = value.strip()
    if value.isdigit() and len(value) <= 20:
        return user_key(default, value)
    short, _, rest = value.partition(":")
    if short in {p.short for p in Platform} and rest.isdigit() and len(rest) <= 20:
        return value
    return None


class CodedError(Exception):
    """Base of every refusal a person may be shown: a stable `code` and the parameters of its message.

    The message itself is the catalog's `error.<code>` (photobot.locales), rendered where the error
    is shown; `detail` is for the log and never shown. Subclasses set `code` and, when they take
    fixed arguments, pass them on as `params`. Pickles by code and params, so an error crosses the
    process-pool boundary whatever its own `__init__` takes.
    """

    code: ClassVar[str] = "internal"

    def __init__(self, detail: str | None = None, /, **params: Any) -> None:
        self.detail = detail or self.code
        self.params = params
        super().__init__(f"{self.code}: {self.detail}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.detail, self.params))


def _rebuild(cls: type[CodedError], detail: str, params: dict[str, Any]) -> CodedError:
    error = cls.__new__(cls)
    CodedError.__init__(error, detail, **params)
    return error


class JobError(CodedError):
    """Base of the errors a job can end with; `transient` and `retries` tell the queue what follows."""

    transient: ClassVar[bool] = False
    # The user's own file caused it (not an image, too large, no faces): the photo still counts
    # against their quota. Anything else that fails for good gives the unit back.
    users_fault: ClassVar[bool] = False
    # A transient error that comes back on more than this many retries of the same job is taken as
    # the job's own fault (an input that always times out), and the job fails. None: no such bound.
    retries: ClassVar[int | None] = None

    def info(self) -> JobErrorInfo:
        """What the job records: the code, and the params as JSON (anything else as its text)."""
        params = {name: _json(value) for name, value in self.params.items()}
        return JobErrorInfo(code=self.code, params=params)


def _json(value: Any) -> JsonValue:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(name): _json(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json(item) for item in value]
    return str(value)


class PermanentJobError(JobError):
    """Retrying cannot help (a bad image, an unknown operation): the job fails at once."""


class TransientJobError(JobError):
    """A passing fault (network, rate limit, an outage): the job is retried with backoff."""

    code: ClassVar[str] = "temporary"
    transient: ClassVar[bool] = True
