"""Supervision: runs the parts photobot.app built until SIGTERM or SIGINT, then stops them in order.

Start-up waits for the chat platforms (a rejected token ends the run with one line; an unreachable
Telegram is retried for TELEGRAM_START_PATIENCE), the HTTP server listens first so /healthz answers
while the rest starts, and a part that stops unexpectedly stops the whole process, which reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from photobot.app_web import create_web_app
from photobot.backoff import pause
from photobot.builders import Parts, job_worker, telegram_poller, vk_setup
from photobot.config import SettingsError
from photobot.logs import get_logger
from photobot.queue import Maintenance, Worker
from photobot.startup import START_BACKOFF, TELEGRAM_START_PATIENCE, listen_error, telegram_unreachable
from photobot.web import serve
from photobot.web.deps import RouteHook

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from photobot.bot.telegram.polling import InboxPoller

log = get_logger(__name__)


class Runner:
    """Runs the built parts until a signal, then stops them in order.

    Polling stops taking updates first, then the workers drain within SHUTDOWN_GRACE_SECONDS
    (unfinished leases go back to the queue), then the sweeps and the HTTP server stop; a part that
    overstays its share of the grace is cancelled.
    """

    def __init__(self, parts: Parts, add_routes: RouteHook | None = None) -> None:
        self.parts = parts
        self.add_routes = add_routes
        self.stopping = asyncio.Event()
        self.poller: InboxPoller | None = None
        self.worker: Worker | None = None
        self.maintenance: Maintenance | None = None
        self.web_runner: web.AppRunner | None = None
        self.tasks: dict[str, asyncio.Task[Any]] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        tasks = self.tasks
        try:
            stop_task = asyncio.ensure_future(self.stopping.wait())
            starting = asyncio.ensure_future(self._start(tasks))
            await asyncio.wait([stop_task, starting], return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # a signal during start-up (Telegram unreachable, say)
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            if not starting.cancelled():
                starting.result()  # a start-up error (a rejected token) ends the run here
            done, _ = await asyncio.wait([stop_task, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
            stop_task.cancel()
            crashed = [task for task in done if task is not stop_task]
            for task in crashed:
                name = next(key for key, value in tasks.items() if value is task)
                error = task.exception() if not task.cancelled() else None
                log.error("part stopped unexpectedly", part=name, exc_info=error)
        finally:
            log.info("stopping")
            await self._stop(tasks)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        for task in tasks.values():
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _start(self, tasks: dict[str, asyncio.Task[Any]]) -> None:
        parts, settings = self.parts, self.parts.settings
        if settings.http_enabled:
            alive = self.workers_alive if parts.pipeline is not None else None
            app = create_web_app(parts, alive, self.add_routes)
            try:
                self.web_runner = await serve(app, settings.http_host, settings.http_port)
            except OSError as error:
                raise listen_error(settings.http_host, settings.http_port, error) from None
            log.info("http server listening", host=settings.http_host, port=settings.http_port)
        if parts.pipeline is not None:
            self.worker = job_worker(parts.core, parts.pipeline)
            self.maintenance = Maintenance(parts.core.queue)
            tasks["worker"] = asyncio.ensure_future(self.worker.run())
            tasks["maintenance"] = asyncio.ensure_future(self.maintenance.run())
            tasks["retention"] = asyncio.ensure_future(parts.core.retention.run())
        chat, bot, vk_api = parts.chat, parts.chats.bot, parts.chats.vk_api
        if chat is not None and chat.dispatcher is not None and bot is not None:
            await self._start_telegram(bot, chat.dispatcher)
            if not settings.webhook_url:
                self.poller = telegram_poller(parts.core, bot, chat.dispatcher)
                tasks["polling"] = asyncio.ensure_future(self.poller.run())
        if chat is not None and chat.vk_poll is not None and vk_api is not None:
            await vk_setup().wait_until_ready(vk_api, settings, self.stopping)
            tasks["vk_polling"] = asyncio.ensure_future(chat.vk_poll.run())

    async def workers_alive(self) -> bool:
        """/readyz's worker probe: this process's worker runs and takes work, and the queue counts a
        worker whose heartbeat arrived recently (so its Redis side works too)."""
        task = self.tasks.get("worker")
        if self.worker is None or self.worker.stopping or task is None or task.done():
            return False
        return (await self.parts.core.queue.stats()).workers_alive > 0

    async def _start_telegram(self, bot: Bot, dispatcher: Dispatcher) -> None:
        from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

        from photobot.bot.telegram.setup import set_commands, start_webhook

        settings = self.parts.settings
        loop = asyncio.get_running_loop()
        unreachable_since: float | None = None
        attempt = 0
        while not self.stopping.is_set():
            delay = START_BACKOFF.delay(attempt)
            try:
                me = await bot.get_me()
                if settings.webhook_url:
                    await start_webhook(bot, settings, dispatcher)
                else:
                    await bot.delete_webhook(drop_pending_updates=False)
                await set_commands(bot)
                log.info(
                    "telegram bot ready",
                    username=me.username,
                    mode="webhook" if settings.webhook_url else "polling",
                )
                return
            except TelegramUnauthorizedError:
                raise SettingsError("BOT_TOKEN: Telegram rejected it (Unauthorized)") from None
            except TelegramNetworkError as error:
                unreachable_since = unreachable_since or loop.time()
                if (waited := loop.time() - unreachable_since) >= TELEGRAM_START_PATIENCE:
                    raise telegram_unreachable(settings, error, waited) from None
                log.warning("telegram not reachable at start; retrying", error=repr(error), retry_in=delay)
            except Exception as error:
                log.warning("telegram refused at start; retrying", error=repr(error), retry_in=delay)
            await pause(delay, self.stopping)
            attempt += 1

    async def _stop(self, tasks: dict[str, asyncio.Task[Any]]) -> None:
        grace = self.parts.settings.shutdown_grace_seconds
        if self.poller is not None:
            self.poller.stop()
            await _settle(tasks.get("polling"), grace + 5)
        vk_poll = self.parts.chat.vk_poll if self.parts.chat is not None else None
        if vk_poll is not None:
            vk_poll.stop()
            await _settle(tasks.get("vk_polling"), grace)
        if self.worker is not None:
            self.worker.stop()
            await _settle(tasks.get("worker"), grace + 5)
        if self.maintenance is not None:
            self.maintenance.stop()
            await _settle(tasks.get("maintenance"), 5)
        self.parts.core.retention.stop()
        await _settle(tasks.get("retention"), 5)
        if self.web_runner is not None:
            await self.web_runner.cleanup()


async def _settle(task: asyncio.Task[Any] | None, seconds: float) -> None:
    """Wait for a part to finish on its own; cancel it when it overstays."""
    if task is None or task.done():
        return
    try:
        await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    except Exception:  # noqa: S110 - reported by Runner.run from the task itself
        pass
