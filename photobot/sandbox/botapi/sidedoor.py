"""The side door over HTTP, under /_fake/, for a test process that drives a fake running in another
process (``python -m photobot.sandbox.botapi``). JSON in and out; images and files as base64. Every
route mirrors a method of FakeTelegram; see the package docstring for the list."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeTelegram

Route = Callable[[web.Request], Awaitable[web.Response]]


def _ok(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda value: json.dumps(value, ensure_ascii=False))


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a base64 string")
    return base64.b64decode(value, validate=True)


def add_side_door(app: web.Application, fake: FakeTelegram) -> None:  # noqa: PLR0915 - one route each
    async def body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def route(handler: Callable[[dict[str, Any], web.Request], Awaitable[Any]]) -> Route:
        async def wrapped(request: web.Request) -> web.Response:
            try:
                return _ok(await handler(await body(request), request))
            except (ValueError, LookupError, TypeError) as exc:
                return web.json_response({"error": str(exc)}, status=400)
            except TimeoutError as exc:
                return web.json_response({"error": str(exc)}, status=408)

        return wrapped

    def common(data: dict[str, Any]) -> dict[str, Any]:
        keys = ("chat_id", "language_code", "chat_type", "first_name")
        return {key: data[key] for key in keys if key in data}

    async def text(data: dict[str, Any], _: web.Request) -> Any:
        return {"update_id": fake.inject_text(int(data["user_id"]), str(data["text"]), **common(data))}

    async def photo(data: dict[str, Any], _: web.Request) -> Any:
        image = _b64(data.get("image_b64"), "image_b64")
        loop = asyncio.get_running_loop()
        update_id = await loop.run_in_executor(
            None, lambda: fake.inject_photo(int(data["user_id"]), image, data.get("caption"), **common(data))
        )
        return {"update_id": update_id}

    async def document(data: dict[str, Any], _: web.Request) -> Any:
        blob = _b64(data.get("data_b64"), "data_b64")
        update_id = fake.inject_document(
            int(data["user_id"]),
            blob,
            str(data["file_name"]),
            data.get("mime_type"),
            caption=data.get("caption"),
            **common(data),
        )
        return {"update_id": update_id}

    async def album(data: dict[str, Any], _: web.Request) -> Any:
        images = [_b64(item, "images_b64[]") for item in data.get("images_b64") or []]
        loop = asyncio.get_running_loop()
        ids = await loop.run_in_executor(
            None, lambda: fake.inject_album(int(data["user_id"]), images, data.get("caption"), **common(data))
        )
        return {"update_ids": ids}

    async def callback(data: dict[str, Any], _: web.Request) -> Any:
        query_id = fake.inject_callback(
            int(data["user_id"]), int(data["message_id"]), str(data["data"]), data.get("chat_id")
        )
        return {"callback_query_id": query_id}

    async def pre_checkout(data: dict[str, Any], _: web.Request) -> Any:
        user_id, amount = int(data["user_id"]), int(data["total_amount"])
        currency = str(data.get("currency", "XTR"))
        query_id = fake.inject_pre_checkout(user_id, str(data["payload"]), amount, currency)
        return {"pre_checkout_query_id": query_id}

    async def successful_payment(data: dict[str, Any], _: web.Request) -> Any:
        update_id, charge_id = fake.inject_successful_payment(
            int(data["user_id"]),
            str(data["payload"]),
            int(data["total_amount"]),
            currency=str(data.get("currency", "XTR")),
            subscription=bool(data.get("subscription", False)),
            renewal_of=data.get("renewal_of"),
            charge_id=data.get("charge_id"),
        )
        return {"update_id": update_id, "telegram_payment_charge_id": charge_id}

    async def invoices(_: dict[str, Any], __: web.Request) -> Any:
        return [dataclasses.asdict(invoice) for invoice in fake.invoices()]

    async def charge(_: dict[str, Any], request: web.Request) -> Any:
        found = fake.charge(request.query["charge_id"])
        if found is None:
            raise LookupError("no such charge")
        return dataclasses.asdict(found)

    async def messages(_: dict[str, Any], request: web.Request) -> Any:
        chat_id = int(request.query["chat_id"])
        visible = request.query.get("visible", "0") in {"1", "true"}
        with_data = request.query.get("data", "0") in {"1", "true"}
        found = fake.visible_messages(chat_id) if visible else fake.messages(chat_id)
        return [m.describe(with_data=with_data) for m in found]

    async def calls(_: dict[str, Any], request: web.Request) -> Any:
        since = float(request.query.get("since", "0"))
        return [c.describe() for c in fake.calls(request.query.get("method")) if c.at >= since]

    async def state(_: dict[str, Any], __: web.Request) -> Any:
        return {
            "base_url": fake.base_url,
            "token": fake.token,
            "confirmed_offset": fake.confirmed_offset,
            "pending_update_count": fake.pending_update_count,
            "webhook_url": fake.webhook_url,
            "now": time.monotonic(),
        }

    async def fail_next(data: dict[str, Any], _: web.Request) -> Any:
        fake.fail_next(data.get("method"), int(data.get("count", 1)), int(data.get("retry_after", 1)))
        return {"ok": True}

    async def storm(data: dict[str, Any], _: web.Request) -> Any:
        fake.storm(
            float(data["fraction"]),
            int(data.get("retry_after", 1)),
            float(data.get("duration", 10)),
            data.get("methods"),
        )
        return {"ok": True}

    async def calm(_: dict[str, Any], __: web.Request) -> Any:
        fake.calm()
        return {"ok": True}

    async def block(data: dict[str, Any], _: web.Request) -> Any:
        fake.block(int(data["user_id"]))
        return {"ok": True}

    async def unblock(data: dict[str, Any], _: web.Request) -> Any:
        fake.unblock(int(data["user_id"]))
        return {"ok": True}

    async def reset(_: dict[str, Any], __: web.Request) -> Any:
        fake.reset()
        return {"ok": True}

    async def wait_messages(data: dict[str, Any], _: web.Request) -> Any:
        """Block until the chat shows at least ``count`` visible bot messages (of ``kind`` if given)."""
        chat_id, count = int(data["chat_id"]), int(data.get("count", 1))
        kind = data.get("kind")

        def enough() -> bool:
            shown = fake.visible_messages(chat_id)
            return len([m for m in shown if kind is None or m.kind == kind]) >= count

        await fake.wait_for(enough, float(data.get("timeout", 10)))
        return [m.describe() for m in fake.visible_messages(chat_id)]

    routes: dict[str, Callable[[dict[str, Any], web.Request], Awaitable[Any]]] = {
        "inject/text": text,
        "inject/photo": photo,
        "inject/document": document,
        "inject/album": album,
        "inject/callback": callback,
        "inject/pre_checkout": pre_checkout,
        "inject/successful_payment": successful_payment,
        "fail_next": fail_next,
        "storm": storm,
        "calm": calm,
        "block": block,
        "unblock": unblock,
        "reset": reset,
        "wait_messages": wait_messages,
    }
    for path, handler in routes.items():
        app.router.add_post(f"/_fake/{path}", route(handler))
    app.router.add_get("/_fake/messages", route(messages))
    app.router.add_get("/_fake/calls", route(calls))
    app.router.add_get("/_fake/state", route(state))
    app.router.add_get("/_fake/invoices", route(invoices))
    app.router.add_get("/_fake/charge", route(charge))
