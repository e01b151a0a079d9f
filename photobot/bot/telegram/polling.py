"""Long polling through the inbox: an update is confirmed once it is in Redis, handled after.

aiogram's own polling moves getUpdates' offset past an update as soon as it is read; a photo whose
process died before its job reached Redis would then be lost. Confirming only after the handler
finished keeps it, but ties Telegram's window (at most 100 updates above the offset) to the slowest
chat. So each batch is written to the `UpdateInbox` first, and only then does the offset move past
it: the inbox is what a restarted process resumes from (its updates are handled before the new
ones), and a slow or flooding chat holds back nobody's updates but its own. When Redis cannot take
the batch, nothing is confirmed and Telegram sends it again after a backoff.

Pending updates are never dropped at start: the first getUpdates has no offset.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Unpack

import structlog
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import Update

from photobot.bot.commands import NAMES as COMMAND_NAMES
from photobot.bot.core.backlog import backlog_command_key
from photobot.bot.core.inbox import UpdateInbox
from photobot.bot.core.polling import InboxPolling, Limits
from photobot.bot.telegram.routers.errors import is_outage
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)


class InboxPoller(InboxPolling[Update]):
    """`run()` until `stop()`: fetch, keep in the inbox, confirm, hand to the chat's lane.

    One chat's share of what is in hand is bounded (see ChatLanes): its backlog of texts, of each
    command and of presses on each button collapses to the latest one, and beyond `per_chat` updates
    in memory the rest of its updates are parked in the inbox, so a flooding chat never stops the
    reading of the others. Fetching pauses while `max_in_hand` updates are kept in memory, or
    `max_parked` are known in all (the flood then stays with Telegram, which keeps updates for a
    day), and resumes as they are done.
    """

    platform = "telegram"

    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        inbox: UpdateInbox,
        *,
        timeout: int = 25,
        limit: int = 100,
        backlog: Callable[[Update], Hashable | None] | None = None,
        metrics: Metrics | None = None,
        **limits: Unpack[Limits],
    ) -> None:
        super().__init__(
            inbox, self._feed, is_outage, load=self._read, chat_of=_chat_of, order=int,
            backlog_key=backlog or backlog_key, metrics=metrics, limits=limits,
        )
        self.bot = bot
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.limit = limit
        self._offset: int | None = None
        self._allowed: list[str] | None = None

    @property
    def offset(self) -> int | None:
        return self._offset

    def _described(self) -> dict[str, object]:
        return {"allowed_updates": self._allowed_updates()}

    def _allowed_updates(self) -> list[str]:
        if self._allowed is None:
            self._allowed = self.dispatcher.resolve_used_update_types()
        return self._allowed

    async def _poll(self) -> None:
        allowed = self._allowed_updates()
        method = GetUpdates(
            offset=self._offset, timeout=self.timeout, limit=self.limit, allowed_updates=allowed
        )
        try:
            updates = await self._fetching(self.bot(method, request_timeout=self.timeout + 15))
        except TelegramUnauthorizedError:
            raise
        except (TimeoutError, TelegramAPIError, OSError) as error:
            await self._back_off("getUpdates failed", error)
            return
        if updates:
            await self._take(updates)

    async def _take(self, updates: list[Update]) -> None:
        """Keep the new updates in the inbox, then confirm the batch and start them."""
        fresh = [u for u in sorted(updates, key=lambda u: u.update_id) if str(u.update_id) not in self.lanes]
        kept = {str(u.update_id): u for u in fresh}
        try:
            await self.inbox.add(
                {key: u.model_dump_json(by_alias=True, exclude_none=True) for key, u in kept.items()}
            )
        except Exception as error:
            if not is_outage(error):
                raise
            await self._back_off("updates not kept: Redis is unreachable; Telegram sends them again", error)
            return
        self._offset = max(u.update_id for u in updates) + 1
        self._start(kept)

    def _read(self, raw: str) -> Update:
        return Update.model_validate_json(raw, context={"bot": self.bot})

    async def _feed(self, update: Update) -> None:
        with structlog.contextvars.bound_contextvars(update_id=update.update_id):
            await self.dispatcher.feed_update(self.bot, update)

    async def _stopped(self) -> None:
        """Tell Telegram where we are, so the updates kept just before a stop do not come again."""
        if self._offset is not None:
            try:
                await self.bot(GetUpdates(offset=self._offset, timeout=0, limit=1), request_timeout=10)
            except Exception as error:
                log.warning("final confirm failed; kept updates may come again", error=repr(error))
        log.info("polling stopped", offset=self._offset)


def backlog_key(update: Update) -> Hashable | None:
    """What a waiting update may be superseded by: a private text by the chat's next text, a
    command by the next identical use of it (`backlog_command_key`), a button press by the next
    press under the same message. Photos, files, and anything else are each handled (their own
    limits apply)."""
    message = update.message
    if message is not None and message.text is not None and not message.media_group_id:
        text = message.text
        if text.startswith("/"):
            head, *rest = text[1:].split(maxsplit=1) or [""]
            name = head.partition("@")[0].lower()
            if name in COMMAND_NAMES:
                return backlog_command_key(name, rest[0] if rest else "")
        return "text"
    query = update.callback_query
    if query is not None and query.message is not None:
        return ("button", query.message.message_id)
    return None


def _chat_of(update: Update) -> Hashable:
    message = (
        update.message
        or update.edited_message
        or update.channel_post
        or (update.callback_query.message if update.callback_query else None)
    )
    if message is not None:
        return message.chat.id
    if update.callback_query is not None:
        return ("user", update.callback_query.from_user.id)
    return ("update", update.update_id)
