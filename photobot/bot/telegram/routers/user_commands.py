"""Commands for everyone: /start, /help, /ops, /jobs, /status, /cancel, /tier, /token, /logout."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from photobot.bot.commands import Commands, Reply
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.users import UserRecord


async def send(adapter: TelegramAdapter, message: Message, reply: Reply) -> None:
    await adapter.send_text(message.chat.id, reply.text, reply_to=message.message_id, keyboard=reply.keyboard)


def build() -> Router:
    router = Router(name="user_commands")

    @router.message(CommandStart())
    async def on_start(message: Message, *, commands: Commands, adapter: TelegramAdapter, lang: str) -> None:
        await send(adapter, message, commands.start(lang))

    @router.message(Command("help"))
    async def on_help(
        message: Message, *, commands: Commands, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        await send(adapter, message, commands.help(user, lang))

    @router.message(Command("ops"))
    async def on_ops(message: Message, *, commands: Commands, adapter: TelegramAdapter, lang: str) -> None:
        await send(adapter, message, commands.ops(lang))

    @router.message(Command("jobs"))
    async def on_jobs(
        message: Message, *, commands: Commands, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        await send(adapter, message, await commands.jobs(user, lang))

    @router.message(Command("status"))
    async def on_status(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        await send(adapter, message, await commands.status(user, lang, command.args or ""))

    @router.message(Command("cancel"))
    async def on_cancel(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        await send(adapter, message, await commands.cancel(user, lang, command.args or ""))

    @router.message(Command("tier"))
    async def on_tier(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        await send(adapter, message, await commands.tier(user, lang, command.args or ""))

    @router.message(Command("token"))
    async def on_token(
        message: Message, *, commands: Commands, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        private = message.chat.type == ChatType.PRIVATE
        await send(adapter, message, await commands.token(user, lang, private=private))

    @router.message(Command("logout"))
    async def on_logout(
        message: Message, *, commands: Commands, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        await send(adapter, message, await commands.logout(user, lang))

    return router
