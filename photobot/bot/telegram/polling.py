"""Long polling that confirms an update only after its handler finished.

aiogram's own polling moves getUpdates' offset past an update as soon as it is read; a photo whose
process died before its job reached Redis would then be lost. Here the offset moves past an update
only when its handler returned (its job, or its pending choice, is in Redis) or it was a bad update
that got its answer. A handler that failed on an outage (Redis down, storage down, the network)
leaves its update, and every later one of the same chat, unconfirmed: they come back from Telegram
after a backoff, and the idempotent handlers make the repeat harmless. Pending updates are never
dropped at start: the first getUpdates has no offset.

Updates of one batch are handled concurrently across chats and in order within a chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Sequence

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates
from aiogram.types import Update

from photobot.bot.telegram.routers.errors import is_outage
from photobot.logs import get_logger

log = get_logger(__name__)


class ConfirmingPoller:
    """`run()` until `stop()`; the offset only ever covers updates that are done."""

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
    ) -> None:
        self.bot = bot
        self.dispatcher = dispatcher
        self.timeout = timeout
        self.limit = limit
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._semaphore = asyncio.Semaphore(concurrency)
        self._offset: int | None = None
        self._done: set[int] = set()  # handled here, above the offset (a failure held it back)
        self._failures = 0
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task[list[Update]] | None = None

    @property
    def offset(self) -> int | None:
        return self._offset

    def stop(self) -> None:
        """Finish the batch in hand, confirm it, and return from run()."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        log.info("polling started", allowed_updates=allowed)
        while not self._stopping.is_set():
            updates = await self._next_batch(allowed)
            if updates is None:
                continue
            if updates:
                await self._handle_batch(updates)
        await self._confirm()
        log.info("polling stopped", offset=self._offset)

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

    async def _handle_batch(self, updates: Sequence[Update]) -> None:
        by_chat: dict[object, list[Update]] = defaultdict(list)
        for update in updates:
            if update.update_id not in self._done:
                by_chat[_chat_of(update)].append(update)
        held_back = await asyncio.gather(*(self._handle_chat(chain) for chain in by_chat.values()))
        failed = [update_id for update_id in held_back if update_id is not None]
        last = max(update.update_id for update in updates)
        if failed:
            first_failed = min(failed)
            self._offset = first_failed
            self._done = {u for u in self._done if u >= first_failed}
            await self._back_off("updates held back for a retry", None, count=len(failed))
        else:
            self._offset = last + 1
            self._done.clear()
            self._failures = 0

    async def _handle_chat(self, chain: list[Update]) -> int | None:
        """Handle one chat's updates in order; returns the id of the first that must come again."""
        for update in chain:
            async with self._semaphore:
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                except Exception as error:
                    if is_outage(error):
                        log.warning("update held back", update_id=update.update_id, error=repr(error))
                        return update.update_id
                    # A bad update the error router could not answer: confirmed, never retried forever.
                    log.error("update dropped after an error", update_id=update.update_id, exc_info=error)
            self._done.add(update.update_id)
        return None

    async def _back_off(self, event: str, error: BaseException | None, **fields: object) -> None:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 10))
        delay *= 0.5 + random.random() / 2
        log.warning(event, error=repr(error) if error else None, retry_in=round(delay, 2), **fields)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)

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
