"""Test parts for the HTTP side: a whole web stack (real JobQueue, SessionStore, UserStore,
LocalStorage and redis-server, built by photobot.builders) served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import aiohttp

from photobot import app_web, builders
from photobot.builders import Platforms
from photobot.config import Settings
from photobot.gdrive import LocalStorage
from photobot.jobs import Job, PermanentJobError, Platform
from photobot.metrics import Metrics
from photobot.queue import JobQueue
from photobot.sessions import Scope, SessionStore
from photobot.users import UserStore
from photobot.web import bound_port, build_web_app, serve

TINY_JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 600


@dataclass
class Stack:
    settings: Settings
    queue: JobQueue
    sessions: SessionStore
    users: UserStore
    storage: LocalStorage
    metrics: Metrics
    http: aiohttp.ClientSession
    base: str
    workers: list[bool]

    async def token(self, user_key: str, scope: Scope = Scope.USER, ttl: int | None = None) -> str:
        """A token; an admin-scope one for a user made an admin first (a token opens no more than
        its user may do now)."""
        if scope is Scope.ADMIN:
            await self.users.set_tier(user_key, "admin")
        return await self.sessions.issue(user_key, scope, ttl)

    async def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.base + path, headers=headers, **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.read()

    async def enqueue(self, user: str, operation: str = "grayscale", tier: str = "free") -> Job:
        platform, _, user_id = user.partition(":")
        job = Job(
            platform=Platform.TELEGRAM if platform == "tg" else Platform.VK,
            chat_id=int(user_id), user_id=user_id, operation=operation, photo_id="original-1",
            tier=tier, priority=self.settings.tiers[tier],
        )
        return (await self.queue.enqueue(job)).job

    async def run_one(self, *, fail: bool = False, result: bytes = TINY_JPEG) -> Job:
        """Lease the next job and complete it with a stored result (or fail it for good)."""
        (lease,) = await self.queue.lease("test-worker", 1)
        if fail:
            await self.queue.fail(lease, PermanentJobError("bad image"))
        else:
            meta = {"job_id": lease.job.job_id, "user_id": lease.job.user_id, "kind": "result"}
            file_id = await self.storage.put(result, "result.jpg", "image/jpeg", meta)
            await self.queue.complete(lease, result_ids=[file_id])
        job = await self.queue.get(lease.job.job_id)
        assert job is not None
        return job


@asynccontextmanager
async def web_stack(settings: Settings, tmp_path: Path, **deps: Any) -> AsyncIterator[Stack]:
    """The HTTP app as photobot.app builds it for a process without chat platforms, on the parts
    photobot's builders make; `deps` replace WebDeps fields, and `Stack.workers[0]` is what the
    worker probe answers."""
    workers = [True]

    async def workers_alive() -> bool:
        return workers[0]

    async with builders.stores(settings) as core:
        web_deps = replace(app_web.web_deps(core, Platforms(), workers_alive), **deps)
        runner = await serve(build_web_app(web_deps), "127.0.0.1", 0)
        http = aiohttp.ClientSession()
        try:
            local = cast(LocalStorage, core.storage.inner)
            yield Stack(settings, core.queue, core.sessions, core.users, local, core.metrics, http,
                        f"http://127.0.0.1:{bound_port(runner)}", workers)
        finally:
            await http.close()
            await runner.cleanup()
