"""The side door over HTTP, for tests that drive the fake from another process
(`python -m tests.fakes.vk`). JSON in and out; images travel as base64.

  GET  /_fake/info                          {"base_url", "api_url", "token", "group_id"}
  POST /_fake/inject_text     {"user_id", "text", "peer_id"?}              -> the message object
  POST /_fake/inject_photo    {"user_id", "image", "text"?, "peer_id"?}    -> the message object
  POST /_fake/inject_photos   {"user_id", "images": [...], "text"?, "peer_id"?}
  POST /_fake/inject_document {"user_id", "filename", "data", "text"?, "peer_id"?}
  POST /_fake/inject_payload  {"user_id", "payload": {...}, "text", "peer_id"?}
  GET  /_fake/messages?peer_id=N            the bot's messages with their history
  GET  /_fake/visible_messages?peer_id=N    what the user sees now (photos as base64)
  GET  /_fake/calls?method=M                every logged call (method, params, peer_id, at, error_code)
  POST /_fake/fail_next       {"method", "count"?, "code"?}
  POST /_fake/rate_limit      {"per_second": N | null}
  POST /_fake/deny_messages   {"user_id"}        POST /_fake/allow_messages {"user_id"}
  POST /_fake/fail_long_poll  {"code", "count"?, "lose_events"?}
  POST /_fake/set_user        {"user_id", "first_name"?, "last_name"?, "lang_id"?}
  POST /_fake/reset
"""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeVK


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return _b64(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _reply(value: Any) -> web.Response:
    return web.Response(text=json.dumps(_encode(value)), content_type="application/json")


def add_side_door(app: web.Application, fake: FakeVK) -> None:
    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        data = await request.json()
        if not isinstance(data, dict):
            raise web.HTTPBadRequest(text="a JSON object is expected")
        return data

    def peer(request: web.Request) -> int:
        try:
            return int(request.query["peer_id"])
        except (KeyError, ValueError):
            raise web.HTTPBadRequest(text="peer_id is required") from None

    async def info(request: web.Request) -> web.Response:
        return _reply(
            {
                "base_url": fake.base_url,
                "api_url": fake.api_url,
                "token": fake.token,
                "group_id": fake.group_id,
            }
        )

    async def inject_text(request: web.Request) -> web.Response:
        d = await body(request)
        return _reply(fake.inject_text(int(d["user_id"]), str(d["text"]), d.get("peer_id")))

    async def inject_photo(request: web.Request) -> web.Response:
        d = await body(request)
        image = base64.b64decode(d["image"])
        return _reply(fake.inject_photo(int(d["user_id"]), image, d.get("text", ""), d.get("peer_id")))

    async def inject_photos(request: web.Request) -> web.Response:
        d = await body(request)
        images = [base64.b64decode(i) for i in d["images"]]
        return _reply(fake.inject_photos(int(d["user_id"]), images, d.get("text", ""), d.get("peer_id")))

    async def inject_document(request: web.Request) -> web.Response:
        d = await body(request)
        data = base64.b64decode(d["data"])
        user_id, filename, text = int(d["user_id"]), str(d["filename"]), d.get("text", "")
        return _reply(fake.inject_document(user_id, filename, data, text, d.get("peer_id")))

    async def inject_payload(request: web.Request) -> web.Response:
        d = await body(request)
        return _reply(
            fake.inject_payload(int(d["user_id"]), dict(d["payload"]), str(d["text"]), d.get("peer_id"))
        )

    async def messages(request: web.Request) -> web.Response:
        return _reply(fake.messages(peer(request)))

    async def visible(request: web.Request) -> web.Response:
        return _reply(fake.visible_messages(peer(request)))

    async def calls(request: web.Request) -> web.Response:
        return _reply(fake.calls(request.query.get("method")))

    async def fail_next(request: web.Request) -> web.Response:
        d = await body(request)
        fake.fail_next(str(d["method"]), int(d.get("count", 1)), int(d.get("code", 6)))
        return _reply({"ok": True})

    async def rate_limit(request: web.Request) -> web.Response:
        d = await body(request)
        per_second = d.get("per_second")
        fake.set_rate_limit(None if per_second is None else int(per_second))
        return _reply({"ok": True})

    async def deny(request: web.Request) -> web.Response:
        fake.deny_messages(int((await body(request))["user_id"]))
        return _reply({"ok": True})

    async def allow(request: web.Request) -> web.Response:
        fake.allow_messages(int((await body(request))["user_id"]))
        return _reply({"ok": True})

    async def fail_long_poll(request: web.Request) -> web.Response:
        d = await body(request)
        fake.fail_long_poll(int(d["code"]), int(d.get("count", 1)), bool(d.get("lose_events", False)))
        return _reply({"ok": True})

    async def set_user(request: web.Request) -> web.Response:
        d = await body(request)
        fake.set_user(
            int(d["user_id"]),
            first_name=d.get("first_name"),
            last_name=d.get("last_name"),
            lang_id=d.get("lang_id"),
        )
        return _reply({"ok": True})

    async def reset(request: web.Request) -> web.Response:
        fake.reset()
        return _reply({"ok": True})

    app.router.add_get("/_fake/info", info)
    app.router.add_post("/_fake/inject_text", inject_text)
    app.router.add_post("/_fake/inject_photo", inject_photo)
    app.router.add_post("/_fake/inject_photos", inject_photos)
    app.router.add_post("/_fake/inject_document", inject_document)
    app.router.add_post("/_fake/inject_payload", inject_payload)
    app.router.add_get("/_fake/messages", messages)
    app.router.add_get("/_fake/visible_messages", visible)
    app.router.add_get("/_fake/calls", calls)
    app.router.add_post("/_fake/fail_next", fail_next)
    app.router.add_post("/_fake/rate_limit", rate_limit)
    app.router.add_post("/_fake/deny_messages", deny)
    app.router.add_post("/_fake/allow_messages", allow)
    app.router.add_post("/_fake/fail_long_poll", fail_long_poll)
    app.router.add_post("/_fake/set_user", set_user)
    app.router.add_post("/_fake/reset", reset)
