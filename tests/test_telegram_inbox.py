"""The Telegram poller and its inbox, with a real aiogram Bot polling the fake Bot API and a real
redis-server: an update is confirmed once it is in the inbox, a slow chat holds back nobody else,
a chat's updates stay in order through outages, and a stopped or crashed process's updates are
handled by the next one.

Bad input tried: a Redis that refuses the inbox write (nothing confirmed, the update comes again
and is handled once), a handler that fails with a bug (the update is dropped, not retried forever),
an update left in the inbox by a process that died, and kept updates that cannot be read (wrong
shape, not JSON): dropped with an error in the log, and polling goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message, Update
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from photobot.bot.core.inbox import UpdateInbox
from photobot.bot.telegram.polling import InboxPoller, backlog_key
from photobot.metrics import Metrics
from tests.fakes.telegram import FakeTelegram
from tests.waiting import eventually

INBOX_KEY = "{photobot}:tg:inbox:test"


@dataclass
class Recorder:
    """The handlers: record each text per chat; a chat in `gates` waits for its gate first."""

    handled: list[tuple[int, str]] = field(default_factory=list)
    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    outages: dict[str, int] = field(default_factory=dict)  # text → how many times it fails first
    started: list[str] = field(default_factory=list)

    def router(self) -> Router:
        router = Router()

        @router.message()
        async def record(message: Message) -> None:
            text = message.text or ""
            self.started.append(text)
            gate = self.gates.get(message.chat.id)
            if gate is not None:
                await gate.wait()
            if self.outages.get(text, 0) > 0:
                self.outages[text] -= 1
                raise RedisConnectionError("Redis went away")
            if text == "bug":
                raise ValueError("a handler bug")
            self.handled.append((message.chat.id, text))

        return router

    def texts(self, chat_id: int) -> list[str]:
        return [text for chat, text in self.handled if chat == chat_id]


class RefusingInbox(UpdateInbox):
    """The inbox whose first `refusals` writes fail as if Redis were down."""

    def __init__(self, redis: Redis, key: str, refusals: int) -> None:
        super().__init__(redis, key)
        self.refusals = refusals

    async def add(self, updates: Mapping[str, str]) -> None:
        if self.refusals > 0:
            self.refusals -= 1
            raise RedisConnectionError("Redis went away")
        await super().add(updates)


async def kept(redis: Redis) -> int:
    """How many updates the inbox holds."""
    return len(await UpdateInbox(redis, INBOX_KEY).load())


async def _kept_is(redis: Redis, count: int) -> bool:
    return await kept(redis) == count


async def _kept_at_least(redis: Redis, count: int) -> bool:
    return await kept(redis) >= count


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Polling:
    """One InboxPoller running in the test's loop. Its texts stand for any update (each one is
    handled, in order) unless `backlog` is given: tests of collapsing pass photobot's own."""

    def __init__(self, bot: Bot, recorder: Recorder, inbox: UpdateInbox, **options: Any) -> None:
        dispatcher = Dispatcher()
        dispatcher.include_router(recorder.router())
        options.setdefault("backlog", lambda _: None)
        self.poller = InboxPoller(
            bot, dispatcher, inbox, timeout=1, backoff_base=0.05, backoff_max=0.2, **options
        )
        self.task: asyncio.Task[None] | None = None

    def __enter__(self) -> InboxPoller:
        self.task = asyncio.ensure_future(self.poller.run())
        return self.poller

    def __exit__(self, *exc: object) -> None:
        self.poller.stop()

    async def stopped(self) -> None:
        self.poller.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def test_a_slow_chat_holds_back_nobody_else(async_tg: FakeTelegram, tg_bot: Bot, redis: Redis) -> None:
    recorder = Recorder(gates={1: asyncio.Event()})
    for index in range(150):  # more than getUpdates' window of 100
        async_tg.inject_text(1, f"slow {index}")
    async_tg.inject_text(2, "calm")
    metrics = Metrics()
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY), metrics=metrics)

    def in_hand() -> float | None:
        return metrics.registry.get_sample_value("photobot_updates_in_hand", {"platform": "telegram"})

    with polling:
        await eventually(lambda: recorder.texts(2) == ["calm"], 10)
        # All 151 are confirmed to Telegram and kept in the inbox; once "calm" is done and has left
        # the inbox and the in-hand count (just after its handler returns), the slow chat's 150 wait.
        await eventually(lambda: in_hand() == 150 and async_tg.pending_update_count == 0, 10, "calm to leave")
        await eventually(lambda: _kept_is(redis, 150), 10, "150 kept updates")
        assert sorted(recorder.started) == ["calm", "slow 0"]
        recorder.gates[1].set()
        await eventually(lambda: len(recorder.texts(1)) == 150, 20)
    await polling.stopped()
    assert recorder.texts(1) == [f"slow {i}" for i in range(150)]
    assert await kept(redis) == 0 and in_hand() == 0


async def test_an_outage_keeps_the_chat_in_order(async_tg: FakeTelegram, tg_bot: Bot, redis: Redis) -> None:
    recorder = Recorder(outages={"two": 3})
    for text in ("one", "two", "three"):
        async_tg.inject_text(5, text)
    async_tg.inject_text(6, "bug")
    async_tg.inject_text(6, "after the bug")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY))
    with polling:
        await eventually(lambda: len(recorder.texts(5)) == 3 and len(recorder.texts(6)) == 1, 20)
    await polling.stopped()
    assert recorder.texts(5) == ["one", "two", "three"]
    assert recorder.started.count("two") == 4  # three outages, then done
    assert recorder.texts(6) == ["after the bug"]  # the bug was dropped, not retried forever
    assert recorder.started.count("bug") == 1
    assert await kept(redis) == 0


async def test_refused_by_redis_nothing_is_confirmed(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    recorder = Recorder()
    first = async_tg.inject_text(7, "hello")
    inbox = RefusingInbox(redis, INBOX_KEY, refusals=3)
    polling = Polling(tg_bot, recorder, inbox)
    with polling:
        await eventually(lambda: recorder.texts(7) == ["hello"], 10)
        assert inbox.refusals == 0
    await polling.stopped()
    assert async_tg.confirmed_offset == first + 1
    assert recorder.texts(7) == ["hello"]


async def test_a_stop_leaves_the_unfinished_in_the_inbox_for_the_next_start(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    recorder = Recorder(gates={3: asyncio.Event()})
    async_tg.inject_text(3, "stuck")
    async_tg.inject_text(3, "behind it")
    last = async_tg.inject_text(4, "free")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY), grace_seconds=0.2)
    with polling:
        await eventually(lambda: recorder.texts(4) == ["free"] and "stuck" in recorder.started, 10)
    await polling.stopped()
    # Confirmed to Telegram, so only the inbox has them now.
    assert async_tg.confirmed_offset == last + 1 and async_tg.pending_update_count == 0
    assert await kept(redis) == 2
    # The next process handles them first, in order.
    successor = Recorder()
    polling = Polling(tg_bot, successor, UpdateInbox(redis, INBOX_KEY))
    with polling:
        await eventually(lambda: successor.texts(3) == ["stuck", "behind it"], 10)
    await polling.stopped()
    assert successor.texts(4) == []
    assert await kept(redis) == 0


async def test_an_unreadable_kept_update_is_dropped_not_fatal(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    await UpdateInbox(redis, INBOX_KEY).add({"5": '{"update_id": "five", "message": 1}', "6": "not json"})
    recorder = Recorder()
    async_tg.inject_text(9, "still served")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY))
    with polling:
        await eventually(lambda: recorder.texts(9) == ["still served"], 10)
    await polling.stopped()
    assert await kept(redis) == 0


async def test_a_flood_waits_at_telegram_beyond_the_in_hand_bound(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    recorder = Recorder(gates={8: asyncio.Event()})
    for index in range(30):
        async_tg.inject_text(8, f"flood {index}")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY), max_in_hand=10, limit=5)
    with polling:
        await eventually(lambda: _kept_at_least(redis, 10), 10, "10 kept updates")
        # The last batch kept is confirmed by the next getUpdates, which waits for room.
        await asyncio.sleep(0.5)  # time for the poller to take more, were it to: it must not
        assert await kept(redis) == 10 and async_tg.pending_update_count >= 20
        recorder.gates[8].set()
        await eventually(lambda: len(recorder.texts(8)) == 30, 20)
    await polling.stopped()
    assert recorder.texts(8) == [f"flood {i}" for i in range(30)]


async def test_a_chats_backlog_of_texts_and_commands_collapses_to_the_latest(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    """Flood tried: 300 texts, 50 /jobs (some as /jobs@bot with arguments) and a /help behind one
    answer that is held up. Each kind keeps only its latest waiting update; the superseded ones
    leave the inbox; another chat is served meanwhile."""
    recorder = Recorder(gates={11: asyncio.Event()})
    async_tg.inject_text(11, "first")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY), backlog=backlog_key)
    with polling as poller:
        await eventually(lambda: recorder.started == ["first"], 10)
        for index in range(300):
            async_tg.inject_text(11, f"text {index}")
        for index in range(50):
            async_tg.inject_text(11, f"/jobs@photobot {index}" if index % 2 else "/jobs")
        async_tg.inject_text(11, "/help")
        async_tg.inject_text(12, "calm")
        await eventually(lambda: recorder.texts(12) == ["calm"] and async_tg.pending_update_count == 0, 20)
        await eventually(lambda: poller.lanes.in_memory == 4, 10)  # first, a text, /jobs, /help
        recorder.gates[11].set()
        await eventually(lambda: len(recorder.texts(11)) == 4, 20)
        await eventually(lambda: len(poller.lanes) == 0, 10)
    await polling.stopped()
    assert recorder.texts(11) == ["first", "text 299", "/jobs@photobot 49", "/help"]
    assert await kept(redis) == 0


async def test_beyond_its_share_a_chats_updates_wait_in_the_inbox_not_in_memory(
    async_tg: FakeTelegram, tg_bot: Bot, redis: Redis
) -> None:
    """300 updates of one chat that are each handled (as photos are), behind a held-up first:
    10 are kept in memory, the rest parked in Redis and read back in order; the others are read."""
    recorder = Recorder(gates={13: asyncio.Event()})
    for index in range(300):
        async_tg.inject_text(13, f"photo {index}")
    async_tg.inject_text(14, "calm")
    polling = Polling(tg_bot, recorder, UpdateInbox(redis, INBOX_KEY), per_chat=10, max_in_hand=20)
    with polling as poller:
        await eventually(lambda: recorder.texts(14) == ["calm"] and async_tg.pending_update_count == 0, 20)
        assert poller.lanes.in_memory == 10 and len(poller.lanes) == 300
        assert await kept(redis) == 300
        recorder.gates[13].set()
        await eventually(lambda: len(recorder.texts(13)) == 300, 30)
    await polling.stopped()
    assert recorder.texts(13) == [f"photo {i}" for i in range(300)]
    assert await kept(redis) == 0 and poller.lanes.in_memory == 0


def test_grants_and_refunds_are_never_superseded() -> None:
    """Two refunds (or grants) waiting in a backlog are two different payments: each one runs."""
    chat = {"id": 1, "type": "private"}

    def update(text: str) -> Update:
        return Update.model_validate(
            {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "text": text}}
        )

    assert backlog_key(update("/refund a")) is None and backlog_key(update("/grant 5 3")) is None
    assert backlog_key(update("/jobs")) == ("command", "jobs")


def test_only_identical_commands_supersede_each_other() -> None:
    """A repeated /stats answers once, and so do /jobs pages; /ban 5 then /ban 6 are two acts, and
    both run. Tried: extra spaces, a newline before the argument, the bot's @name, an empty command."""
    chat = {"id": 1, "type": "private"}

    def key(text: str) -> object:
        return backlog_key(Update.model_validate(
            {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": chat, "text": text}}
        ))

    assert key("/stats") == key("/stats@photo_bot") == key("/STATS")
    assert key("/jobs 2") == key("/jobs 3")
    assert key("/ban 5") != key("/ban 6") and key("/tier 5 premium") != key("/tier 5 free")
    assert key("/ban  5") == key("/ban\n5") == key("/ban@photo_bot 5")
    assert key("/") == "text" and key("/frobnicate 1") == "text"
