"""Inline buttons: an operation picked for a waiting photo, another page of operations, and the
pages of /jobs."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, Message

from photobot.bot.adapter import MessageGone
from photobot.bot.commands import MAX_JOBS_OFFSET, Commands
from photobot.bot.i18n import t
from photobot.bot.service import BotService, KeyboardPress
from photobot.bot.telegram.adapter import TelegramAdapter
from photobot.bot.telegram.callbacks import JobsPage, OpChoice, OpsPage
from photobot.jobs import Platform
from photobot.users import UserRecord


async def answer(query: CallbackQuery, text: str | None = None) -> None:
    """Stop the button's spinner; a query too old to answer is no reason to fail the update."""
    with contextlib.suppress(TelegramBadRequest):
        await query.answer(text[:200] if text else None)


def build() -> Router:
    router = Router(name="choices")

    @router.callback_query(OpChoice.filter())
    @router.callback_query(OpsPage.filter())
    async def on_operations_keyboard(
        query: CallbackQuery,
        *,
        callback_data: OpChoice | OpsPage,
        service: BotService,
        user: UserRecord,
        lang: str,
    ) -> None:
        """An operation picked, or another page of them, for the photo the keyboard sits under."""
        message = query.message
        if not isinstance(message, Message):
            await answer(query, t("choice_expired", lang))
            return
        press = KeyboardPress(Platform.TELEGRAM, message.chat.id, message.message_id, user, lang)
        if isinstance(callback_data, OpChoice):
            notice: str | None = await service.choose_operation(press, callback_data.op)
        else:
            notice = await service.show_operations(press, callback_data.page)
        await answer(query, notice)

    # Any other offset, or a jobs button under a message that is not a /jobs list (crafted data:
    # a button's payload is whatever the client sends), falls through to on_stale_button.
    @router.callback_query(
        JobsPage.filter((F.offset >= 0) & (F.offset <= MAX_JOBS_OFFSET)), F.message.text.is_not(None)
    )
    async def on_jobs_page(
        query: CallbackQuery,
        *,
        callback_data: JobsPage,
        commands: Commands,
        adapter: TelegramAdapter,
        user: UserRecord,
        lang: str,
    ) -> None:
        message = query.message
        reply = await commands.jobs(user, lang, callback_data.offset)
        if isinstance(message, Message):
            try:
                await adapter.edit_text(
                    message.chat.id, message.message_id, reply.text, keyboard=reply.keyboard
                )
            except MessageGone:
                await adapter.send_text(message.chat.id, reply.text, keyboard=reply.keyboard)
        await answer(query)

    @router.callback_query()
    async def on_stale_button(query: CallbackQuery, *, lang: str) -> None:
        """An old button, or callback data no button of photobot's carries: a short answer only."""
        await answer(query, t("button_expired", lang))

    return router
