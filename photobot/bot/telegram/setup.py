"""Building the Telegram side from its parts: the Bot, the Dispatcher, the menu and the webhook.

Nothing here runs at import; the composition root (photobot.app) calls these with what it built.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand

from photobot.bot.commands import Commands
from photobot.bot.i18n import command_menu, languages
from photobot.bot.ratelimit import RateLimiter
from photobot.bot.service import BotService
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.bot.telegram.middlewares import FloodMiddleware, UserMiddleware
from photobot.bot.telegram.requests import PoliteRequests
from photobot.bot.telegram.routers import all_routers
from photobot.bot.telegram.stars import TelegramStars
from photobot.config import Settings
from photobot.logs import get_logger, register_secret
from photobot.metrics import Metrics
from photobot.users import UserStore

log = get_logger(__name__)


def build_bot(settings: Settings, metrics: Metrics | None = None) -> Bot:
    """An aiogram Bot whose every request goes through the rate limiter and retry handling."""
    token = settings.require_bot_token()
    register_secret(token)
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/")), proxy=settings.telegram_proxy
    )
    limiter = RateLimiter(
        global_rate=settings.tg_global_rate,
        chat_rate=settings.tg_chat_rate,
        chat_burst=settings.tg_chat_burst,
        group_per_minute=settings.tg_group_per_minute,
    )
    session.middleware(PoliteRequests(limiter, metrics))
    return Bot(token=token, session=session)


def build_dispatcher(
    settings: Settings,
    service: BotService,
    commands: Commands,
    users: UserStore,
    adapter: TelegramAdapter,
    *,
    stars: TelegramStars,
) -> Dispatcher:
    """The Dispatcher with photobot's routers, middlewares and dependencies (as workflow data)."""
    dispatcher = Dispatcher(
        service=service,
        commands=commands,
        users=users,
        adapter=adapter,
        premium=commands.premium,
        stars=stars,
    )
    dispatcher.update.outer_middleware(UserMiddleware(service.gate, adapter))
    routers = all_routers()
    for router in routers:
        if router.name == "photos":
            router.message.middleware(FloodMiddleware(service.gate, adapter))
    dispatcher.include_routers(*routers)
    return dispatcher


async def set_commands(bot: Bot) -> None:
    """The command menu, in English by default and in each other catalog's language for its speakers."""
    for language in languages():
        menu = [BotCommand(command=name, description=text) for name, text in command_menu(language)]
        await bot.set_my_commands(menu, language_code=None if language == "en" else language)


async def start_webhook(bot: Bot, settings: Settings, dispatcher: Dispatcher) -> None:
    assert settings.webhook_url is not None
    url = settings.webhook_url.rstrip("/")
    if not url.endswith(settings.webhook_path):
        url += settings.webhook_path
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    await bot.set_webhook(
        url,
        secret_token=secret,
        allowed_updates=dispatcher.resolve_used_update_types(),
        drop_pending_updates=False,
    )
    log.info("webhook set", url=url)
