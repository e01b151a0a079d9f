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

import asyncio
from collections.abc import Callable, Hashable

import structlog
from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import Update
from pydantic import ValidationError

from photobot.backoff import Backoff, pause
from photobot.bot.commands import NAMES as COMMAND_NAMES
from photobot.bot.core.backlog import backlog_command_key
from photobot.bot.core.inbox import ChatLanes, UpdateInbox, load_kept
from photobot.bot.telegram.routers.errors import is_outage
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)


class InboxPoller:
    """`run()` until `stop()`: fetch, keep in the inbox, confirm, hand to the chat's lane.

    One chat's share of what is in hand is bounded (see ChatLanes): its backlog of texts, of each
    command and of presses on each button collapses to the latest one, and beyond `per_chat` updates
    in memory the rest of its updates are parked in the inbox, so a flooding chat never stops the
    reading of the others. Fetching pauses while `max_in_hand` updates are kept in memory, or
    `max_parked` are known in all (the flood then stays with Telegram, which keeps updates for a
    day), and resumes as they are done.
    """

    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        inbox: UpdateInbox,
        *,
        timeout: int = 25,
        limit: int = 100,
        concurrency: int = 64,
        max_in_hand: int = 2000,
        per_chat: int = 100,
        max_parked: int = 100_000,
        backlog: Callable[[Update], Hashable | None] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        grace_seconds: float = 10.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.inbox = inbox
        self.timeout = timeout
        self.limit = limit
        self.max_in_hand = max_in_hand
        self.max_parked = max_parked
        self.grace_seconds = grace_seconds
        self._backoff = Backoff(backoff_base, backoff_max)
        in_hand = metrics.updates_in_hand.labels("telegram").set if metrics is not None else None
        self.lanes: ChatLanes[Update] = ChatLanes(
            self._feed, is_outage, inbox, concurrency=concurrency, backoff=self._backoff, on_count=in_hand,
            backlog_key=backlog or backlog_key, per_chat=per_chat, load=self._load,
        )
        self._offset: int | None = None
        self._failures = 0
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task[list[Update]] | None = None

    @property
    def offset(self) -> int | None:
        return self._offset

    def stop(self) -> None:
        """Stop fetching, finish the updates in hand (the rest stays in the inbox), return from run()."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        log.info("polling started", allowed_updates=allowed)
        try:
            await self._resume()
            while not self._stopping.is_set():
                if self.lanes.in_memory >= self.max_in_hand or len(self.lanes) >= self.max_parked:
                    await self.lanes.wait_progress(1.0)
                    continue
                updates = await self._next_batch(allowed)
                if updates:
                    await self._take(updates)
        finally:
            await self.lanes.close(self.grace_seconds)
            await self._confirm()
            log.info("polling stopped", offset=self._offset)

    async def _resume(self) -> None:
        """Hand the updates a stopped or crashed process left in the inbox to their lanes first."""
        saved = await load_kept(self.inbox, self._stopping, is_outage, self._back_off)
        if saved is None:
            return
        updates = []
        for update_id, raw in saved.items():
            try:
                updates.append(self._load(raw))
            except ValidationError as error:
                # Kept by another version of photobot, say, in a shape this one cannot read.
                log.error(
                    "unreadable update dropped from the inbox", update_id=update_id, error=str(error)[:300]
                )
                await self.inbox.remove(update_id)
        for update in sorted(updates, key=lambda u: u.update_id):
            self.lanes.submit(str(update.update_id), _chat_of(update), update)
        if updates:
            log.info("resuming updates from the inbox", count=len(updates))

    async def _next_batch(self, allowed: list[str]) -> list[Update] | None:
        method = GetUpdates(
            offset=self._offset, timeout=self.timeout, limit=self.limit, allowed_updates=allowed
        )
        self._fetch = asyncio.ensure_future(self.bot(method, request_timeout=self.timeout + 15))
        try:
            updates = await self._fetch
        except asyncio.CancelledError:
            if self._stopping.is_set():
                return None
            raise
        except TelegramUnauthorizedError:
            raise
        except (TimeoutError, TelegramAPIError, OSError) as error:
            await self._back_off("getUpdates failed", error)
            return None
        finally:
            self._fetch = None
        return updates

    async def _take(self, updates: list[Update]) -> None:
        """Keep the new updates in the inbox, then confirm the batch and start them."""
        fresh = [u for u in sorted(updates, key=lambda u: u.update_id) if str(u.update_id) not in self.lanes]
        try:
            await self.inbox.add(
                {str(u.update_id): u.model_dump_json(by_alias=True, exclude_none=True) for u in fresh}
            )
        except Exception as error:
            if not is_outage(error):
                raise
            await self._back_off("updates not kept: Redis is unreachable; Telegram sends them again", error)
            return
        self._failures = 0
        self._offset = max(u.update_id for u in updates) + 1
        for update in fresh:
            self.lanes.submit(str(update.update_id), _chat_of(update), update)

    def _load(self, raw: str) -> Update:
        return Update.model_validate_json(raw, context={"bot": self.bot})

    async def _feed(self, update: Update) -> None:
        with structlog.contextvars.bound_contextvars(update_id=update.update_id):
            await self.dispatcher.feed_update(self.bot, update)

    async def _back_off(self, event: str, error: BaseException | None) -> None:
        self._failures += 1
        delay = self._backoff.delay(self._failures - 1)
        log.warning(event, error=repr(error) if error else None, retry_in=round(delay, 2))
        await pause(delay, self._stopping)

    async def _confirm(self) -> None:
        """Tell Telegram where we are, so the updates kept just before a stop do not come again."""
        if self._offset is None:
            return
        try:
            await self.bot(GetUpdates(offset=self._offset, timeout=0, limit=1), request_timeout=10)
        except Exception as error:
            log.warning("final confirm failed; kept updates may come again", error=repr(error))


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
