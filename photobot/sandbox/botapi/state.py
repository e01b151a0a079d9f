"""Everything the fake remembers, behind one lock: users and chats, the update queue with its
confirmed offset, the messages the bot sent, callback queries, commands, the call log and the
faults a test switched on.

The lock is a threading lock, not an asyncio one, because tests call the side door from their own
thread while the server answers the bot on its loop; every critical section is short and never
awaits. ``changed`` (a Condition on the same lock) is notified on every change so that a sync test
can wait for the bot, and ``on_change`` lets the server wake its long polls.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .media import FileStore, document_payload, photo_size_payload
from .model import ApiError, BotMessage, CallRecord, StoredFile, bad_request

# Methods a storm or fail_next(None) hits by default: everything but the long poll, which a bot
# keeps open all the time and would otherwise soak up the faults meant for its sends.
NOT_FAULTED_BY_DEFAULT = frozenset({"getupdates"})
DEFAULT_UPDATE_TYPES = ("message", "edited_message", "callback_query", "my_chat_member", "pre_checkout_query")


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Callback:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answered: bool = False
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class _FailNext:
    method: str | None  # lower-case method name; None hits every method but getUpdates
    remaining: int
    retry_after: int


@dataclass
class _Storm:
    fraction: float
    retry_after: int
    until: float
    methods: frozenset[str] | None
    rng: random.Random


class State:
    def __init__(self, token: str, bot_username: str) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.on_change: Callable[[], None] = lambda: None
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "photobot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.files = FileStore()
        self._update_ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Forget everything a test did; the token, bot identity and address stay."""
        with self.lock:
            self.files.clear()
            self.users: dict[int, dict[str, Any]] = {}
            self.chats: dict[int, dict[str, Any]] = {}
            self._message_ids: dict[int, itertools.count[int]] = {}
            self.bot_messages: dict[int, dict[int, BotMessage]] = {}
            self.user_messages: dict[int, dict[int, dict[str, Any]]] = {}
            self.pending: list[dict[str, Any]] = []
            self.all_updates: dict[int, dict[str, Any]] = {}
            self.confirmed_offset = 0
            self.allowed_updates: list[str] | None = None
            self.callbacks: dict[str, Callback] = {}
            self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
            self.blocked: set[int] = set()
            self.call_log: list[CallRecord] = []
            self.fail_queue: list[_FailNext] = []
            self.storm_mode: _Storm | None = None
            self.flood_waits: dict[object, float] = {}  # chat (None: chat-less calls) -> end of its wait
            self.webhook: Webhook | None = None
            self._callback_ids = itertools.count(1)
            self._media_groups = itertools.count(1)
            self.notify()

    def notify(self) -> None:
        with self.lock:
            self.changed.notify_all()
        self.on_change()

    # --- users, chats, ids -------------------------------------------------------------------

    def register_user(
        self, user_id: int, first_name: str | None, language_code: str | None
    ) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(user_id) or {"id": user_id, "is_bot": False}
            user["first_name"] = first_name or user.get("first_name") or f"User{user_id}"
            if language_code:
                user["language_code"] = language_code
            self.users[user_id] = user
            return dict(user)

    def register_chat(self, user: dict[str, Any], chat_id: int | None, chat_type: str) -> dict[str, Any]:
        with self.lock:
            if chat_type == "private":
                if chat_id not in (None, user["id"]):
                    raise ValueError("a private chat's id is its user's id")
                chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
            elif chat_type in {"group", "supergroup"}:
                if chat_id is None or chat_id >= 0:
                    raise ValueError("group chats have negative ids: pass chat_id=-N")
                chat = {"id": chat_id, "type": chat_type, "title": f"Group {-chat_id}"}
            else:
                raise ValueError(f"unknown chat_type {chat_type!r}")
            self.chats[chat["id"]] = chat
            return dict(chat)

    def next_message_id(self, chat_id: int) -> int:
        """Message ids count per chat, shared by the user's and the bot's messages, as in Telegram."""
        with self.lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def next_media_group_id(self) -> str:
        with self.lock:
            return str(13_000_000_000_000_000 + next(self._media_groups))

    def next_callback_id(self, user_id: int) -> str:
        with self.lock:
            return f"{user_id}{next(self._callback_ids):08d}"

    def chat_for_bot(self, chat_id: int | str) -> dict[str, Any]:
        """The chat a bot call addresses, or Telegram's refusal."""
        with self.lock:
            chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
            if chat is None:
                raise bad_request("chat not found")
            if chat["type"] == "private" and chat["id"] in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            return dict(chat)

    # --- updates -------------------------------------------------------------------------------

    def push_update(self, kind: str, obj: dict[str, Any]) -> int:
        with self.lock:
            update_id = next(self._update_ids)
            update = {"update_id": update_id, kind: obj}
            self.pending.append(update)
            self.all_updates[update_id] = update
        self.notify()
        return update_id

    def confirm(self, offset: int) -> None:
        """getUpdates' offset: every update with a smaller id is confirmed and forgotten.
        A negative offset keeps only the last -offset updates."""
        with self.lock:
            if offset < 0:
                keep = self.pending[offset:]
                if len(keep) < len(self.pending):
                    self.confirmed_offset = keep[0]["update_id"] if keep else self.confirmed_offset
                self.pending = keep
            elif offset > 0:
                self.pending = [u for u in self.pending if u["update_id"] >= offset]
                self.confirmed_offset = max(self.confirmed_offset, offset)
        self.notify()

    def drop_pending(self) -> None:
        with self.lock:
            if self.pending:
                self.confirmed_offset = self.pending[-1]["update_id"] + 1
            self.pending = []
        self.notify()

    def deliverable(self, limit: int) -> list[dict[str, Any]]:
        """The next pending updates, skipping (and forgetting) types the bot did not ask for."""
        with self.lock:
            allowed = set(self.allowed_updates or DEFAULT_UPDATE_TYPES)
            kept = [u for u in self.pending if _update_kind(u) in allowed]
            self.pending = kept
            return [dict(u) for u in kept[:limit]]

    # --- bot messages ----------------------------------------------------------------------------

    def add_bot_message(self, message: BotMessage) -> None:
        with self.lock:
            self.bot_messages.setdefault(message.chat_id, {})[message.message_id] = message
        self.notify()

    def bot_message(self, chat_id: int, message_id: int, action: str) -> BotMessage:
        """A live bot message for an edit or a delete, or Telegram's refusal."""
        with self.lock:
            message = self.bot_messages.get(chat_id, {}).get(message_id)
            if message is None or message.deleted:
                if message_id in self.user_messages.get(chat_id, {}) and action == "edit":
                    raise bad_request("message can't be edited")
                raise bad_request(f"message to {action} not found")
            return message

    def message_payload(self, message: BotMessage) -> dict[str, Any]:
        """The Message object Telegram returns for the current version of a bot message."""
        version = message.current
        with self.lock:
            chat = dict(self.chats[message.chat_id])
        payload: dict[str, Any] = {
            "message_id": message.message_id,
            "from": dict(self.bot_user),
            "chat": chat,
            "date": message.date,
        }
        if message.edited:
            payload["edit_date"] = int(time.time())
        if message.media_group_id:
            payload["media_group_id"] = message.media_group_id
        if version.kind == "text":
            payload["text"] = version.text
        elif version.kind == "invoice":
            payload["invoice"] = dict(version.invoice or {})
        else:
            if version.text is not None:
                payload["caption"] = version.text
            stored = self.files.get(version.file_id or "")
            if stored is not None and stored.kind == "photo":
                sizes = self.files.photo_sizes(stored.file_id) or [stored]
                payload["photo"] = [photo_size_payload(s) for s in sizes]
            elif stored is not None:
                payload["document"] = document_payload(stored)
        markup = version.reply_markup
        if markup and "inline_keyboard" in markup:
            payload["reply_markup"] = markup
        if message.reply_to_message_id is not None:
            replied = self.user_messages.get(message.chat_id, {}).get(message.reply_to_message_id)
            if replied is not None:
                payload["reply_to_message"] = replied
        return payload

    # --- faults and the call log ---------------------------------------------------------------

    def fault_for(self, method: str, chat: object = None) -> ApiError | None:
        """A 429 for this call: one the test asked for, or the chat's flood wait still running.

        As Telegram does, a 429 starts a flood wait for the chat the call went to (chat-less calls
        share one): until its retry_after has passed, every further call there is refused too, with
        the seconds left ("the number of seconds left to wait before the request can be repeated",
        https://core.telegram.org/bots/api#responseparameters). getUpdates is never held.
        """
        name = method.lower()
        with self.lock:
            now = time.monotonic()
            held = name not in NOT_FAULTED_BY_DEFAULT
            retry_after = self._asked_fault(name, now)
            if retry_after is not None:
                if held:
                    self.flood_waits[chat] = max(self.flood_waits.get(chat, 0.0), now + retry_after)
                return too_many_requests(retry_after)
            until = self.flood_waits.get(chat, 0.0)
            if held and now < until:
                return too_many_requests(max(1, math.ceil(until - now)))
            return None

    def _asked_fault(self, name: str, now: float) -> int | None:
        """The retry_after of a 429 that fail_next or a storm gives this call, if any."""
        for fault in self.fail_queue:
            hits = fault.method == name if fault.method else name not in NOT_FAULTED_BY_DEFAULT
            if hits and fault.remaining > 0:
                fault.remaining -= 1
                self.fail_queue = [f for f in self.fail_queue if f.remaining > 0]
                return fault.retry_after
        storm = self.storm_mode
        if storm is not None:
            if now >= storm.until:
                self.storm_mode = None
                return None
            hits = name in storm.methods if storm.methods else name not in NOT_FAULTED_BY_DEFAULT
            if hits and storm.rng.random() < storm.fraction:
                return storm.retry_after
        return None

    def log(self, record: CallRecord) -> None:
        with self.lock:
            self.call_log.append(record)
        self.notify()

    def stored(self, file_id: str) -> StoredFile | None:
        return self.files.get(file_id)


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
