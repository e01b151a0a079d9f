"""Admin commands: /stats, /requeue, /ban, /unban, /job. Non-admins get a polite refusal (in Commands)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from photobot.bot.commands import Commands
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.bot.telegram.routers.user_commands import send
from photobot.users import UserRecord


def build() -> Router:
    router = Router(name="admin")

    @router.message(Command("stats"))
    async def on_stats(
        message: Message, *, commands: Commands, adapter: TelegramAdapter, user: UserRecord, lang: str
    ) -> None:
        await send(adapter, message, await commands.stats(user, lang))

    @router.message(Command("requeue"))
    async def on_requeue(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        await send(adapter, message, await commands.requeue(user, lang, command.args or ""))

    @router.message(Command("ban", "unban"))
    async def on_ban(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        reply = await commands.ban(user, lang, command.args or "", banned=command.command == "ban")
        await send(adapter, message, reply)

    @router.message(Command("job"))
    async def on_job(
        message: Message,
        *,
        command: CommandObject,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        await send(adapter, message, await commands.job(user, lang, command.args or ""))

    return router
