"""What the HTTP side needs from the rest of photobot, as small protocols.

The composition root builds the real parts (JobQueue, a Storage backend, SessionStore, the user
store) and hands them over in one `WebDeps`; the web package imports none of their constructors, so
it can be tested against any implementation that keeps these contracts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from pydantic import BaseModel

from photobot.config import Settings
from photobot.gdrive import FileMissing, InvalidFileId
from photobot.jobs import Job, JobStatus
from photobot.metrics import Metrics
from photobot.queue.quota import QuotaBook
from photobot.sessions import SessionStore
from photobot.users import UserRecord


class JobSource(Protocol):
    """The part of photobot.queue.JobQueue that the API reads and drives."""

    async def get(self, job_id: str) -> Job | None: ...

    async def user_jobs(
        self, user_key: str, status: JobStatus | None = None, limit: int = 10, offset: int = 0
    ) -> tuple[list[Job], int]: ...

    async def cancel(self, job_id: str, user_key: str | None = None) -> Job: ...

    async def requeue(self, job_id: str) -> Job: ...

    async def stats(self) -> BaseModel: ...

    async def ping(self) -> bool: ...


class ResultStorage(Protocol):
    """The part of photobot.gdrive's Storage that serves results and reports its health."""

    async def get(self, file_id: str) -> bytes: ...

    async def check(self) -> list[str]: ...


class UserDirectory(Protocol):
    """Per-user record and tier, as every request's authority and the admin API read them
    (photobot.users.UserStore keeps them; its set_tier revokes the tokens of a demoted admin)."""

    async def get(self, user_key: str) -> UserRecord: ...

    async def get_tier(self, user_key: str) -> str: ...

    async def set_tier(self, user_key: str, tier: str) -> None: ...


WorkersAlive = Callable[[], Awaitable[bool]]
JobShown = Callable[[Job], Awaitable[None]]
PlatformProbe = Callable[[], Awaitable[bool]]
RouteHook = Callable[[web.Application], None]


@dataclass(frozen=True)
class WebDeps:
    """Everything `build_web_app` wires.

    workers_alive: readiness of the job workers (None: this process runs none, so not checked).
    add_routes: called with the root application to add more routes, e.g. the Telegram webhook
        (photobot.bot.telegram.webhook.add_webhook_route, which checks X-Telegram-Bot-Api-Secret-Token).
    missing_errors: what storage.get raises for a file that is gone or an id it cannot hold, so a
        lost result is a 404 and not a 500.
    check_timeout: seconds each readiness probe may take before it counts as down.
    show_final: shows a job cancelled through the API in its chat (photobot.bot.core.status), so the
        status message ends in "cancelled"; None where this process has no chat adapter.
    quotas: the quota keys' reader, for /me (None: /me gives no quota numbers).
    platforms: the chat platforms this process talks to, by name, each with its reachability probe.
    """

    settings: Settings
    queue: JobSource
    storage: ResultStorage
    sessions: SessionStore
    users: UserDirectory
    metrics: Metrics
    workers_alive: WorkersAlive | None = None
    add_routes: RouteHook | None = None
    missing_errors: tuple[type[BaseException], ...] = (FileMissing, InvalidFileId)
    show_final: JobShown | None = None
    quotas: QuotaBook | None = None
    check_timeout: float = 2.0
    platforms: Mapping[str, PlatformProbe] = field(default_factory=dict)


DEPS_KEY: web.AppKey[WebDeps] = web.AppKey("photobot_web_deps", WebDeps)
