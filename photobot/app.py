"""The composition root: every part of photobot is built here from Settings, and only here.

`run(settings, mode)` builds the parts (`build`), serves the chat platforms, the workers, the
reaper and scheduler and the HTTP app as the mode asks, and on SIGTERM / SIGINT stops them in
order: polling stops taking updates, workers drain within SHUTDOWN_GRACE_SECONDS (unfinished leases
go back to the queue), then pools, clients and an embedded Redis are closed. No part reaches for a
global: each gets what it needs passed in. The HTTP app is wired from the parts in photobot.app_web.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisStorage
from aiohttp import web
from redis.asyncio import Redis

from photobot import heap
from photobot.app_web import create_web_app
from photobot.backoff import pause
from photobot.bot.adapter import ChatAdapter
from photobot.bot.commands import Commands
from photobot.bot.inbox import UpdateInbox
from photobot.bot.pipeline import JobPipeline
from photobot.bot.premium import Premium
from photobot.bot.service import BotService
from photobot.bot.state import AlbumChoices, AnsweredMessages, MessageLocks, PendingChoices
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.bot.telegram.polling import InboxPoller
from photobot.bot.telegram.setup import build_bot, build_dispatcher, set_commands, start_webhook
from photobot.bot.telegram.stars import TelegramStars
from photobot.config import Settings, SettingsError
from photobot.embedded_redis import EmbeddedRedis
from photobot.gdrive import Storage, build_storage
from photobot.gdrive.ledger import TrackedStorage
from photobot.jobs import Platform
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.payments import PremiumLedger
from photobot.processing import ImageProcessor
from photobot.queue import JobQueue, Maintenance, Worker
from photobot.redis_client import connect
from photobot.retention import Retention
from photobot.sessions import SessionStore
from photobot.startup import START_BACKOFF, TELEGRAM_START_PATIENCE, listen_error, telegram_unreachable
from photobot.users import UserStore
from photobot.web import serve
from photobot.web.deps import RouteHook

if TYPE_CHECKING:
    from photobot.bot.vk.api import PoliteAPI
    from photobot.bot.vk.polling import ConfirmingLongPoll

log = get_logger(__name__)

Mode = Literal["all", "bot", "worker"]


@dataclass
class Parts:
    """What the composition root built; the HTTP side and the runner read what they need."""

    settings: Settings
    mode: Mode
    metrics: Metrics
    redis: Redis
    queue: JobQueue
    storage: Storage
    users: UserStore
    sessions: SessionStore
    ledger: PremiumLedger
    retention: Retention
    processor: ImageProcessor | None = None
    adapters: dict[Platform, ChatAdapter] = field(default_factory=dict)
    bot: Bot | None = None
    dispatcher: Dispatcher | None = None
    service: BotService | None = None
    commands: Commands | None = None
    pipeline: JobPipeline | None = None
    vk_api: PoliteAPI | None = None
    vk_poll: ConfirmingLongPoll | None = None


def _vk_setup() -> ModuleType:
    """The VK side's builders, imported on first use: vkbottle takes seconds to import, and a
    Telegram-only deployment (or a test of one) should not wait for it at every start."""
    from photobot.bot.vk import setup

    return setup


def check_settings(settings: Settings, mode: Mode) -> None:
    """What this mode needs, checked before anything starts: one line per problem."""
    if mode in ("all", "bot") and not settings.vk_enabled:
        settings.require_bot_token()  # one chat platform at least: Telegram, VK or both
    if settings.vk_enabled:
        settings.require_vk_group_id()
    if settings.webhook_url and mode in ("all", "bot") and settings.telegram_enabled:
        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value().strip():
            raise SettingsError("WEBHOOK_SECRET: is required with WEBHOOK_URL (Telegram sends it back)")
        if not settings.http_enabled:
            raise SettingsError("HTTP_ENABLED: the webhook needs the HTTP server")


def _redis(settings: Settings) -> Redis:
    """One pool for the queue, the users, the FSM and the locks; a cluster client shares the API of
    a plain one for every command photobot sends (all keys live in one hash slot)."""
    return cast(Redis, connect(settings))


@asynccontextmanager
async def build(settings: Settings, mode: Mode) -> AsyncIterator[Parts]:
    """Build every part the mode needs; closes them all on exit, in reverse order."""
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        redis = _redis(settings)  # one pool for the queue, the users, the FSM and the locks
        stack.push_async_callback(redis.aclose)
        queue = JobQueue.from_settings(settings, redis=redis, metrics=metrics)
        storage = TrackedStorage.from_settings(build_storage(settings, metrics), redis, settings)
        stack.push_async_callback(_close, storage)
        sessions = SessionStore(redis, settings.key_prefix, settings.token_ttl_seconds)
        users = UserStore(redis, settings, sessions)
        parts = Parts(
            settings=settings,
            mode=mode,
            metrics=metrics,
            redis=redis,
            queue=queue,
            storage=storage,
            users=users,
            sessions=sessions,
            ledger=PremiumLedger(redis, settings),
            retention=Retention(storage, storage.ledger, queue, settings),
        )
        prefix = settings.key_prefix
        locks = MessageLocks(redis, prefix)
        if settings.telegram_enabled:
            parts.bot = build_bot(settings, metrics)
            stack.push_async_callback(parts.bot.session.close)
            parts.adapters[Platform.TELEGRAM] = TelegramAdapter(parts.bot)
        elif mode == "worker":
            log.warning("BOT_TOKEN is not set: this worker cannot deliver Telegram results")
        if settings.vk_enabled:
            parts.vk_api, parts.adapters[Platform.VK] = _vk_setup().build_client(settings, metrics)
            stack.push_async_callback(parts.vk_api.close)
        elif mode == "worker":
            log.warning("VK_TOKEN is not set: this worker cannot deliver VK results")
        if mode in ("all", "bot"):
            fsm = RedisStorage(
                redis,
                key_builder=DefaultKeyBuilder(prefix=f"{prefix}:fsm", with_bot_id=True, with_destiny=True),
                state_ttl=settings.state_ttl_seconds,
                data_ttl=settings.state_ttl_seconds,
            )
            bot_ids = {Platform.TELEGRAM: parts.bot.id} if parts.bot is not None else {}
            if settings.vk_group_id is not None:
                bot_ids[Platform.VK] = settings.vk_group_id
            choices = PendingChoices(fsm, bot_ids)
            parts.service = BotService(
                settings=settings,
                queue=queue,
                storage=storage,
                adapters=parts.adapters,
                choices=choices,
                answered=AnsweredMessages(redis, prefix, settings.dedup_ttl_seconds),
                albums=AlbumChoices(redis, prefix),
                locks=locks,
            )
            stars = TelegramStars(parts.bot) if parts.bot is not None else None
            premium = Premium(settings, parts.ledger, stars, metrics)
            parts.commands = Commands(parts.service, users, sessions, premium)
            adapter = parts.adapters.get(Platform.TELEGRAM)
            if isinstance(adapter, TelegramAdapter) and stars is not None:
                parts.dispatcher = build_dispatcher(
                    settings, parts.service, parts.commands, users, adapter, stars=stars
                )
            vk_adapter = parts.adapters.get(Platform.VK)
            if vk_adapter is not None and parts.vk_api is not None:
                parts.vk_poll = _vk_setup().build_long_poll(
                    settings,
                    api=parts.vk_api,
                    redis=redis,
                    service=parts.service,
                    commands=parts.commands,
                    users=users,
                    adapter=vk_adapter,
                )
        if mode in ("all", "worker"):
            parts.processor = ImageProcessor.from_settings(settings, metrics)
            stack.push_async_callback(_close, parts.processor)
            parts.pipeline = JobPipeline(queue, storage, parts.processor, parts.adapters, locks)
        yield parts


async def _close(part: object) -> None:
    """Close a part whichever way it closes (sync or async, close or aclose)."""
    for name in ("aclose", "close"):
        method: Callable[[], Any] | None = getattr(part, name, None)
        if method is not None:
            result = method()
            if inspect.isawaitable(result):
                await result
            return


class Runner:
    """Runs the built parts until a signal, then stops them in order."""

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
            self.worker = Worker(
                parts.queue,
                parts.pipeline,
                concurrency=settings.concurrent_jobs,
                grace_seconds=settings.shutdown_grace_seconds,
                metrics=parts.metrics,
            )
            self.maintenance = Maintenance(parts.queue)
            tasks["worker"] = asyncio.ensure_future(self.worker.run())
            tasks["maintenance"] = asyncio.ensure_future(self.maintenance.run())
            tasks["retention"] = asyncio.ensure_future(parts.retention.run())
        if parts.dispatcher is not None and parts.bot is not None:
            await self._start_telegram(parts.bot, parts.dispatcher)
            if not settings.webhook_url:
                inbox = UpdateInbox(parts.redis, f"{settings.key_prefix}:tg:inbox:{parts.bot.id}")
                self.poller = InboxPoller(
                    parts.bot,
                    parts.dispatcher,
                    inbox,
                    grace_seconds=settings.shutdown_grace_seconds,
                    metrics=parts.metrics,
                )
                tasks["polling"] = asyncio.ensure_future(self.poller.run())
        if parts.vk_poll is not None and parts.vk_api is not None:
            await _vk_setup().wait_until_ready(parts.vk_api, settings, self.stopping)
            tasks["vk_polling"] = asyncio.ensure_future(parts.vk_poll.run())

    async def workers_alive(self) -> bool:
        """/readyz's worker probe: this process's worker runs and takes work, and the queue counts a
        worker whose heartbeat arrived recently (so its Redis side works too)."""
        task = self.tasks.get("worker")
        if self.worker is None or self.worker.stopping or task is None or task.done():
            return False
        return (await self.parts.queue.stats()).workers_alive > 0

    async def _start_telegram(self, bot: Bot, dispatcher: Dispatcher) -> None:
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
        if self.parts.vk_poll is not None:
            self.parts.vk_poll.stop()
            await _settle(tasks.get("vk_polling"), grace)
        if self.worker is not None:
            self.worker.stop()
            await _settle(tasks.get("worker"), grace + 5)
        if self.maintenance is not None:
            self.maintenance.stop()
            await _settle(tasks.get("maintenance"), 5)
        self.parts.retention.stop()
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
