"""Long polling that confirms an update only after its handler finished.

aiogram's own polling moves getUpdates' offset past an update as soon as it is read; a photo whose
process died before its job reached Redis would then be lost. Here the offset moves past an update
only when its handler returned (its job, or its pending choice, is in Redis) or it was a bad update
that got its answer. A handler that failed on an outage (Redis down, storage down, the network)
leaves its update, and every later one of the same chat, unconfirmed: they come back from Telegram
after a backoff, and the idempotent handlers make the repeat harmless. Pending updates are never
dropped at start: the first getUpdates has no offset.

Updates are handled concurrently across chats and in order within a chat, and a slow chat does not
hold back the next getUpdates.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Sequence

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import Update

from photobot.bot.telegram.routers.errors import is_outage
from photobot.logs import get_logger

log = get_logger(__name__)


class ConfirmingPoller:
    """`run()` until `stop()`; the offset only ever covers updates that are done.

    Fetching does not wait for slow chats: while one chat's updates wait for its send budget
    (Telegram allows about one message a second per chat), the next getUpdates already brings the
    other chats' updates. The offset is a watermark, the lowest update that is not done yet;
    Telegram sends the unconfirmed ones above it again with each batch, and those already in hand or
    done are skipped.
    """

    def __init__(
        self,
        bot: Bot,
        dispatcher: Dispatcher,
        *,
        timeout: int = 25,
        limit: int = 100,
        concurrency: int = 64,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        busy_poll_seconds: float = 0.25,
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.limit = limit
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.busy_poll_seconds = busy_poll_seconds
        self._semaphore = asyncio.Semaphore(concurrency)
        self._offset: int | None = None
        self._seen_max: int | None = None
        self._pending: set[int] = set()  # seen, not done: in hand, waiting, or held back
        self._in_hand: set[int] = set()
        self._held: set[int] = set()  # failed on an outage: retried after a backoff
        self._retry_at = 0.0
        self._done: set[int] = set()  # done, above the offset
        self._chains: dict[object, asyncio.Task[bool]] = {}
        self._tasks: set[asyncio.Task[bool]] = set()
        self._progress = asyncio.Event()
        self._failures = 0
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task[list[Update]] | None = None

    @property
    def offset(self) -> int | None:
        return self._offset

    def stop(self) -> None:
        """Finish the updates in hand, confirm them, and return from run()."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        log.info("polling started", allowed_updates=allowed)
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            if self._held and not self._in_hand:
                # Only held-back updates are left: wait out their backoff first.
                await self._sleep(self._retry_at - loop.time())
                if self._stopping.is_set():
                    break
            updates = await self._next_batch(allowed, busy=bool(self._pending))
            if updates is None:
                continue
            started = self._dispatch(updates)
            if not started and self._in_hand:
                # Telegram only sent back what is in hand: wait for progress, not a busy loop.
                self._progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), self.busy_poll_seconds)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._advance()
        await self._confirm()
        log.info("polling stopped", offset=self._offset)

    async def _next_batch(self, allowed: list[str], *, busy: bool) -> list[Update] | None:
        method = GetUpdates(
            offset=self._offset,
            timeout=0 if busy else self.timeout,
            limit=self.limit,
            allowed_updates=allowed,
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

    def _dispatch(self, updates: Sequence[Update]) -> int:
        """Start the updates not in hand nor done, chained per chat; returns how many started."""
        started = 0
        waiting = asyncio.get_running_loop().time() < self._retry_at
        blocked: set[object] = set()  # chats whose earlier update waits for its retry
        for update in sorted(updates, key=lambda u: u.update_id):
            update_id = update.update_id
            self._seen_max = update_id if self._seen_max is None else max(self._seen_max, update_id)
            if update_id in self._done or update_id in self._in_hand:
                continue
            chat = _chat_of(update)
            if chat in blocked or (update_id in self._held and waiting):
                blocked.add(chat)
                self._pending.add(update_id)
                continue
            self._held.discard(update_id)
            previous = self._chains.get(chat)
            self._pending.add(update_id)
            self._in_hand.add(update_id)
            task = asyncio.ensure_future(self._handle_after(previous, update))
            self._chains[chat] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._finished, chat))
            started += 1
        self._advance()
        return started

    def _finished(self, chat: object, task: asyncio.Task[bool]) -> None:
        self._tasks.discard(task)
        if self._chains.get(chat) is task:
            del self._chains[chat]
        self._advance()
        self._progress.set()

    async def _handle_after(self, previous: asyncio.Task[bool] | None, update: Update) -> bool:
        """Handle `update` after the chat's previous update; True when it is done.

        When an earlier update of the chat was held back, this one is held back too, so a chat's
        updates are never handled out of order.
        """
        update_id = update.update_id
        try:
            if previous is not None and not await asyncio.shield(previous):
                return False
            async with self._semaphore:
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                except Exception as error:
                    if is_outage(error):
                        self._hold(update_id, error)
                        return False
                    # A bad update the error router could not answer: confirmed, never retried forever.
                    log.error("update dropped after an error", update_id=update_id, exc_info=error)
            self._pending.discard(update_id)
            self._done.add(update_id)
            self._failures = 0
            return True
        finally:
            self._in_hand.discard(update_id)

    def _hold(self, update_id: int, error: BaseException) -> None:
        """An outage: the update comes again from Telegram and is retried after a backoff."""
        self._held.add(update_id)
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 10))
        delay *= 0.5 + random.random() / 2
        self._retry_at = max(self._retry_at, asyncio.get_running_loop().time() + delay)
        log.warning("update held back", update_id=update_id, error=repr(error), retry_in=round(delay, 2))

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _advance(self) -> None:
        """Move the offset to the lowest update that is not done."""
        if self._seen_max is None:
            return
        offset = min(self._pending) if self._pending else self._seen_max + 1
        self._offset = offset
        self._done = {u for u in self._done if u >= offset}

    async def _back_off(self, event: str, error: BaseException | None, **fields: object) -> None:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 10))
        delay *= 0.5 + random.random() / 2
        log.warning(event, error=repr(error) if error else None, retry_in=round(delay, 2), **fields)
        await self._sleep(delay)

    async def _confirm(self) -> None:
        """Tell Telegram where we are, so updates handled just before a stop do not come again."""
        if self._offset is None:
            return
        try:
            await self.bot(GetUpdates(offset=self._offset, timeout=0, limit=1), request_timeout=10)
        except Exception as error:
            log.warning("final confirm failed; handled updates may come again", error=repr(error))


def _chat_of(update: Update) -> object:
    message = (
        update.message
        or update.edited_message
        or update.channel_post
        or (update.callback_query.message if update.callback_query else None)
    )
    if message is not None:
        return message.chat.id
    return ("update", update.update_id)
