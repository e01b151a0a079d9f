"""Cross-cutting concerns of every update, as aiogram middlewares.

- `UserMiddleware` (outer, on updates): loads the sender's record once per update, picks the
  language from language_code, binds user_id to the update's log lines, and stops a banned user's
  update (telling them once per window).
- `FloodMiddleware` (inner, on the photo router): over the per-user photo limit, one polite message
  per window and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import Chat, Message, TelegramObject, Update, User

from photobot.bot.adapter import ChatAdapter
from photobot.bot.i18n import pick_language, t
from photobot.config import Settings
from photobot.jobs import Platform, user_key
from photobot.logs import get_logger
from photobot.users import FloodVerdict, UserRecord, UserStore

log = get_logger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserMiddleware(BaseMiddleware):
    """Puts `user: UserRecord` and `lang: str` into the handler data; banned users go no further."""

    def __init__(self, users: UserStore, adapter: ChatAdapter, settings: Settings) -> None:
        self.users = users
        self.adapter = adapter
        self.settings = settings

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: User | None = data.get("event_from_user")
        data["lang"] = pick_language(sender.language_code if sender else None, self.settings.default_language)
        if sender is None or sender.is_bot:
            return None  # channel posts and service updates: nothing for photobot to do
        lang = data["lang"]
        key = user_key(Platform.TELEGRAM, sender.id)
        with structlog.contextvars.bound_contextvars(user_id=key):
            record = await self.users.get(key)
            if record.language != lang:
                await self.users.touch(key, lang)
            data["user"] = record
            if record.banned and not _about_money(event):
                await self._refuse_banned(event, data, record, lang)
                return None
            return await handler(event, data)

    async def _refuse_banned(
        self, event: TelegramObject, data: dict[str, Any], record: UserRecord, lang: str
    ) -> None:
        log.info("update from a banned user ignored", user_id=record.key)
        if not await self.users.warn_once(record.key, "banned", self.settings.flood_window_seconds):
            return
        if isinstance(event, Update) and event.callback_query is not None:
            await event.callback_query.answer(t("banned", lang))
            return
        chat: Chat | None = data.get("event_chat")
        if chat is not None:
            await self.adapter.send_text(chat.id, t("banned", lang))


def _about_money(event: TelegramObject) -> bool:
    """A payment, a refund or a checkout reaches its handler even from a banned user: Stars already
    taken must be recorded (and refundable), and a checkout must get an answer, a refusal."""
    if not isinstance(event, Update):
        return False
    message = event.message
    paid = message is not None and (message.successful_payment or message.refunded_payment) is not None
    return paid or event.pre_checkout_query is not None


class FloodMiddleware(BaseMiddleware):
    """At most FLOOD_LIMIT photos per FLOOD_WINDOW_SECONDS per user; one warning per window."""

    def __init__(self, users: UserStore, adapter: ChatAdapter, settings: Settings) -> None:
        self.users = users
        self.adapter = adapter
        self.settings = settings

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        record: UserRecord | None = data.get("user")
        if record is None or not isinstance(event, Message):
            return await handler(event, data)
        verdict = await self.users.check_flood(
            record.key, f"{event.chat.id}:{event.message_id}", sent_at=event.date.timestamp()
        )
        if verdict is FloodVerdict.ALLOWED:
            return await handler(event, data)
        log.info("flood limit reached", user_id=record.key, verdict=verdict.value)
        if verdict is FloodVerdict.WARN:
            text = t(
                "flood",
                data["lang"],
                limit=self.settings.flood_limit,
                window=int(self.settings.flood_window_seconds),
            )
            await self.adapter.send_text(event.chat.id, text, reply_to=event.message_id)
        return None
