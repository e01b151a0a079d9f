"""The fake VK as an aiohttp server: `FakeVK`, its HTTP endpoints and its Python side door.

Endpoints, all on one 127.0.0.1 port:
  /method/<name>         the API (GET or POST; access_token and v in the query or the form)
  /lp/<group_id>         the Bots Long Poll server (act=a_check&key&ts&wait)
  /upload/, /docupload/, /photo/, /doc/   uploads and downloads (see files.py)
  /_fake/...             the side door over HTTP (see sidedoor.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import secrets
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from photobot.sandbox.botapi.thread import serve_in_thread

from . import api
from .docs import make_doc
from .errors import ApiError
from .files import add_file_routes
from .limits import COMMUNITY_RATE
from .loop import on_loop
from .photos import image_dimensions, make_photo
from .sidedoor import add_side_door
from .state import CHAT_PEER_BASE, ApiCall, Message, State, VisibleMessage


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    return params


def _json(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json")


class FakeVK:
    """A local VK API for photobot's tests; see the package docstring for how to use it."""

    def __init__(
        self,
        token: str | None = None,
        group_id: int = 224466001,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = COMMUNITY_RATE,
    ) -> None:
        self.token = token or f"vk1.a.{secrets.token_urlsafe(24)}"
        self.group_id = group_id
        self.host = host
        self.port = port
        self.state = State("", self.token, group_id)
        self.state.rate_limit = rate_limit
        self._initial_rate_limit = rate_limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What vkbottle's API.API_URL (and photobot's VK_API_URL) must be: ends in /method/."""
        return f"{self.base_url}/method/"

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> FakeVK:
        """Serve; may be called again after stop() (same port, same state) to model an outage."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = int(sock.getsockname()[1])
        self.state.base_url = self.base_url
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/method/{name}", self._method)
        app.router.add_route("*", "/lp/{group_id}", self._longpoll)
        add_file_routes(app, self.state)
        add_side_door(app, self)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._loop = asyncio.get_running_loop()
        self._closing = False
        return self

    async def stop(self) -> None:
        self._closing = True
        self.state.changed()  # held long polls answer now instead of holding the shutdown up
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._loop = None

    async def __aenter__(self) -> FakeVK:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[FakeVK]:
        """Serve from a thread of its own, for synchronous tests and for tests that run photobot
        in a subprocess; every side-door method is safe to call from any thread."""
        with serve_in_thread(cls(**kwargs), "fake-vk") as fake:
            yield fake

    # --- the VK side --------------------------------------------------------------------------

    async def _method(self, request: web.Request) -> web.Response:
        method = request.match_info["name"]
        params = await _params(request)
        logged = {k: v for k, v in params.items() if k != "access_token"}
        try:
            result = api.call(self.state, method, params)
        except ApiError as error:
            self.state.log(method, logged, error.code)
            request_params = [{"key": "method", "value": method}, {"key": "oauth", "value": "1"}]
            request_params += [{"key": k, "value": v} for k, v in logged.items()]
            return _json(
                {
                    "error": {
                        "error_code": error.code,
                        "error_msg": error.message,
                        "request_params": request_params,
                    }
                }
            )
        self.state.log(method, logged)
        return _json({"response": result})

    async def _longpoll(self, request: web.Request) -> web.Response:
        params = await _params(request)
        self.state.log("longpoll", params)
        refused = self._longpoll_refusal(params)
        if refused is not None:
            return _json(refused)
        return _json(await self._longpoll_wait(int(params["ts"]), int(params.get("wait", "25"))))

    def _longpoll_refusal(self, params: dict[str, str]) -> dict[str, Any] | None:
        """VK's answers to a request it will not hold: a wrong key is failed=2, a ts it cannot
        serve (malformed, from the future, or older than its history) is failed=1."""
        state = self.state
        if params.get("act") != "a_check" or params.get("key") != state.longpoll_key:
            return {"failed": 2}
        try:
            ts = int(params.get("ts", ""))
            int(params.get("wait", "25"))
        except ValueError:
            return {"failed": 1, "ts": str(state.head_ts)}
        if ts > state.head_ts or ts < state.first_event_seq:
            return {"failed": 1, "ts": str(state.head_ts)}
        return None

    async def _longpoll_wait(self, ts: int, wait: int) -> dict[str, Any]:
        """Hold the request until events from `ts` exist, a failure is switched on, or `wait`
        seconds (at most 90, as VK) pass."""
        state = self.state
        key = state.longpoll_key
        deadline = time.monotonic() + min(max(wait, 0), 90)
        while True:
            if state.longpoll_failures:
                code, lose = state.longpoll_failures.popleft()
                if code == 1:
                    return {"failed": 1, "ts": str(state.head_ts if lose else ts)}
                state.rotate_key()
                return {"failed": code}
            if state.longpoll_key != key:
                return {"failed": 2}
            events = state.events_from(ts)
            if events:
                return {"ts": str(state.head_ts), "updates": events}
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                return {"ts": str(ts), "updates": []}
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.change_event().wait(), remaining)

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
        message = Message(
            id=state.new_message_id(),
            peer_id=peer,
            from_id=user_id,
            conversation_message_id=state.new_cmid(peer),
            date=int(time.time()),
            out=False,
            text=text,
            photos=photos,
            docs=docs,
            payload=json.dumps(payload) if payload is not None else None,
        )
        state.messages[message.id] = message
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
