"""What the fake VK remembers: users, photos, messages with their edit history, the long-poll event
stream, every API call, and the switches that make it misbehave.

Everything here is touched only from the fake's event loop; `FakeVK` moves calls from other
threads onto that loop. `changed()` is called after every mutation so that waiters (async and
threaded) re-check their predicates.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .docs import StoredDoc
from .photos import StoredPhoto

API_VERSION = "5.199"
CHAT_PEER_BASE = 2_000_000_000  # a peer_id above it is a group chat (https://dev.vk.com/ru/reference/objects/message)


@dataclass(frozen=True)
class ApiCall:
    """One request the fake answered. `method` is an API method name, or "longpoll", "upload",
    "download" for the other endpoints; `at` is time.monotonic() (system-wide on Linux, so it
    compares across processes on one machine)."""

    method: str
    params: dict[str, str]
    peer_id: int | None
    at: float
    error_code: int | None = None


@dataclass(frozen=True)
class Revision:
    """The content of a bot message at one moment: as sent, then after each edit."""

    text: str
    attachments: tuple[str, ...]
    keyboard: dict[str, Any] | None
    at: float


@dataclass
class Message:
    """A message in a conversation: from a user (out=False) or from the community (out=True)."""

    id: int
    peer_id: int
    from_id: int
    conversation_message_id: int
    date: int
    out: bool
    text: str
    attachments: list[str] = field(default_factory=list)
    photos: list[StoredPhoto] = field(default_factory=list)
    docs: list[StoredDoc] = field(default_factory=list)
    keyboard: dict[str, Any] | None = None
    payload: str | None = None
    random_id: int = 0
    history: list[Revision] = field(default_factory=list)

    @property
    def edits(self) -> int:
        return len(self.history) - 1


@dataclass(frozen=True)
class VisibleMessage:
    """What the user sees of one bot message now: text, photos as bytes, documents as (title, bytes),
    keyboard."""

    id: int
    conversation_message_id: int
    text: str
    photos: tuple[bytes, ...]
    attachments: tuple[str, ...]
    keyboard: dict[str, Any] | None
    edits: int
    documents: tuple[tuple[str, bytes], ...] = ()


@dataclass
class User:
    id: int
    first_name: str = "Test"
    last_name: str = "User"
    lang_id: int = 0  # VK's client_info.lang_id: 0 Russian, 3 English
    allows_messages: bool = True


@dataclass
class Upload:
    data: bytes
    dims: tuple[int, int] | None


class State:
    """The fake's memory. Ids are global per community for messages, per peer for
    conversation_message_id, as in VK."""

    def __init__(self, base_url: str, token: str, group_id: int) -> None:
        self.base_url = base_url
        self.token = token
        self.group_id = group_id
        self.version = 0
        self.thread_condition = threading.Condition()
        self._async_changed: asyncio.Event | None = None
        self._event_seq = 1  # survives reset() so a running poller's ts stays meaningful
        self.reset()

    def reset(self) -> None:
        self.users: dict[int, User] = {}
        self.photos: dict[tuple[int, int], StoredPhoto] = {}
        self.docs: dict[tuple[int, int], StoredDoc] = {}
        self.doc_uploads: dict[str, tuple[str, bytes]] = {}
        self.chats: set[int] = set()  # group chats the community was added to
        self.messages: dict[int, Message] = {}
        self.cmids: dict[int, int] = {}
        self.random_ids: dict[tuple[int, int], tuple[int, float]] = {}
        self.calls: list[ApiCall] = []
        self.uploads: dict[str, Upload] = {}
        self.fail_next: dict[str, deque[int]] = {}
        self.longpoll_failures: deque[tuple[int, bool]] = deque()
        self.rate_limit: int | None = None
        self.random_id_window = 3600.0
        self.events: list[dict[str, Any]] = []
        self.first_event_seq = self._event_seq
        self.longpoll_key = secrets.token_hex(16)
        self._next_message_id = 1
        self._next_photo_id = 456239017
        self._next_doc_id = 667001
        self.changed()

    # --- notification -------------------------------------------------------------------------

    def changed(self) -> None:
        self.version += 1
        if self._async_changed is not None:
            self._async_changed.set()
            self._async_changed = None
        with self.thread_condition:
            self.thread_condition.notify_all()

    def change_event(self) -> asyncio.Event:
        """An event set at the next change; call on the fake's loop."""
        if self._async_changed is None:
            self._async_changed = asyncio.Event()
        return self._async_changed

    # --- ids and records ----------------------------------------------------------------------

    def new_message_id(self) -> int:
        self._next_message_id += 1
        return self._next_message_id - 1

    def new_photo_id(self) -> int:
        self._next_photo_id += 1
        return self._next_photo_id - 1

    def new_doc_id(self) -> int:
        self._next_doc_id += 1
        return self._next_doc_id - 1

    def new_cmid(self, peer_id: int) -> int:
        self.cmids[peer_id] = self.cmids.get(peer_id, 0) + 1
        return self.cmids[peer_id]

    def add_message(self, peer_id: int, from_id: int, text: str, **fields: Any) -> Message:
        """A new message in the conversation, kept: its id and conversation id the next ones, dated
        now, outgoing when the community (a negative from_id) wrote it."""
        message = Message(
            self.new_message_id(), peer_id, from_id, self.new_cmid(peer_id), int(time.time()),
            from_id < 0, text, **fields,
        )
        self.messages[message.id] = message
        return message

    def user(self, user_id: int) -> User:
        return self.users.setdefault(user_id, User(user_id))

    def log(self, method: str, params: dict[str, str], error_code: int | None = None) -> ApiCall:
        call = ApiCall(method, params, _peer_of(params), time.monotonic(), error_code)
        self.calls.append(call)
        self.changed()
        return call

    def recent_calls(self, window: float = 1.0) -> int:
        """API method calls (not long poll, uploads or downloads) in the last `window` seconds."""
        since = time.monotonic() - window
        count = 0
        for call in reversed(self.calls):
            if call.at < since:
                break
            if "." in call.method:
                count += 1
        return count

    # --- long poll ----------------------------------------------------------------------------

    @property
    def head_ts(self) -> int:
        """The ts a client should ask for next to get only new events."""
        return self._event_seq

    def push_event(self, event_type: str, obj: dict[str, Any]) -> None:
        self.events.append(
            {
                "group_id": self.group_id,
                "type": event_type,
                "event_id": secrets.token_hex(20),
                "v": API_VERSION,
                "object": obj,
            }
        )
        self._event_seq += 1
        self.changed()

    def events_from(self, ts: int) -> list[dict[str, Any]]:
        return self.events[max(0, ts - self.first_event_seq) :]

    def rotate_key(self) -> None:
        self.longpoll_key = secrets.token_hex(16)

    # --- views --------------------------------------------------------------------------------

    def bot_messages(self, peer_id: int) -> list[Message]:
        return [m for m in self.messages.values() if m.peer_id == peer_id and m.out]

    def visible(self, peer_id: int) -> list[VisibleMessage]:
        return [
            VisibleMessage(
                m.id,
                m.conversation_message_id,
                m.text,
                tuple(p.data for p in m.photos),
                tuple(m.attachments),
                m.keyboard,
                m.edits,
                tuple((d.title, d.data) for d in m.docs),
            )
            for m in self.bot_messages(peer_id)
        ]


def _peer_of(params: dict[str, str]) -> int | None:
    for name in ("peer_id", "user_id", "peer_ids"):
        value = params.get(name, "").split(",")[0].strip()
        if value.lstrip("-").isdigit():
            return int(value)
    return None
