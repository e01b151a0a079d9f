"""Updates kept in Redis from the moment they are fetched until their handler finished.

A chat platform that delivers at least once (Telegram's getUpdates) forgets an update as soon as the
client confirms it. Confirming only after the handler finished ties the platform's window to the
slowest chat: Telegram returns at most 100 updates above the confirmed offset, so a flooding chat
whose photos wait for their send budget (one message a second) hides every other chat's updates.
Here the update is written to the inbox first and confirmed at once; the inbox, not the platform,
is what a restarted process resumes from. Redis answers a write only after it is in its append-only
file, so a confirmed update survives a crash of photobot and of Redis alike.

`ChatLanes` handles the inbox's updates concurrently across chats and in order within one chat. An
update whose handler failed on an outage (Redis down, storage down, the network) is tried again in
its lane after a backoff, so the chat's later updates wait behind it and are never handled out of
order; any other failure was answered by the error handlers and ends the update. An update leaves
the inbox only when it is done, so a crash at any point means it is handled again, which the
idempotent handlers make harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

from redis.asyncio import Redis

from photobot.backoff import Backoff, pause
from photobot.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")


class UpdateInbox:
    """One Redis hash: update id → the update as the platform sent it (JSON)."""

    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key

    async def add(self, updates: Mapping[str, str]) -> None:
        if updates:
            await self.redis.hset(self.key, mapping=dict(updates))  # type: ignore[misc]

    async def remove(self, *update_ids: str) -> None:
        if update_ids:
            await self.redis.hdel(self.key, *update_ids)  # type: ignore[misc]

    async def get(self, update_id: str) -> str | None:
        raw: str | bytes | None = await self.redis.hget(self.key, update_id)  # type: ignore[misc]
        return None if raw is None else _text(raw)

    async def load(self) -> dict[str, str]:
        raw: dict[str | bytes, str | bytes] = await self.redis.hgetall(self.key)  # type: ignore[misc]
        return {_text(key): _text(value) for key, value in raw.items()}


async def load_kept(
    inbox: UpdateInbox,
    stopping: asyncio.Event,
    is_outage: Callable[[BaseException], bool],
    back_off: Callable[[str, BaseException], Awaitable[None]],
) -> dict[str, str] | None:
    """What a stopped or crashed process left in the inbox, read again while Redis is out (each
    platform's poller knows its outages and paces its own retries); None when stopping first."""
    while not stopping.is_set():
        try:
            return await inbox.load()
        except Exception as error:
            if not is_outage(error):
                raise
            await back_off("inbox not readable at start", error)
    return None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Lane(Generic[T]):
    """One chat's updates in order. `held` has the updates kept in memory; an id in `order` whose
    value is None is parked (kept in the inbox only, read back when its turn comes); an id no
    longer in `held` was superseded and is skipped. `waiting` maps a backlog key to the one
    update of that kind that waits (not started)."""

    def __init__(self) -> None:
        self.order: deque[str] = deque()
        self.held: dict[str, T | None] = {}
        self.waiting: dict[Hashable, str] = {}
        self.in_memory = 0


class ChatLanes(Generic[T]):
    """One lane per chat: its updates in order, each done before the next starts.

    `submit` never waits; at most `concurrency` handlers run at once across all lanes.

    No chat can hold the others back or fill memory, whatever it sends:
    - `backlog_key(update)` names updates of which only the latest waiting one matters (a text, a
      given command, a press on a given button): a new one supersedes the waiting one of its kind,
      which is dropped from the lane and the inbox. A chat that sends 5,000 texts while its answer
      to the first is paced gets one more answer, not 5,000.
    - at most `per_chat` updates of one chat are kept in memory; the chat's further updates are
      parked in the inbox (Redis has them already) and read back with `load` when their turn comes.
    `in_memory` counts the updates kept in memory, which the poller bounds.

    `close()` lets the running handlers finish, starts nothing new, and leaves what was not done in
    the inbox.
    """

    def __init__(
        self,
        handle: Callable[[T], Awaitable[None]],
        is_outage: Callable[[BaseException], bool],
        inbox: UpdateInbox,
        *,
        concurrency: int = 64,
        backoff: Backoff | None = None,
        on_count: Callable[[int], None] | None = None,
        backlog_key: Callable[[T], Hashable | None] | None = None,
        per_chat: int | None = None,
        load: Callable[[str], T] | None = None,
    ) -> None:
        self._handle = handle
        self._on_count = on_count or (lambda _: None)
        self._is_outage = is_outage
        self._inbox = inbox
        self._semaphore = asyncio.Semaphore(concurrency)
        self._backoff = backoff or Backoff(0.5, 30.0)
        self._backlog_key = backlog_key or (lambda _: None)
        self._per_chat = per_chat if load is not None else None
        self._load = load
        self._lanes: dict[Hashable, _Lane[T]] = {}
        self._runners: dict[Hashable, asyncio.Task[None]] = {}
        self._known: set[str] = set()  # submitted and not done
        self._superseded: list[str] = []  # dropped from their lane, still in the inbox
        self._cleaner: asyncio.Task[None] | None = None
        self.in_memory = 0
        self.superseded_total = 0
        self._progress = asyncio.Event()
        self._closing = asyncio.Event()

    def __contains__(self, update_id: str) -> bool:
        return update_id in self._known

    def __len__(self) -> int:
        return len(self._known)

    def submit(self, update_id: str, chat: Hashable, update: T) -> bool:
        """Queue `update` in its chat's lane; False when it is already there (a repeat)."""
        if update_id in self._known or self._closing.is_set():
            return False
        lane = self._lanes.setdefault(chat, _Lane())
        key = self._backlog_key(update)
        if key is not None:
            older = lane.waiting.pop(key, None)
            if older is not None:
                self._supersede(lane, older)
            lane.waiting[key] = update_id
        self._known.add(update_id)
        lane.order.append(update_id)
        if self._per_chat is not None and lane.in_memory >= self._per_chat and key is None:
            lane.held[update_id] = None  # parked: the inbox has it
        else:
            lane.held[update_id] = update
            lane.in_memory += 1
            self.in_memory += 1
        self._on_count(len(self._known))
        if chat not in self._runners:
            self._runners[chat] = asyncio.ensure_future(self._run_lane(chat))
        return True

    def _supersede(self, lane: _Lane[T], update_id: str) -> None:
        if lane.held.pop(update_id, None) is not None:
            lane.in_memory -= 1
            self.in_memory -= 1
        self._known.discard(update_id)
        self._superseded.append(update_id)
        self.superseded_total += 1
        if self._cleaner is None or self._cleaner.done():
            self._cleaner = asyncio.ensure_future(self._remove_superseded())

    async def _remove_superseded(self) -> None:
        """Take superseded updates out of the inbox in batches (left there on close: handled again
        at the next start, which the handlers make harmless)."""
        failures = 0
        while self._superseded and not self._closing.is_set():
            batch, self._superseded = self._superseded[:500], self._superseded[500:]
            try:
                await self._inbox.remove(*batch)
                failures = 0
            except Exception as error:
                self._superseded[:0] = batch
                if not self._is_outage(error):
                    log.error("superseded updates not removed from the inbox", exc_info=error)
                    return
                failures += 1
                if not await pause(self._backoff.delay(failures - 1), self._closing):
                    return

    async def wait_progress(self, seconds: float) -> None:
        """Until an update is done, or `seconds` pass."""
        self._progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), seconds)

    async def close(self, grace: float) -> None:
        """Finish what runs within `grace` seconds; the rest stays in the inbox for the next start."""
        self._closing.set()
        runners = list(self._runners.values())
        if self._cleaner is not None:
            runners.append(self._cleaner)
        if not runners:
            return
        _, late = await asyncio.wait(runners, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        log.info("update lanes closed", left_in_inbox=len(self._known) + len(self._superseded))

    async def _run_lane(self, chat: Hashable) -> None:
        lane = self._lanes[chat]
        try:
            while lane.order and not self._closing.is_set():
                update_id = lane.order[0]
                if update_id not in lane.held:  # superseded while it waited
                    lane.order.popleft()
                    continue
                update = lane.held[update_id]
                for key, waiting_id in list(lane.waiting.items()):
                    if waiting_id == update_id:  # started: a newer one of its kind waits after it
                        del lane.waiting[key]
                if update is None:
                    update = await self._read_parked(update_id)
                    if update is None and self._closing.is_set():
                        return
                if update is not None and not await self._handle_until_done(update_id, update):
                    return
                lane.order.popleft()
                if lane.held.pop(update_id, None) is not None:
                    lane.in_memory -= 1
                    self.in_memory -= 1
                self._known.discard(update_id)
                self._on_count(len(self._known))
                self._progress.set()
        finally:
            if self._closing.is_set() or not lane.order:
                self._lanes.pop(chat, None)
                self._runners.pop(chat, None)

    async def _read_parked(self, update_id: str) -> T | None:
        """A parked update from the inbox; None when it is gone or unreadable (dropped) or closing."""
        assert self._load is not None
        failures = 0
        while not self._closing.is_set():
            try:
                raw = await self._inbox.get(update_id)
            except Exception as error:
                if not self._is_outage(error):
                    raise
                failures += 1
                if not await pause(self._backoff.delay(failures - 1), self._closing):
                    return None
                continue
            if raw is None:
                return None
            try:
                return self._load(raw)
            except Exception as error:
                log.error("unreadable parked update dropped", update_id=update_id, error=str(error)[:300])
                await self._inbox.remove(update_id)
                return None
        return None

    async def _handle_until_done(self, update_id: str, update: T) -> bool:
        """Handle, retrying outages; remove it from the inbox. False when closing stopped it."""
        failures = 0
        while True:
            async with self._semaphore:
                try:
                    await self._handle(update)
                    break
                except Exception as error:
                    if not self._is_outage(error):
                        # A bad update the error handlers could not answer: done, never retried forever.
                        log.error("update dropped after an error", update_id=update_id, exc_info=error)
                        break
                    failures += 1
                    delay = self._backoff.delay(failures - 1)
                    log.warning("update held back", update_id=update_id, error=repr(error),
                                retry_in=round(delay, 2))
            if not await pause(delay, self._closing):
                return False
        failures = 0
        while True:
            try:
                await self._inbox.remove(update_id)
                return True
            except Exception as error:
                if not self._is_outage(error):
                    log.error("done update not removed from the inbox", update_id=update_id, exc_info=error)
                    return True
                failures += 1
                # Done but still in the inbox: if photobot stops now, the update is handled once
                # more at the next start, harmlessly. Keep the lane's order until it is removed.
                delay = self._backoff.delay(failures - 1)
                log.warning("done update not removed from the inbox", update_id=update_id,
                            error=repr(error), retry_in=round(delay, 2))
                if not await pause(delay, self._closing):
                    return False

