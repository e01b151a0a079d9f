"""FakeTelegram: the aiohttp server that the bot talks to, and its lifecycle; its Python side door
is door.py, the same over HTTP sidedoor.py (see the package docstring for the whole contract)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from .api import Api, Pulse
from .door import SideDoor
from .messages import Messages
from .model import ApiError, CallRecord
from .params import Params, read_params
from .payments import Payments
from .sidedoor import add_side_door
from .state import State
from .thread import serve_in_thread
from .webhook import WebhookDelivery


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(body, ensure_ascii=False)
    return web.Response(status=status, text=text, content_type="application/json")


class FakeTelegram(SideDoor):
    """A Bot API server on 127.0.0.1 that the real aiogram Bot talks to, plus a side door."""

    def __init__(
        self,
        token: str | None = None,
        port: int = 0,
        bot_username: str = "photobot_test_bot",
        webhook_retry_delay: float = 1.0,
        seed: int = 0,
        *,
        pre_checkout_timeout: float = 10.0,
    ) -> None:
        self.token = token or f"{random.randint(10**8, 10**10 - 1)}:AA{secrets.token_urlsafe(24)}"
        self.port = port
        self.state = State(self.token, bot_username)
        self.payments = Payments(self.state, Messages(self.state), pre_checkout_timeout)
        self.webhook_retry_delay = webhook_retry_delay
        self._seed = seed
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pulse: Pulse | None = None
        self._api: Api | None = None
        self._webhook: WebhookDelivery | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """For ``TelegramAPIServer.from_base(tg.base_url)`` and TELEGRAM_API_URL."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeTelegram:
        self._loop = asyncio.get_running_loop()
        self._pulse = Pulse(self._loop)
        self.state.on_change = self._pulse.fire
        self._api = Api(self.state, self._pulse, self._pulse.fire, self.payments)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_side_door(app, self)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._webhook = WebhookDelivery(self.state, self._pulse, self.call, self.webhook_retry_delay)
        self._webhook.start()
        return self

    async def stop(self) -> None:
        if self._api is not None:
            self._api.closing = True
        if self._pulse is not None:
            self._pulse.fire()
        if self._webhook is not None:
            await self._webhook.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.state.on_change = lambda: None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[FakeTelegram]:
        """Run the fake on its own loop in a daemon thread, for sync tests that drive subprocesses.
        The side door is thread-safe; use ``wait_for_sync`` to wait for the bot."""
        with serve_in_thread(cls(**kwargs), "fake-telegram") as fake:
            yield fake

    # --- the Bot API ---------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        if request.match_info["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        try:
            params = await read_params(request.headers, request.content, request.query)
        except ApiError as error:
            return _json(error.payload(), error.code)
        status, body = await self.call(request.match_info["method"], params, arrived)
        return _json(body, status)

    async def call(self, method: str, params: Params, arrived: float | None = None) -> tuple[int, Any]:
        """Run one Bot API call, log it and return (HTTP status, JSON body)."""
        assert self._api is not None
        arrived = time.monotonic() if arrived is None else arrived
        name = method
        result: Any = None
        raw_chat = params.values.get("chat_id")
        try:
            chat_id: int | str | None = int(raw_chat) if raw_chat is not None else None
        except (TypeError, ValueError):
            chat_id = str(raw_chat)
        try:
            name, handler = self._api.lookup(method)
            fault = self.state.fault_for(name, chat_id)
            if fault is not None:
                raise fault
            result = await handler(name, params)
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.code, error.payload()
        message_id = (
            result.get("message_id") if isinstance(result, dict) else params.integer_or_none("message_id")
        )
        self.state.log(
            CallRecord(
                method=name,
                chat_id=chat_id,
                at=arrived,
                status=status,
                params=params.loggable(),
                message_id=message_id,
                description=None if status == 200 else body.get("description"),
            )
        )
        return status, body

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json(ApiError(401, "Unauthorized").payload(), 401)
        stored = self.state.files.by_path(request.match_info["path"])
        if stored is None:
            return _json(ApiError(404, "Not Found").payload(), 404)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait in the calling loop until ``predicate()`` is true (re-checked on every change of
        state); TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        same_loop = self._pulse is not None and asyncio.get_running_loop() is self._loop
        while True:
            event = self._pulse.event if same_loop and self._pulse else None
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            if event is not None and self._pulse is not None:
                await self._pulse.wait(event, min(remaining, 0.5))
            else:
                await asyncio.sleep(min(remaining, 0.02))
