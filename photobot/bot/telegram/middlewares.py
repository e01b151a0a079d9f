"""The gate (photobot.bot.core.gate) on Telegram's updates, as aiogram middlewares.

- `UserMiddleware` (outer, on updates): names the sender to the gate, puts `user` and `lang` into
  the handler data and binds user_id to the update's log lines; a banned user's update goes no
  further (a payment's excepted).
- `FloodMiddleware` (inner, on the photo router): a photo over the per-user limit goes no further.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import Chat, Message, TelegramObject, Update, User

from photobot.bot.adapter import ChatAdapter
from photobot.bot.core.gate import Gate, Sender
from photobot.jobs import Platform
from photobot.users import UserRecord

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UserMiddleware(BaseMiddleware):
    """Puts `user: UserRecord` and `lang: str` into the handler data; banned users go no further."""

    def __init__(self, gate: Gate, adapter: ChatAdapter) -> None:
        self.gate, self.adapter = gate, adapter

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        sender: User | None = data.get("event_from_user")
        lang = data["lang"] = self.gate.language(sender.language_code if sender else None)
        if sender is None or sender.is_bot:
            return None  # channel posts and service updates: nothing for photobot to do

        async def refuse(text: str) -> None:
            if isinstance(event, Update) and event.callback_query is not None:
                await event.callback_query.answer(text)
                return
            chat: Chat | None = data.get("event_chat")
            if chat is not None:
                await self.adapter.send_text(chat.id, text)

        who = Sender(Platform.TELEGRAM, sender.id, sender.language_code)
        with structlog.contextvars.bound_contextvars(user_id=who.key):
            record = await self.gate.admit(who, lang, refuse, exempt=_about_money(event))
            if record is None:
                return None
            data["user"] = record
            return await handler(event, data)


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

    def __init__(self, gate: Gate, adapter: ChatAdapter) -> None:
        self.gate, self.adapter = gate, adapter

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        record: UserRecord | None = data.get("user")
        if record is None or not isinstance(event, Message):
            return await handler(event, data)
        chat_id, message_id = event.chat.id, event.message_id

        async def warn(text: str) -> None:
            await self.adapter.send_text(chat_id, text, reply_to=message_id)

        event_id = f"{chat_id}:{message_id}"
        if await self.gate.photo_allowed(record, event_id, event.date.timestamp(), data["lang"], warn):
            return await handler(event, data)
        return None
