"""What the Telegram and the VK poller share: the loop that fetches while there is room, the resume
from the inbox, the per-chat lanes, the backoff and the stop.

A platform's poller says how to fetch and keep one batch (`_poll`), how to read a kept update, which
chat an update belongs to, and in what order kept updates were fetched; the rest is here, so both
platforms keep updates the same way: an update is in the inbox (Redis) before the platform is told
it was received, it is handled in its chat's lane, and it leaves the inbox when it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypedDict, TypeVar

from photobot.backoff import Backoff, pause
from photobot.bot.core.inbox import ChatLanes, UpdateInbox, load_kept
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)

T = TypeVar("T")


class Limits(TypedDict, total=False):
    """How much a poller keeps in hand and how it waits (see InboxPolling and ChatLanes): handlers
    at once, updates in memory, per chat, known in all; the backoff's first and longest pause; how
    long a stop lets running handlers finish."""

    concurrency: int
    max_in_hand: int
    per_chat: int
    max_parked: int
    backoff_base: float
    backoff_max: float
    grace_seconds: float


DEFAULT_LIMITS = Limits(
    concurrency=64, max_in_hand=2000, per_chat=100, max_parked=100_000,
    backoff_base=0.5, backoff_max=30.0, grace_seconds=10.0,
)


class InboxPolling(Generic[T]):
    """`run()` until `stop()`. Fetching pauses while `max_in_hand` updates are kept in memory, or
    `max_parked` are known in all (the platform keeps the rest meanwhile), and resumes as they are
    done; `stop()` finishes the updates in hand within `grace_seconds` and leaves the rest in the
    inbox for the next start."""

    platform = "chat"
    started = "polling started"  # the log line a supervisor (and the chaos tests) wait for

    def __init__(
        self,
        inbox: UpdateInbox,
        handle: Callable[[T], Awaitable[None]],
        is_outage: Callable[[BaseException], bool],
        *,
        load: Callable[[str], T],
        chat_of: Callable[[T], Hashable],
        order: Callable[[str], Any],
        backlog_key: Callable[[T], Hashable | None],
        metrics: Metrics | None,
        limits: Limits,
    ) -> None:
        given: Limits = {**DEFAULT_LIMITS, **limits}
        self.inbox = inbox
        self.max_in_hand, self.max_parked = given["max_in_hand"], given["max_parked"]
        self.grace_seconds = given["grace_seconds"]
        self._is_outage, self._load, self._chat_of, self._order = is_outage, load, chat_of, order
        self._backoff = Backoff(given["backoff_base"], given["backoff_max"])
        in_hand = metrics.updates_in_hand.labels(self.platform).set if metrics is not None else None
        self.lanes: ChatLanes[T] = ChatLanes(
            handle, is_outage, inbox, concurrency=given["concurrency"], backoff=self._backoff,
            on_count=in_hand, backlog_key=backlog_key, per_chat=given["per_chat"], load=load,
        )
        self._failures = 0
        self._stopping = asyncio.Event()
        self._fetch: asyncio.Future[Any] | None = None

    def stop(self) -> None:
        """Stop fetching, finish the updates in hand (the rest stays in the inbox), return from run()."""
        self._stopping.set()
        if self._fetch is not None:
            self._fetch.cancel()

    async def run(self) -> None:
        log.info(self.started, **self._described())
        try:
            await self._resume()
            while not self._stopping.is_set():
                if self.lanes.in_memory >= self.max_in_hand or len(self.lanes) >= self.max_parked:
                    await self.lanes.wait_progress(1.0)
                    continue
                await self._poll()
        finally:
            await self.lanes.close(self.grace_seconds)
            await self._stopped()

    def _described(self) -> dict[str, object]:
        """What the start's log line says of the poller."""
        return {"platform": self.platform}

    async def _poll(self) -> None:
        """Fetch one batch, keep it in the inbox, tell the platform, `_start` it."""
        raise NotImplementedError

    async def _stopped(self) -> None:
        """After the lanes closed: whatever the platform needs to hear at a stop."""

    async def _fetching(self, call: Awaitable[Any]) -> Any:
        """The platform's answer to one fetch, which `stop()` cancels; None when stopped."""
        self._fetch = asyncio.ensure_future(call)
        try:
            return await self._fetch
        except asyncio.CancelledError:
            if self._stopping.is_set():
                return None
            raise
        finally:
            self._fetch = None

    def _start(self, kept: dict[str, T]) -> None:
        """Hand updates just kept in the inbox to their chats' lanes, in the order given."""
        self._failures = 0
        for update_id, update in kept.items():
            self.lanes.submit(update_id, self._chat_of(update), update)

    async def _resume(self) -> None:
        """Hand the updates a stopped or crashed process left in the inbox to their lanes first."""
        saved = await load_kept(self.inbox, self._stopping, self._is_outage, self._back_off)
        if saved is None:
            return
        readable: list[tuple[Any, str, T]] = []
        for update_id, raw in saved.items():
            try:
                readable.append((self._order(update_id), update_id, self._load(raw)))
            except ValueError as error:
                # Kept by another version of photobot, say, in a shape this one cannot read.
                log.error("unreadable update dropped from the inbox", platform=self.platform,
                          update_id=update_id, error=str(error)[:300])
                await self.inbox.remove(update_id)
        for _, update_id, update in sorted(readable, key=lambda item: item[0]):
            self.lanes.submit(update_id, self._chat_of(update), update)
        if readable:
            log.info("resuming updates from the inbox", platform=self.platform, count=len(readable))

    async def _back_off(self, event: str, error: BaseException | None, **fields: object) -> None:
        self._failures += 1
        delay = self._backoff.delay(self._failures - 1)
        log.warning(event, error=repr(error) if error else None, retry_in=round(delay, 2), **fields)
        await pause(delay, self._stopping)
