"""The fake VK as an aiohttp server: `FakeVK` and its HTTP endpoints (its Python side door is
door.py).

Endpoints, all on one 127.0.0.1 port:
  /method/<name>         the API (GET or POST; access_token and v in the query or the form)
  /lp/<group_id>         the Bots Long Poll server (act=a_check&key&ts&wait)
  /upload/, /docupload/, /photo/, /doc/   uploads and downloads (see files.py)
  /_fake/...             the side door over HTTP (see sidedoor.py)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from photobot.sandbox.botapi.thread import serve_in_thread

from . import api
from .door import SideDoor
from .errors import ApiError
from .files import add_file_routes
from .limits import COMMUNITY_RATE
from .sidedoor import add_side_door
from .state import State


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
        params.update({k: str(v) for k, v in (await request.post()).items()})
    return params


def _json(data: Any) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json")


class FakeVK(SideDoor):
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
