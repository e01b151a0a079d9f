"""The fake Telegram in the ways photobot's end-to-end and chaos tests run it: on its own thread
for sync tests that drive subprocesses, as a standalone process driven over HTTP, and under the
situations a restarted bot meets (a second long poll, a webhook that answers with a method)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramConflictError
from aiohttp import web
from PIL import Image

from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def make_bot(base_url: str, token: str) -> Bot:
    return Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))


async def echo_photos(base_url: str, token: str, count: int) -> None:
    """A tiny bot: long-polls and answers each photo with the same photo, captioned "done"."""
    bot = make_bot(base_url, token)
    offset, answered = 0, 0
    try:
        while answered < count:
            for update in await bot.get_updates(offset=offset, timeout=10):
                offset = update.update_id + 1
                if update.message and update.message.photo:
                    await bot.send_photo(
                        update.message.chat.id, update.message.photo[-1].file_id, caption="done"
                    )
                    answered += 1
        await bot.get_updates(offset=offset, timeout=0)  # confirm the last batch before leaving
    finally:
        await bot.session.close()


def test_run_in_thread_with_wait_for_sync() -> None:
    with FakeTelegram.run_in_thread() as tg:
        worker = threading.Thread(target=asyncio.run, args=(echo_photos(tg.base_url, tg.token, 3),))
        worker.start()
        images = [png(100 + i, 80) for i in range(3)]
        for user_id, image in zip((201, 202, 203), images, strict=True):
            tg.inject_photo(user_id, image)
        tg.wait_for_sync(lambda: all(len(tg.visible_messages(u)) == 1 for u in (201, 202, 203)), 30)
        worker.join(timeout=30)
        assert [tg.visible_messages(u)[0].data for u in (201, 202, 203)] == images
        assert tg.pending_update_count == 0 and tg.confirmed_offset == 4
        with pytest.raises(TimeoutError):
            tg.wait_for_sync(lambda: len(tg.visible_messages(201)) == 2, 0.2)


def _post(base: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{base}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(f"{base}{path}", timeout=30) as response:
        return json.loads(response.read())


def test_standalone_process_driven_over_http() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.telegram", "--port", "0", "--token", "777:AAstandalone"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        started = json.loads(process.stdout.readline())
        base, token = started["base_url"], started["token"]
        assert token == "777:AAstandalone"
        image = png(64, 48)
        _post(base, "/_fake/inject/photo", {"user_id": 301, "image_b64": base64.b64encode(image).decode()})
        _post(
            base,
            "/_fake/inject/document",
            {
                "user_id": 301,
                "data_b64": base64.b64encode(b"%PDF-1.4").decode(),
                "file_name": "scan.pdf",
                "caption": "sepia",
            },
        )
        assert _get(base, "/_fake/state")["pending_update_count"] == 2
        updates = _get(base, f"/bot{token}/getUpdates")["result"]
        assert updates[1]["message"]["document"]["mime_type"] == "application/pdf"
        assert updates[1]["message"]["caption"] == "sepia"
        asyncio.run(echo_photos(base, token, 1))
        shown = _post(base, "/_fake/wait_messages", {"chat_id": 301, "kind": "photo", "timeout": 10})
        assert [m["current"]["text"] for m in shown] == ["done"]
        assert _get(base, "/_fake/state")["pending_update_count"] == 0
    finally:
        process.terminate()
        assert process.wait(timeout=20) == 0


async def test_a_second_long_poll_ends_the_first_with_conflict() -> None:
    async with FakeTelegram() as tg:
        old, new = make_bot(tg.base_url, tg.token), make_bot(tg.base_url, tg.token)
        try:
            stale = asyncio.create_task(old.get_updates(timeout=20))
            await asyncio.sleep(0.2)  # the first poll is held a while, as a bot's would be
            fresh = asyncio.create_task(new.get_updates(timeout=20))
            with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
                await asyncio.wait_for(stale, 5)
            update_id = tg.inject_text(401, "/start")
            assert [u.update_id for u in await asyncio.wait_for(fresh, 5)] == [update_id]
        finally:
            await old.session.close()
            await new.session.close()


async def test_webhook_reply_with_a_method_is_executed() -> None:
    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "got it"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with FakeTelegram() as tg:
            bot = make_bot(tg.base_url, tg.token)
            await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
            await bot.session.close()
            tg.inject_text(501, "hello")
            await tg.wait_for(lambda: len(tg.visible_messages(501)) == 1, 10)
            assert tg.visible_messages(501)[0].text == "got it"
            assert tg.pending_update_count == 0
    finally:
        await runner.cleanup()
