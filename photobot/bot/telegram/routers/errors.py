"""Errors from handlers: a bad update is answered politely and confirmed; an outage is not handled
here, so the update stays unconfirmed and comes back after a backoff."""

from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from photobot.bot.adapter import RecipientUnavailable
from photobot.bot.core.outage import outage_rule
from photobot.bot.i18n import pick_language, t
from photobot.logs import get_logger

log = get_logger(__name__)

# The chat core's rule, with Telegram unreachable, failing on its side or asking to slow down.
is_outage = outage_rule(TelegramNetworkError, TelegramServerError, TelegramRetryAfter)


def build() -> Router:
    router = Router(name="errors")

    @router.errors(ExceptionTypeFilter(RecipientUnavailable, TelegramForbiddenError))
    async def on_blocked(event: ErrorEvent) -> bool:
        """The user blocked the bot (or left the chat): an ordinary event, and nothing to answer."""
        reason = str(event.exception)[:200]
        log.info("user cannot be answered", update_id=event.update.update_id, reason=reason)
        return True

    @router.errors(lambda event: not is_outage(event.exception))
    async def on_bad_update(event: ErrorEvent) -> bool:
        update = event.update
        log.error("update failed", update_id=update.update_id, exc_info=event.exception)
        message = update.message or (update.callback_query.message if update.callback_query else None)
        sender = (
            update.message.from_user
            if update.message
            else (update.callback_query.from_user if update.callback_query else None)
        )
        lang = pick_language(sender.language_code if sender else None)
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(t("update_failed", lang))
            elif message is not None and update.bot is not None:
                await update.bot.send_message(message.chat.id, t("update_failed", lang))
        except Exception as error:  # the update is confirmed even when the apology cannot be sent
            log.warning("apology not sent", error=repr(error))
        return True

    return router
