"""The fake Telegram Bot API against the real aiogram Bot: if aiogram parses its answers into its
types and raises its own exceptions, photobot's end-to-end tests run against something that speaks
Telegram, not against a guess."""

from __future__ import annotations

import asyncio
import base64
import io
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
)
from aiohttp import web
from PIL import Image

from tests.fakes.telegram import FakeTelegram
from tests.fixtures.fakes import aiogram_bot


def make_image(
    width: int, height: int, color: tuple[int, int, int] = (200, 40, 40), fmt: str = "PNG"
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Sepia", callback_data="op:sepia")]]
)


async def test_get_me_and_a_wrong_token(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    me = await tg_bot.get_me()
    assert me.is_bot and me.id == int(async_tg.token.split(":")[0]) and me.username == "photobot_test_bot"
    stranger = aiogram_bot(async_tg, token="42:AAwrong-token-for-this-fake-server-000")
    with pytest.raises(TelegramUnauthorizedError):
        await stranger.get_me()
    await stranger.session.close()


async def test_injected_photo_reaches_the_bot_and_downloads(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    original = make_image(1600, 900)
    update_id = async_tg.inject_photo(7, original, caption="sepia", language_code="ru", first_name="Ann")
    updates = await tg_bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [update_id]
    message = updates[0].message
    assert message is not None and message.caption == "sepia"
    assert message.chat.id == 7 and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.language_code == "ru"
    assert message.from_user.first_name == "Ann"
    assert message.photo is not None
    widths = [size.width for size in message.photo]
    assert widths == sorted(widths) and widths[-1] == 1600 and message.photo[-1].height == 900
    assert message.photo[0].width == 90 and all(s.file_size for s in message.photo)
    file = await tg_bot.get_file(message.photo[-1].file_id)
    assert file.file_size == len(original) and file.file_path
    downloaded = await tg_bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == original
    thumb = await tg_bot.download(message.photo[0].file_id)
    assert thumb is not None and Image.open(thumb).size == (90, 51)


async def test_offset_confirms_and_drops_earlier_updates(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    first = async_tg.inject_text(1, "/start")
    second = async_tg.inject_text(1, "hello")
    assert async_tg.pending_update_count == 2
    assert [u.update_id for u in await tg_bot.get_updates()] == [first, second]
    assert [u.update_id for u in await tg_bot.get_updates()] == [first, second]  # not confirmed yet
    start = (await tg_bot.get_updates(limit=1))[0].message
    assert start is not None and start.text == "/start" and start.entities is not None
    assert [u.update_id for u in await tg_bot.get_updates(offset=second)] == [second]
    assert async_tg.confirmed_offset == second and async_tg.pending_update_count == 1
    assert await tg_bot.get_updates(offset=second + 1) == []
    assert async_tg.pending_update_count == 0


async def test_long_poll_wakes_on_inject(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async def inject_later() -> None:
        await asyncio.sleep(0.3)  # while the long poll is held
        async_tg.inject_text(5, "ping")

    started = time.monotonic()
    task = asyncio.create_task(inject_later())
    updates = await tg_bot.get_updates(timeout=20)
    elapsed = time.monotonic() - started
    await task
    assert len(updates) == 1 and 0.25 < elapsed < 2.0
    started = time.monotonic()
    assert await tg_bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9


async def test_send_photo_then_edit_media_shows_only_the_result(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.inject_photo(11, make_image(640, 480))
    user_photo = (await tg_bot.get_updates())[0].message
    assert user_photo is not None and user_photo.photo is not None
    status = await tg_bot.send_photo(
        11, user_photo.photo[-1].file_id, caption="queued, position 1", reply_markup=KEYBOARD
    )
    assert status.photo is not None and status.reply_markup is not None
    await tg_bot.edit_message_caption(chat_id=11, message_id=status.message_id, caption="processing")
    result_bytes = make_image(640, 480, (112, 66, 20), "JPEG")
    edited = await tg_bot.edit_message_media(
        chat_id=11,
        message_id=status.message_id,
        media=InputMediaPhoto(media=BufferedInputFile(result_bytes, "result.jpg"), caption="sepia: done"),
    )
    assert not isinstance(edited, bool) and edited.photo is not None and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await tg_bot.edit_message_caption(chat_id=11, message_id=status.message_id, caption="sepia: done")
    shown = async_tg.visible_messages(11)
    assert len(shown) == 1
    assert shown[0].kind == "photo" and shown[0].caption == "sepia: done" and shown[0].data == result_bytes
    assert shown[0].reply_markup is None  # an edit without reply_markup removes the keyboard
    assert [v.text for v in shown[0].versions] == ["queued, position 1", "processing", "sepia: done"]
    assert [v.method for v in shown[0].versions] == ["sendPhoto", "editMessageCaption", "editMessageMedia"]
    assert shown[0].versions[0].buttons() == [("Sepia", "op:sepia")]
    sends = [c for c in async_tg.calls("sendPhoto") if c.ok]
    assert len(sends) == 1 and sends[0].chat_id == 11 and sends[0].message_id == status.message_id


async def test_edit_media_as_document_by_upload_and_by_file_id(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.open_chat(12)
    text = await tg_bot.send_message(12, "<b>queued</b> &lt;1&gt;", parse_mode="HTML")
    assert text.text == "queued <1>"
    with pytest.raises(TelegramBadRequest, match="no media"):
        await tg_bot.edit_message_media(
            chat_id=12,
            message_id=text.message_id,
            media=InputMediaPhoto(media=BufferedInputFile(make_image(9, 9), "a")),
        )
    photo = await tg_bot.send_photo(12, BufferedInputFile(make_image(300, 200), "in.png"))
    blob = make_image(3000, 2000)
    doc = await tg_bot.edit_message_media(
        chat_id=12,
        message_id=photo.message_id,
        media=InputMediaDocument(media=BufferedInputFile(blob, "result.png"), caption="full quality"),
    )
    assert not isinstance(doc, bool) and doc.document is not None
    assert doc.document.file_name == "result.png" and doc.document.mime_type == "image/png"
    again = await tg_bot.send_document(12, doc.document.file_id)
    assert again.document is not None and again.document.file_unique_id == doc.document.file_unique_id
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await tg_bot.send_photo(12, doc.document.file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await tg_bot.send_photo(12, "no-such-file-id")
    assert [m.kind for m in async_tg.visible_messages(12)] == ["text", "document", "document"]
    assert async_tg.visible_messages(12)[1].data == blob


async def test_delete_and_text_edits(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.open_chat(13)
    sent = await tg_bot.send_message(13, "page 1", reply_markup=KEYBOARD)
    changed = await tg_bot.edit_message_text(
        "page 2", chat_id=13, message_id=sent.message_id, reply_markup=KEYBOARD
    )
    assert not isinstance(changed, bool) and changed.text == "page 2" and changed.reply_markup is not None
    assert changed.reply_markup.inline_keyboard[0][0].callback_data == "op:sepia"
    await tg_bot.edit_message_reply_markup(chat_id=13, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await tg_bot.edit_message_reply_markup(chat_id=13, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="no caption"):
        await tg_bot.edit_message_caption(chat_id=13, message_id=sent.message_id, caption="x")
    assert await tg_bot.delete_message(13, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await tg_bot.delete_message(13, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await tg_bot.edit_message_text("x", chat_id=13, message_id=sent.message_id)
    assert async_tg.visible_messages(13) == []
    assert [m.deleted for m in async_tg.messages(13)] == [True]
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await tg_bot.send_message(999, "nobody here")


async def test_retry_after_and_storm(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.open_chat(21)
    async_tg.open_chat(22)
    async_tg.fail_next("sendMessage", count=2, retry_after=1)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await tg_bot.send_message(21, "hi")
        assert caught.value.retry_after == 1
    # Telegram's flood wait: the chat is refused until retry_after has passed; other chats are not.
    with pytest.raises(TelegramRetryAfter) as caught:
        await tg_bot.send_chat_action(21, "typing")
    assert caught.value.retry_after == 1
    await tg_bot.send_message(22, "other chat")
    await asyncio.sleep(1.05)  # the flood wait's end
    await tg_bot.send_message(21, "hi")
    assert [c.status for c in async_tg.calls() if c.chat_id == 21] == [429, 429, 429, 200]
    async_tg.storm(0.5, retry_after=1, duration=30)
    outcomes = []
    for chat in range(100, 140):  # one call a chat, so no flood wait answers for the storm
        async_tg.open_chat(chat)
        try:
            await tg_bot.send_chat_action(chat, "upload_photo")
            outcomes.append(True)
        except TelegramRetryAfter:
            outcomes.append(False)
    assert 5 < outcomes.count(False) < 35
    assert await tg_bot.get_updates() == []  # getUpdates is spared unless named
    async_tg.calm()
    assert await tg_bot.send_chat_action(21, "typing")


async def test_blocked_user_and_unknown_method(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.open_chat(31)
    async_tg.block(31)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await tg_bot.send_message(31, "result")
    async_tg.unblock(31)
    await tg_bot.send_message(31, "result")
    async with aiohttp.ClientSession() as http:
        url = f"{async_tg.base_url}/bot{async_tg.token}/sendSticker"
        async with http.post(url, data={"chat_id": "31"}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        url = f"{async_tg.base_url}/bot{async_tg.token}/SENDMESSAGE"  # method names are case-insensitive
        async with http.post(url, json={"chat_id": 31, "text": "x"}) as r:
            assert (await r.json())["result"]["text"] == "x"
    base = f"{async_tg.base_url}/bot{{token}}/get{{method}}"
    session = AiohttpSession(api=TelegramAPIServer(base=base, file=""))
    misrouted = Bot(async_tg.token, session=session)
    with pytest.raises(TelegramNotFound):  # aiogram's own 404 path: "getgetMe" is no method
        await misrouted.get_me()
    await misrouted.session.close()


async def test_send_media_group(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.inject_text(41, "/faces", chat_id=-1001, chat_type="supergroup")
    faces = [make_image(120 + i, 120, (i * 40, 90, 90)) for i in range(3)]
    sent = await tg_bot.send_media_group(
        -1001,
        [
            InputMediaPhoto(media=BufferedInputFile(face, f"face{i}.png"), caption=f"face {i + 1}")
            for i, face in enumerate(faces)
        ],
    )
    assert len(sent) == 3 and len({m.media_group_id for m in sent}) == 1 and sent[0].media_group_id
    shown = async_tg.visible_messages(-1001)
    assert [m.data for m in shown] == faces and [m.caption for m in shown] == ["face 1", "face 2", "face 3"]
    with pytest.raises(TelegramBadRequest):
        await tg_bot.send_media_group(-1001, [InputMediaPhoto(media=sent[0].photo[-1].file_id)])  # type: ignore[index]


async def test_callback_query_and_commands(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.inject_photo(51, make_image(200, 200))
    await tg_bot.get_updates()
    photo = BufferedInputFile(make_image(200, 200), "p.png")
    status = await tg_bot.send_photo(51, photo, reply_markup=KEYBOARD)
    query_id = async_tg.inject_callback(51, status.message_id, "op:sepia")
    updates = await tg_bot.get_updates(allowed_updates=["message", "callback_query"])
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id and query.data == "op:sepia"
    assert query.message is not None and query.message.message_id == status.message_id
    assert await tg_bot.answer_callback_query(query_id, text="queued")
    answer = async_tg.callback_answer(query_id)
    assert answer == {"text": "queued", "show_alert": False, "url": None, "cache_time": 0}
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await tg_bot.answer_callback_query(query_id)
    commands = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="ops", description="Ops"),
    ]
    assert await tg_bot.set_my_commands(commands, language_code="en")
    listed = await tg_bot.get_my_commands(language_code="en")
    assert [(c.command, c.description) for c in listed] == [("start", "Start"), ("ops", "Ops")]
    assert await tg_bot.get_my_commands() == []
    assert [c["command"] for c in async_tg.commands("en")] == ["start", "ops"]


async def test_big_document_refused_by_get_file(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    async_tg.inject_document(61, b"\0" * (20 * 1024 * 1024 + 1), "huge.tif", "image/tiff")
    message = (await tg_bot.get_updates())[0].message
    assert message is not None and message.document is not None
    assert message.document.file_size == 20 * 1024 * 1024 + 1 and message.document.mime_type == "image/tiff"
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await tg_bot.get_file(message.document.file_id)


async def test_webhook_posts_updates_with_the_secret(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    received: list[tuple[str | None, int]] = []
    answers = [500, 200, 200]

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), update["update_id"]))
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        dropped = async_tg.inject_text(71, "sent while the bot was away")
        assert await tg_bot.set_webhook(
            f"http://127.0.0.1:{port}/tg", secret_token="s3cret", drop_pending_updates=True
        )
        first = async_tg.inject_text(71, "one")
        second = async_tg.inject_text(71, "two")
        await async_tg.wait_for(lambda: async_tg.pending_update_count == 0, timeout=5)
        assert received == [("s3cret", first), ("s3cret", first), ("s3cret", second)]
        assert dropped not in async_tg.update(first).values()
        info = await tg_bot.get_webhook_info()
        assert info.url.endswith("/tg") and info.pending_update_count == 0
        assert info.last_error_message is not None and "500" in info.last_error_message
        with pytest.raises(TelegramConflictError):
            await tg_bot.get_updates()
        assert await tg_bot.delete_webhook()
        third = async_tg.inject_text(71, "three")
        assert [u.update_id for u in await tg_bot.get_updates()] == [third]
    finally:
        await runner.cleanup()


async def test_http_side_door(async_tg: FakeTelegram, tg_bot: Bot) -> None:
    image = make_image(500, 400)
    async with aiohttp.ClientSession(base_url=async_tg.base_url) as http:
        async with http.post(
            "/_fake/inject/photo",
            json={
                "user_id": 81,
                "image_b64": base64.b64encode(image).decode(),
                "caption": "blur",
            },
        ) as resp:
            assert resp.status == 200
            update_id = (await resp.json())["update_id"]
        not_an_image = base64.b64encode(b"not an image").decode()
        async with http.post("/_fake/inject/photo", json={"user_id": 81, "image_b64": not_an_image}) as bad:
            assert bad.status == 400 and "inject_document" in (await bad.json())["error"]
        updates = await tg_bot.get_updates()
        assert [u.update_id for u in updates] == [update_id]
        photo = updates[0].message.photo  # type: ignore[union-attr]
        assert photo is not None
        waiter = asyncio.create_task(http.post("/_fake/wait_messages", json={"chat_id": 81, "kind": "photo"}))
        await asyncio.sleep(0.05)  # the waiter waits a while before the photo comes
        await tg_bot.send_photo(81, photo[-1].file_id, caption="queued")
        async with await waiter as resp:
            assert [m["current"]["text"] for m in await resp.json()] == ["queued"]
        async with http.get("/_fake/messages", params={"chat_id": "81", "visible": "1", "data": "1"}) as resp:
            shown = await resp.json()
            assert base64.b64decode(shown[0]["current"]["data_b64"]) == image
        async with http.post("/_fake/fail_next", json={"method": "sendMessage", "retry_after": 2}) as resp:
            assert resp.status == 200
        with pytest.raises(TelegramRetryAfter):
            await tg_bot.send_message(81, "x")
        async with http.get("/_fake/calls", params={"method": "sendMessage"}) as resp:
            assert [c["status"] for c in await resp.json()] == [429]
        async with http.get("/_fake/state") as resp:
            state = await resp.json()
            assert state["pending_update_count"] == 1 and state["token"] == async_tg.token
        async with http.post("/_fake/reset") as resp:
            assert resp.status == 200
    assert async_tg.calls() == [] and async_tg.pending_update_count == 0
