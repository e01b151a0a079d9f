"""Bots Long Poll through the inbox: an event is confirmed once it is in Redis, handled after.

With Bots Long Poll the client, not VK, keeps the position (ts): VK answers any ts still in its
history. Moving the ts only after every event of a batch was handled ties the next request to the
slowest chat: one chat that floods holds back the answers of all the others. So each batch is
written to the `UpdateInbox` and the new ts saved beside it, in one Redis transaction; then the
events go to their chat's lane (`ChatLanes`, as for Telegram), and the long poll asks for the next
batch at once. A lane handles its chat's events in order; lanes run concurrently, so a chat with a
backlog of hundreds delays no other chat. The inbox, not VK, is what a restarted process resumes
from (its events are handled before the new ones); an event leaves it when its handler finished.
An event whose handler failed on an outage (Redis, storage, VK unreachable) is tried again in its
lane after a backoff; a bad event that got its answer is done. The ts lives in Redis, so a
replacement process resumes where the last one stopped.

One chat's share of what is in hand is bounded (see ChatLanes): its waiting texts in a private
chat, each command of one sender and the presses on one photo's buttons collapse to the latest one,
and beyond `per_chat` events in memory the rest of its events are parked in the inbox and read back
in turn. Fetching pauses while `max_in_hand` events are kept in memory, or `max_parked` are known in
all (VK keeps its history for a while), and resumes as they are done.

VK's long-poll failures are handled as VK documents them
(https://dev.vk.com/ru/api/bots-long-poll/getting-started, through vkbottle's
`handle_failed_event`): failed=1 the history is outdated, go on from the ts given; failed=2 the key
expired, get a new key and keep the ts; failed=3 the information was lost, get a new key and ts. No
poll error ends the loop: network errors and refusals back off and try again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Unpack

import structlog
from redis.asyncio import Redis
from vkbottle import BotPolling
from vkbottle.exception_factory import VKAPIError

from photobot.bot.commands import NAMES as COMMAND_NAMES
from photobot.bot.core.backlog import backlog_command_key
from photobot.bot.core.inbox import UpdateInbox
from photobot.bot.core.polling import InboxPolling, Limits
from photobot.bot.vk.adapter import is_group_chat
from photobot.bot.vk.api import PoliteAPI, error_code
from photobot.bot.vk.errors import is_outage
from photobot.bot.vk.messages import parse_command, parse_payload
from photobot.logs import get_logger
from photobot.metrics import Metrics

log = get_logger(__name__)

Event = dict[str, Any]
Handler = Callable[[Event], Awaitable[None]]


class FatalPollError(Exception):
    """The community token or id is wrong: polling cannot go on until the settings change."""


class ConfirmingLongPoll(InboxPolling[Event]):
    """`run()` until `stop()`: fetch, keep in the inbox with the new ts, hand to the chat's lane."""

    platform = "vk"
    started = "vk long poll started"

    def __init__(
        self,
        api: PoliteAPI,
        group_id: int,
        handle: Handler,
        redis: Redis,
        key_prefix: str,
        *,
        wait: int = 25,
        metrics: Metrics | None = None,
        **limits: Unpack[Limits],
    ) -> None:
        super().__init__(
            UpdateInbox(redis, f"{key_prefix}:vk:inbox:{group_id}"), self._feed, is_outage,
            load=_load, chat_of=_chat_of, order=_order, backlog_key=backlog_key, metrics=metrics,
            limits=limits,
        )
        self.api = api
        self.group_id = group_id
        self.handle = handle
        self.redis = redis
        self.ts_key = f"{key_prefix}:vk:ts:{group_id}"
        self.polling = BotPolling(api=api, group_id=group_id, wait=wait)
        self._server: dict[str, Any] | None = None
        self._ts: str | None = None

    @property
    def ts(self) -> str | None:
        return self._ts

    def _described(self) -> dict[str, object]:
        return {"group_id": self.group_id}

    async def _stopped(self) -> None:
        log.info("vk long poll stopped", ts=self._ts)

    async def _poll(self) -> None:
        answer = await self._next()
        if answer is None:
            return
        if "failed" in answer:
            await self._recover(answer)
            return
        updates = answer.get("updates") or []
        if "ts" in answer and (updates or str(answer["ts"]) != self._ts):
            await self._take(updates, str(answer["ts"]))

    async def _next(self) -> Event | None:
        """One long-poll answer, or None after a failure that was backed off (or a stop)."""
        try:
            if self._server is None:
                await self._connect()
            assert self._server is not None
            self._server["ts"] = self._ts
            answer: Event | None = await self._fetching(self.polling.get_event(self._server))
            return answer
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

    async def _recover(self, answer: Event) -> None:
        code = answer.get("failed")
        log.warning("vk long poll failure", failed=code)
        assert self._server is not None
        try:
            server = await self.polling.handle_failed_event(dict(self._server, ts=self._ts), answer)
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
            await self._take([], str(server["ts"]))

    async def _take(self, updates: Sequence[Event], next_ts: str) -> None:
        """Keep the batch in the inbox and the new ts beside it, in one transaction; then start it.

        An event's inbox id is "<ts of its batch>:<place in it>": the same batch asked again from
        the same ts (a crash before the transaction) gets the same ids, and the ids sort in VK's
        order for a resume."""
        base = self._ts or "0"
        kept = {f"{base}:{index}": json.dumps(event) for index, event in enumerate(updates)}
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if kept:
                    pipe.hset(self.inbox.key, mapping=kept)
                pipe.set(self.ts_key, next_ts)
                await pipe.execute()
        except Exception as error:
            if not is_outage(error):
                raise
            await self._back_off("vk events not kept: Redis is unreachable; VK sends them again", error)
            return
        self._ts = next_ts
        self._start(dict(zip(kept, updates, strict=True)))

    async def _feed(self, event: Event) -> None:
        with structlog.contextvars.bound_contextvars(event_id=event.get("event_id")):
            await self.handle(event)

def _load(raw: str) -> Event:
    event = json.loads(raw)
    if not isinstance(event, dict):
        raise ValueError("a kept VK event is not an object")
    return event


def backlog_key(event: Event) -> Hashable | None:
    """What a waiting event may be superseded by: a private text by the chat's next text, a
    command by the same sender's next identical use of it (`backlog_command_key`), a button press
    by the sender's next press for the same photo. Photos, files, and anything else are each
    handled (their own limits apply)."""
    obj = event.get("object")
    message = obj.get("message") if isinstance(obj, dict) else None
    if event.get("type") != "message_new" or not isinstance(message, dict) or message.get("attachments"):
        return None
    sender = message.get("from_id")
    payload = message.get("payload")
    if isinstance(payload, str) and payload:
        parsed = parse_payload(payload)
        return ("button", sender, parsed.get("m") if parsed is not None else None)
    command = parse_command(str(message.get("text") or ""))
    if command is not None and command.name in COMMAND_NAMES:
        key = backlog_command_key(command.name, command.args)
        return None if key is None else (sender, *key)
    peer = message.get("peer_id")
    return "text" if isinstance(peer, int) and not is_group_chat(peer) else None


def _order(event_id: str) -> tuple[int, int]:
    ts, _, index = event_id.partition(":")
    return int(ts), int(index)


def _chat_of(event: Event) -> Hashable:
    obj = event.get("object")
    message = obj.get("message") if isinstance(obj, dict) else None
    peer = message.get("peer_id") if isinstance(message, dict) else None
    if isinstance(peer, int):
        return peer
    return ("event", str(event.get("event_id")))
