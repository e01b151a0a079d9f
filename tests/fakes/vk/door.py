"""The side door of FakeVK, in Python (sidedoor.py serves it over HTTP): a test plays the users,
reads what the bot did and switches faults on. Each method runs on the fake's loop (`on_loop`), so
the state has one owner and the methods are safe to call from any thread."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from . import api
from .docs import make_doc
from .loop import on_loop
from .photos import image_dimensions, make_photo
from .state import CHAT_PEER_BASE, ApiCall, Message, State, VisibleMessage


class SideDoor:
    """The Python side door; FakeVK is the server that serves the same state to the bot."""

    state: State
    _loop: asyncio.AbstractEventLoop | None
    _initial_rate_limit: int | None

    # --- side door: users write ---------------------------------------------------------------

    @on_loop
    def inject_message(
        self,
        user_id: int,
        text: str = "",
        images: list[bytes] | None = None,
        *,
        payload: dict[str, Any] | None = None,
        peer_id: int | None = None,
        documents: list[tuple[str, bytes]] | None = None,
    ) -> dict[str, Any]:
        """A user's message arrives: stored, and a message_new event queued for the long poll.
        `documents` are (file name, bytes). A peer_id above 2000000000 is a group chat, which the
        community is then a member of. Returns the message object as the bot will receive it."""
        state = self.state
        peer = peer_id or user_id
        if peer > CHAT_PEER_BASE:
            state.chats.add(peer)
        user = state.user(user_id)
        docs = [make_doc(state, user_id, title, data) for title, data in documents or []]
        photos = []
        for data in images or []:
            photo = make_photo(user_id, state.new_photo_id(), data, image_dimensions(data))
            state.photos[(photo.owner_id, photo.id)] = photo
            photos.append(photo)
        encoded = json.dumps(payload) if payload is not None else None
        message = state.add_message(peer, user_id, text, photos=photos, docs=docs, payload=encoded)
        vk_message = api.message_to_vk(state, message)
        client_info = {
            "button_actions": [
                "text",
                "vkpay",
                "open_app",
                "location",
                "open_link",
                "callback",
                "intent_subscribe",
                "intent_unsubscribe",
            ],
            "keyboard": True,
            "inline_keyboard": True,
            "carousel": True,
            "lang_id": user.lang_id,
        }
        state.push_event("message_new", {"message": vk_message, "client_info": client_info})
        return vk_message

    def inject_text(self, user_id: int, text: str, peer_id: int | None = None) -> dict[str, Any]:
        return self.inject_message(user_id, text, peer_id=peer_id)

    def inject_photo(
        self, user_id: int, image_bytes: bytes, text: str = "", peer_id: int | None = None
    ) -> dict[str, Any]:
        return self.inject_message(user_id, text, [image_bytes], peer_id=peer_id)

    def inject_photos(
        self, user_id: int, images: list[bytes], text: str = "", peer_id: int | None = None
    ) -> dict[str, Any]:
        return self.inject_message(user_id, text, list(images), peer_id=peer_id)

    def inject_document(
        self, user_id: int, filename: str, data: bytes, text: str = "", peer_id: int | None = None
    ) -> dict[str, Any]:
        """A file sent as a document (VK keeps its bytes as they are)."""
        return self.inject_message(user_id, text, peer_id=peer_id, documents=[(filename, data)])

    def inject_payload(
        self, user_id: int, payload: dict[str, Any], text: str, peer_id: int | None = None
    ) -> dict[str, Any]:
        """A keyboard button press: VK sends the button's label as text and its payload."""
        return self.inject_message(user_id, text, payload=payload, peer_id=peer_id)

    @on_loop
    def set_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        lang_id: int | None = None,
    ) -> None:
        """Name and client language (lang_id 0 Russian, 3 English) of a user."""
        user = self.state.user(user_id)
        user.first_name = first_name or user.first_name
        user.last_name = last_name or user.last_name
        user.lang_id = user.lang_id if lang_id is None else lang_id

    # --- side door: read ----------------------------------------------------------------------

    @on_loop
    def messages(self, peer_id: int) -> list[Message]:
        """The bot's messages in a conversation, oldest first, each with its edit history."""
        return copy.deepcopy(self.state.bot_messages(peer_id))

    @on_loop
    def visible_messages(self, peer_id: int) -> list[VisibleMessage]:
        """What the user sees now of the bot's messages: current text, photo bytes, keyboard."""
        return self.state.visible(peer_id)

    @on_loop
    def calls(self, method: str | None = None) -> list[ApiCall]:
        return [c for c in self.state.calls if method is None or c.method == method]

    @on_loop
    def remove_from_chat(self, peer_id: int) -> None:
        """The community is removed from a group chat: sends there get error 917."""
        self.state.chats.discard(peer_id)

    @on_loop
    def photo_bytes(self, attachment: str) -> bytes:
        """The stored bytes behind "photo<owner>_<id>[_<key>]"."""
        owner, photo_id = attachment.removeprefix("photo").split("_")[:2]
        return self.state.photos[(int(owner), int(photo_id))].data

    # --- side door: switches ------------------------------------------------------------------

    @on_loop
    def fail_next(self, method: str, count: int = 1, code: int = 6) -> None:
        """The next `count` calls of `method` ("*" for any) answer VK error `code` (6 by default:
        Too many requests per second; 10 internal error; 9 flood control)."""
        self.state.fail_next.setdefault(method, deque()).extend([code] * count)

    @on_loop
    def set_rate_limit(self, per_second: int | None) -> None:
        """More than `per_second` API calls within one second answer error 6 (VK: 20 for a
        group token). None turns the check off."""
        self.state.rate_limit = per_second

    @on_loop
    def deny_messages(self, user_id: int) -> None:
        """The user has not allowed the community's messages: messages.send answers error 901."""
        self.state.user(user_id).allows_messages = False

    @on_loop
    def allow_messages(self, user_id: int) -> None:
        self.state.user(user_id).allows_messages = True

    @on_loop
    def fail_long_poll(self, code: int, count: int = 1, lose_events: bool = False) -> None:
        """The next `count` long-poll answers (held requests answer at once) are failed=`code`.
        1: history outdated, a ts comes back (the current head if lose_events, else the client's);
        2: key expired, the key is rotated; 3: information lost, the key is rotated and a client
        must take the new ts from groups.getLongPollServer, skipping events it had not read."""
        if code not in (1, 2, 3):
            raise ValueError("VK's long poll fails with 1, 2 or 3")
        self.state.longpoll_failures.extend([(code, lose_events)] * count)
        self.state.changed()

    @on_loop
    def reset(self) -> None:
        """Forget users, messages, photos, calls and switches; the long-poll ts keeps counting."""
        self.state.reset()
        self.state.rate_limit = self._initial_rate_limit

    # --- waiting ------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until predicate() is true, re-checking after every change of the fake's state.
        On the fake's loop it waits without blocking; on another loop it waits in a thread."""
        if self._loop is None or asyncio.get_running_loop() is not self._loop:
            await asyncio.to_thread(self.wait_for_sync, predicate, timeout)
            return
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake VK: condition not met within {timeout} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.state.change_event().wait(), min(remaining, 0.5))

    def wait_for_sync(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Blocking wait_for for other threads (never call it on the fake's own loop)."""
        deadline = time.monotonic() + timeout
        condition = self.state.thread_condition
        while True:
            version = self.state.version
            if predicate():  # evaluated without the lock: it may call back into the loop
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"fake VK: condition not met within {timeout} s")
            with condition:
                condition.wait_for(functools.partial(self._changed_since, version), min(remaining, 0.5))

    def _changed_since(self, version: int) -> bool:
        return self.state.version != version
