"""The composition root: every part of photobot is built here from Settings, and only here.

`run(settings, mode)` checks what the mode needs (photobot.startup), starts an embedded Redis when
REDIS_URL is unset, builds the parts the mode asks for with photobot.builders (`build`), and hands
them to the supervisor (photobot.supervisor), which serves the chat platforms, the workers, the
sweeps and the HTTP app (photobot.app_web) until SIGTERM or SIGINT. On exit the parts are closed in
reverse order: pools, clients, then the embedded Redis. No part reaches for a global: each gets
what it needs passed in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from photobot import builders, heap
from photobot.builders import Parts
from photobot.config import Settings
from photobot.embedded_redis import EmbeddedRedis
from photobot.logs import get_logger
from photobot.startup import Mode, check_settings
from photobot.supervisor import Runner
from photobot.web.deps import RouteHook

log = get_logger(__name__)

__all__ = ["Mode", "Parts", "build", "check_settings", "run"]


@asynccontextmanager
async def build(settings: Settings, mode: Mode) -> AsyncIterator[Parts]:
    """Build every part the mode needs; closes them all on exit, in reverse order."""
    async with AsyncExitStack() as stack:
        core = await stack.enter_async_context(builders.stores(settings))
        chats = await stack.enter_async_context(builders.platforms(settings, core.metrics, mode))
        parts = Parts(mode, core, chats)
        if mode in ("all", "bot"):
            parts.chat = builders.chat_side(core, chats)
        if mode in ("all", "worker"):
            processor = await stack.enter_async_context(builders.image_processor(settings, core.metrics))
            parts.pipeline = builders.job_pipeline(core, processor, chats.adapters)
        yield parts


async def run(settings: Settings, mode: Mode = "all", add_routes: RouteHook | None = None) -> None:
    """Run photobot in one of its modes until SIGTERM or SIGINT; add_routes adds routes to its HTTP
    app (the sandbox's chat page)."""
    check_settings(settings, mode)
    heap.return_large_buffers()  # downloads and results are given back once sent
    async with AsyncExitStack() as stack:
        if settings.redis_url is None:
            embedded = EmbeddedRedis(settings.data_dir / "redis")
            url = await embedded.start()
            stack.push_async_callback(embedded.stop)
            settings = settings.model_copy(update={"redis_url": url})
        parts = await stack.enter_async_context(build(settings, mode))
        log.info("photobot starting", mode=mode, workers=settings.concurrent_jobs)
        await Runner(parts, add_routes).run()
        log.info("photobot stopped")
