"""One builder per part of photobot, each from Settings and the parts it needs.

photobot.app composes them for a process (`build`); the tests build their parts with the same
builders, so a test's wiring cannot drift from the app's. A builder that opens something (a Redis
pool, an HTTP session, processes) is an async context manager that closes it on exit; the others
are plain functions. Nothing is built at import, and each platform's side is imported only when its
token is set: aiogram and vkbottle each take seconds to import, which a process of the other
platform (or a worker without it) should not wait for at every start.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import Redis

from photobot.bot.adapter import ChatAdapter
from photobot.bot.commands import Commands
from photobot.bot.core.inbox import UpdateInbox
from photobot.bot.pipeline import JobPipeline
from photobot.bot.premium import Premium
from photobot.bot.service import BotService
from photobot.bot.state import AlbumChoices, AnsweredMessages, MessageLocks, PendingChoices
from photobot.config import Settings
from photobot.gdrive import build_storage
from photobot.gdrive.ledger import TrackedStorage
from photobot.jobs import Platform
from photobot.logs import get_logger
from photobot.metrics import Metrics
from photobot.payments import PremiumLedger
from photobot.processing import ImageProcessor
from photobot.queue import JobQueue, Worker
from photobot.redis_client import connect
from photobot.retention import Retention
from photobot.sessions import SessionStore
from photobot.startup import Mode
from photobot.users import UserStore

if TYPE_CHECKING:
    from aiogram import Bot, Dispatcher

    from photobot.bot.telegram.polling import InboxPoller
    from photobot.bot.vk.api import PoliteAPI
    from photobot.bot.vk.polling import ConfirmingLongPoll

log = get_logger(__name__)


@dataclass
class Stores:
    """What every mode has: one Redis pool (the queue, the users, the waiting photos and the locks
    share it; a cluster client has the same API for every command photobot sends) and the file
    storage."""

    settings: Settings
    metrics: Metrics
    redis: Redis
    queue: JobQueue
    storage: TrackedStorage
    users: UserStore
    sessions: SessionStore
    ledger: PremiumLedger
    retention: Retention
    locks: MessageLocks


@asynccontextmanager
async def stores(settings: Settings, metrics: Metrics | None = None) -> AsyncIterator[Stores]:
    """The Redis pool and everything kept in it, and the storage (local or Drive) with its ledger."""
    metrics = metrics or Metrics()
    async with AsyncExitStack() as stack:
        redis = cast(Redis, connect(settings))
        stack.push_async_callback(redis.aclose)
        queue = JobQueue.from_settings(settings, redis=redis, metrics=metrics)
        storage = TrackedStorage.from_settings(build_storage(settings, metrics), redis, settings)
        stack.push_async_callback(close, storage)
        sessions = SessionStore(redis, settings.key_prefix, settings.token_ttl_seconds)
        yield Stores(
            settings=settings,
            metrics=metrics,
            redis=redis,
            queue=queue,
            storage=storage,
            users=UserStore(redis, settings, sessions),
            sessions=sessions,
            ledger=PremiumLedger(redis, settings),
            retention=Retention(storage, storage.ledger, queue, settings),
            locks=MessageLocks(redis, settings.key_prefix),
        )


@dataclass
class Platforms:
    """The chat platforms this process talks to: their clients and one adapter each."""

    adapters: dict[Platform, ChatAdapter] = field(default_factory=dict)
    bot_ids: dict[Platform, int] = field(default_factory=dict)
    bot: Bot | None = None
    vk_api: PoliteAPI | None = None


def vk_setup() -> ModuleType:
    """The VK side's builders, imported on first use: vkbottle takes seconds to import, and a
    Telegram-only deployment (or a test of one) should not wait for it at every start."""
    from photobot.bot.vk import setup

    return setup


@asynccontextmanager
async def platforms(settings: Settings, metrics: Metrics, mode: Mode) -> AsyncIterator[Platforms]:
    """A Telegram client when BOT_TOKEN is set, a VK one when VK_TOKEN is; closed on exit."""
    built = Platforms()
    async with AsyncExitStack() as stack:
        if settings.telegram_enabled:
            from photobot.bot.telegram.adapter import TelegramAdapter
            from photobot.bot.telegram.setup import build_bot

            built.bot = build_bot(settings, metrics)
            stack.push_async_callback(built.bot.session.close)
            built.adapters[Platform.TELEGRAM] = TelegramAdapter(built.bot)
            built.bot_ids[Platform.TELEGRAM] = built.bot.id
        elif mode == "worker":
            log.warning("BOT_TOKEN is not set: this worker cannot deliver Telegram results")
        if settings.vk_enabled:
            built.vk_api, built.adapters[Platform.VK] = vk_setup().build_client(settings, metrics)
            stack.push_async_callback(built.vk_api.close)
        elif mode == "worker":
            log.warning("VK_TOKEN is not set: this worker cannot deliver VK results")
        if settings.vk_group_id is not None:
            built.bot_ids[Platform.VK] = settings.vk_group_id
        yield built


@dataclass
class ChatSide:
    """The bot: the service every platform's updates go to, the commands, and each platform's
    update source (a Dispatcher for Telegram, a long poll for VK) where that platform is set up."""

    service: BotService
    commands: Commands
    dispatcher: Dispatcher | None = None
    vk_poll: ConfirmingLongPoll | None = None


def chat_side(core: Stores, chats: Platforms) -> ChatSide:
    settings, redis = core.settings, core.redis
    service = BotService(
        settings=settings,
        queue=core.queue,
        storage=core.storage,
        adapters=chats.adapters,
        choices=PendingChoices(redis, settings.key_prefix, settings.state_ttl_seconds, chats.bot_ids),
        answered=AnsweredMessages(redis, settings.key_prefix, settings.dedup_ttl_seconds),
        albums=AlbumChoices(redis, settings.key_prefix),
        locks=core.locks,
        users=core.users,
        retention=core.retention,
    )
    stars = None
    if chats.bot is not None:
        from photobot.bot.telegram.stars import TelegramStars

        stars = TelegramStars(chats.bot)
    premium = Premium(settings, core.ledger, stars, core.metrics)
    side = ChatSide(service, Commands(service, core.users, core.sessions, premium))
    if stars is not None:
        from photobot.bot.telegram.adapter import TelegramAdapter
        from photobot.bot.telegram.setup import build_dispatcher

        adapter = chats.adapters.get(Platform.TELEGRAM)
        if isinstance(adapter, TelegramAdapter):
            side.dispatcher = build_dispatcher(
                settings, service, side.commands, core.users, adapter, stars=stars
            )
    vk_adapter = chats.adapters.get(Platform.VK)
    if vk_adapter is not None and chats.vk_api is not None:
        side.vk_poll = vk_setup().build_long_poll(
            settings, api=chats.vk_api, redis=redis, service=service, commands=side.commands,
            adapter=vk_adapter,
        )
    return side


@asynccontextmanager
async def image_processor(
    settings: Settings, metrics: Metrics | None = None
) -> AsyncIterator[ImageProcessor]:
    """The process pool that runs the image operations; its processes end on exit."""
    processor = ImageProcessor.from_settings(settings, metrics)
    try:
        yield processor
    finally:
        await close(processor)


def job_pipeline(
    core: Stores, processor: ImageProcessor, adapters: Mapping[Platform, ChatAdapter], **options: Any
) -> JobPipeline:
    """The workers' job handler; options are JobPipeline's timings."""
    return JobPipeline(core.queue, core.storage, processor, adapters, core.locks, **options)


def job_worker(core: Stores, pipeline: JobPipeline) -> Worker:
    """The workers that lease jobs and run them through the pipeline, CONCURRENT_JOBS at once."""
    settings = core.settings
    return Worker(
        core.queue,
        pipeline,
        concurrency=settings.concurrent_jobs,
        grace_seconds=settings.shutdown_grace_seconds,
        metrics=core.metrics,
    )


def telegram_poller(core: Stores, bot: Bot, dispatcher: Dispatcher) -> InboxPoller:
    """Long polling for Telegram's updates, kept in Redis (the inbox) until handled."""
    from photobot.bot.telegram.polling import InboxPoller

    settings = core.settings
    inbox = UpdateInbox(core.redis, f"{settings.key_prefix}:tg:inbox:{bot.id}")
    return InboxPoller(
        bot, dispatcher, inbox, grace_seconds=settings.shutdown_grace_seconds, metrics=core.metrics
    )


@dataclass
class Parts:
    """What the composition root built for one process; the HTTP app and the supervisor read it."""

    mode: Mode
    core: Stores
    chats: Platforms
    chat: ChatSide | None = None  # in the modes that run the bot
    pipeline: JobPipeline | None = None  # in the modes that run workers

    @property
    def settings(self) -> Settings:
        return self.core.settings


async def close(part: object) -> None:
    """Close a part whichever way it closes (sync or async, close or aclose)."""
    for name in ("aclose", "close"):
        method: Callable[[], Any] | None = getattr(part, name, None)
        if method is not None:
            result = method()
            if inspect.isawaitable(result):
                await result
            return
