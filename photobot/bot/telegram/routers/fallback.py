"""Anything else in a private chat gets a short hint (a command the bot does not know: "unknown
command, see /help"); in groups the bot keeps quiet."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import Message

from photobot.bot.i18n import t
from photobot.bot.telegram.adapter import TelegramAdapter


def build() -> Router:
    router = Router(name="fallback")

    @router.message(F.chat.type == ChatType.PRIVATE, F.text.startswith("/"))
    async def on_unknown_command(message: Message, *, adapter: TelegramAdapter, lang: str) -> None:
        command = (message.text or "/").split(maxsplit=1)[0].split("@", 1)[0][:32]
        text = t("unknown_command", lang, command=command)
        await adapter.send_text(message.chat.id, text, reply_to=message.message_id)

    @router.message(F.chat.type == ChatType.PRIVATE)
    async def on_anything(message: Message, *, adapter: TelegramAdapter, lang: str) -> None:
        await adapter.send_text(message.chat.id, t("not_understood", lang), reply_to=message.message_id)

    return router
