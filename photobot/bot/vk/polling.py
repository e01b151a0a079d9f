"""Bots Long Poll that moves past an event only after its handler finished.

With Bots Long Poll the client, not VK, keeps the position (ts): VK answers any ts still in its
history. So the ts here moves past a batch only when every event of it was handled (its job, or
its pending choice, is in Redis), and it is kept in Redis, not in a local file, so a restarted or a
replacement process resumes where the last one stopped and answers the photos sent meanwhile. An
event whose handler failed on an outage (Redis, storage, VK unreachable) holds the ts back: after a
backoff the same events come again; those already handled are skipped by their event_id, and the
idempotent handlers make any other repeat harmless. A bad event that got its answer is confirmed.

VK's long-poll failures are handled as VK documents them (vkbottle's `handle_failed_event`):
failed=1 the history is outdated, go on from the ts given; failed=2 the key expired, get a new key
and keep the ts; failed=3 the information was lost, get a new key and ts. No poll error ends the
loop: network errors and refusals back off and try again.

Events of one batch are handled concurrently across conversations and in order within one.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from vkbottle import BotPolling
from vkbottle.exception_factory import VKAPIError

from photobot.bot.vk.api import PoliteAPI, error_code
from photobot.bot.vk.errors import is_outage
from photobot.logs import get_logger

log = get_logger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


class FatalPollError(Exception):
    """The community token or id is wrong: polling cannot go on until the settings change."""


class ConfirmingLongPoll:
    """`run()` until `stop()`; the saved ts only ever covers events that are done."""

    def __init__(
        self,
        api: PoliteAPI,
        group_id: int,
        handle: Handler,
        redis: Redis,
        key_prefix: str,
        *,
        wait: int = 25,
        concurrency: int = 64,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.api = api
        self.group_id = group_id
        self.handle = handle
        self.redis = redis
        self.ts_key = f"{key_prefix}:vk:ts:{group_id}"
        self.polling = BotPolling(api=api, group_id=group_id, wait=wait)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._semaphore = asyncio.Semaphore(concurrency)
        self._server: dict[str, Any] | None = None
        self._ts: str | None = None
        self._done: set[str] = set()  # event_ids handled at the current ts (a failure held it back)
        self._failures = 0
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Task[Any] | None = None

    @property
    def ts(self) -> str | None:
        return self._ts

    def stop(self) -> None:
        """Finish the batch in hand, save its ts, and return from run()."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        log.info("vk long poll started", group_id=self.group_id)
        while not self._stopping.is_set():
            event = await self._next()
            if event is None:
                continue
            if "failed" in event:
                await self._recover(event)
                continue
            updates = event.get("updates") or []
            if updates:
                await self._handle_batch(updates, str(event["ts"]))
            elif "ts" in event:
                await self._advance(str(event["ts"]))
        log.info("vk long poll stopped", ts=self._ts)

    async def _next(self) -> Event | None:
        """One long-poll answer, or None after a failure that was backed off."""
        try:
            if self._server is None:
                await self._connect()
            assert self._server is not None
            self._server["ts"] = self._ts
            self._fetch = asyncio.ensure_future(self.polling.get_event(self._server))
            try:
                answer: Event = await self._fetch
            finally:
                self._fetch = None
            return answer
        except asyncio.CancelledError:
            if self._stopping.is_set():
                return None
            raise
        except FatalPollError:
            raise
        except Exception as error:
            if isinstance(error, VKAPIError) and error_code(error) in (5, 15, 27):
                raise FatalPollError(f"VK refused the long poll: {error}") from error
            await self._back_off("long poll failed", error)
            return None

    async def _connect(self) -> None:
        server = await self.polling.get_server()
        if self._ts is None:
            saved = await self.redis.get(self.ts_key)
            self._ts = str(saved) if saved is not None else str(server["ts"])
            log.info("vk long poll position", ts=self._ts, resumed=saved is not None)
        self._server = server

    async def _recover(self, event: Event) -> None:
        code = event.get("failed")
        log.warning("vk long poll failure", failed=code)
        assert self._server is not None
        try:
            server = await self.polling.handle_failed_event(dict(self._server, ts=self._ts), event)
        except Exception as error:
            self._server = None  # a new key next time; the ts stays
            await self._back_off("long poll server not renewed", error)
            return
        if not server:
            self._server = None
            await self._back_off("unknown long poll failure", None, failed=code)
            return
        if code == 3:
            log.warning("vk lost long poll events; going on from its new ts", ts=server.get("ts"))
        self._server = server
        if str(server.get("ts")) != self._ts:
            await self._advance(str(server["ts"]))

    async def _handle_batch(self, updates: Sequence[Event], next_ts: str) -> None:
        by_peer: dict[object, list[Event]] = defaultdict(list)
        for update in updates:
            if str(update.get("event_id")) not in self._done:
                by_peer[_peer_of(update)].append(update)
        held = await asyncio.gather(*(self._handle_chain(chain) for chain in by_peer.values()))
        if any(held):
            await self._back_off("vk events held back for a retry", None, count=sum(held))
            return
        await self._advance(next_ts)

    async def _handle_chain(self, chain: list[Event]) -> int:
        """Handle one conversation's events in order; returns how many must come again."""
        for index, update in enumerate(chain):
            async with self._semaphore:
                try:
                    await self.handle(update)
                except Exception as error:
                    if is_outage(error):
                        log.warning("vk event held back", event_id=update.get("event_id"), error=repr(error))
                        return len(chain) - index
                    log.error(
                        "vk event dropped after an error", event_id=update.get("event_id"), exc_info=error
                    )
            self._done.add(str(update.get("event_id")))
        return 0

    async def _advance(self, ts: str) -> None:
        """Save the new position in Redis first; only then forget what was handled before it."""
        try:
            await self.redis.set(self.ts_key, ts)
        except Exception as error:
            await self._back_off("vk long poll position not saved", error)
            return
        self._ts = ts
        self._done.clear()
        self._failures = 0

    async def _back_off(self, event: str, error: BaseException | None, **fields: object) -> None:
        self._failures += 1
        delay = min(self.backoff_max, self.backoff_base * 2 ** min(self._failures - 1, 10))
        delay *= 0.5 + random.random() / 2
        log.warning(event, error=repr(error) if error else None, retry_in=round(delay, 2), **fields)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)


def _peer_of(update: Event) -> object:
    obj = update.get("object")
    message = obj.get("message") if isinstance(obj, dict) else None
    if isinstance(message, dict) and "peer_id" in message:
        return message["peer_id"]
    return ("event", update.get("event_id"))
