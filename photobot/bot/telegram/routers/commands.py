"""Every chat command (/start, /help, /ops, /jobs, /status, /cancel, /tier, /token, /logout and the
admin ones), answered by the platform-neutral `Commands`; a non-admin gets a polite refusal there."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from photobot.bot.commands import NAMES, Commands
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.users import UserRecord


def build() -> Router:
    router = Router(name="commands")

    @router.message(Command(*NAMES))
    async def on_command(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        private = message.chat.type == ChatType.PRIVATE
        reply = await commands.run(command.command, command.args or "", user, lang, private=private)
        if reply is not None:
            await adapter.send_text(
                message.chat.id, reply.text, reply_to=message.message_id, keyboard=reply.keyboard
            )

    return router
