"""The fake VK against the real vkbottle: its API object, its Bots Long Poll and its photo
uploader talk HTTP to tests.fakes.vk exactly as they would to api.vk.ru."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
from PIL import Image
from vkbottle import API, Bot, Keyboard, Text, VKAPIError
from vkbottle.bot import Message
from vkbottle.tools import PhotoMessageUploader

from tests.fakes.vk import FakeVK
from tests.fixtures.fakes import vk_api

pytestmark = pytest.mark.timeout(60)


def image(width: int = 1280, height: int = 960, color: str = "red", fmt: str = "PNG") -> bytes:
    """A real image with a gradient, so reductions differ from the original."""
    picture = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture.paste(Image.new("RGB", (width // 4, height // 4), color))
    out = io.BytesIO()
    picture.save(out, fmt)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # vkbottle's BotPolling saves its ts under ./.vkbottle/ of the working directory.
    monkeypatch.chdir(tmp_path)


@asynccontextmanager
async def running_bot(
    vk: FakeVK, api: API, handler: Callable[[Message], Awaitable[Any]]
) -> AsyncIterator[Bot]:
    """A vkbottle Bot on Bots Long Poll, polling the fake until the block ends."""
    bot = Bot(api=api)
    bot.on.message()(handler)
    polls_before = len(vk.calls("longpoll"))
    task = asyncio.create_task(bot.run_polling())
    try:
        await vk.wait_for(lambda: len(vk.calls("longpoll")) > polls_before, timeout=10)
        yield bot
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_messages_send_is_answered_and_logged(async_vk: FakeVK, vk_client: API) -> None:
    message_id = await vk_client.messages.send(peer_id=42, message="hello", random_id=7)

    assert isinstance(message_id, int) and message_id > 0
    [shown] = async_vk.visible_messages(42)
    assert (shown.id, shown.text, shown.photos, shown.edits) == (message_id, "hello", (), 0)
    [call] = async_vk.calls("messages.send")
    assert call.peer_id == 42 and call.error_code is None
    assert "access_token" not in call.params and call.params["v"] == API.API_VERSION


async def test_random_id_makes_send_idempotent(async_vk: FakeVK, vk_client: API) -> None:
    first = await vk_client.messages.send(peer_id=42, message="result", random_id=555)
    again = await vk_client.messages.send(peer_id=42, message="result", random_id=555)
    other = await vk_client.messages.send(peer_id=42, message="result", random_id=556)
    await vk_client.messages.send(peer_id=42, message="no dedup", random_id=0)
    await vk_client.messages.send(peer_id=42, message="no dedup", random_id=0)

    assert first == again != other
    assert [m.text for m in async_vk.visible_messages(42)] == ["result", "result", "no dedup", "no dedup"]


async def test_peer_ids_form_answers_a_list(async_vk: FakeVK, vk_client: API) -> None:
    async_vk.deny_messages(43)
    # vkbottle types the answer as for peer_id (an int); with peer_ids it is a list of items.
    items = cast(list[Any], await vk_client.messages.send(peer_ids=[42, 43], message="hi", random_id=1))

    assert [(i.peer_id, i.error is None) for i in items] == [(42, True), (43, False)]
    assert items[1].error is not None and items[1].error.code == 901
    assert items[0].conversation_message_id == async_vk.visible_messages(42)[0].conversation_message_id


async def test_wrong_token_is_error_5(async_vk: FakeVK) -> None:
    api = vk_api(async_vk, token="not-the-token")
    with pytest.raises(VKAPIError[5]):
        await api.messages.send(peer_id=42, message="hi", random_id=1)
    await api.http_client.close()
    assert async_vk.visible_messages(42) == []


async def test_missing_or_bad_parameters_are_error_100(async_vk: FakeVK, vk_client: API) -> None:
    with pytest.raises(VKAPIError[100]):
        await vk_client.request("messages.send", {"peer_id": 42, "message": "no random_id"})
    with pytest.raises(VKAPIError[100]):
        await vk_client.messages.send(peer_id=42, message="", random_id=1)
    with pytest.raises(VKAPIError[100]):
        await vk_client.messages.send(peer_id=42, attachment="photo-1_999", random_id=2)
    with pytest.raises(VKAPIError[3]):
        await vk_client.request("messages.nonexistent", {})
    assert async_vk.visible_messages(42) == []
    assert [c.error_code for c in async_vk.calls()] == [100, 100, 100, 3]


async def test_long_poll_delivers_a_photo_whose_largest_size_is_the_original(
    async_vk: FakeVK, vk_client: API
) -> None:
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    sent = image(1280, 960)
    async with running_bot(async_vk, vk_client, handler):
        async_vk.set_user(77, lang_id=3)
        async_vk.inject_photo(77, sent, text="sepia")
        await async_vk.wait_for(lambda: len(received) == 1, timeout=10)

    message = received[0]
    assert (message.from_id, message.peer_id, message.text) == (77, 77, "sepia")
    assert message.client_info is not None and message.client_info.lang_id == 3
    [photo] = message.get_photo_attachments() or []
    largest = max(photo.sizes or [], key=lambda s: s.width * s.height)
    assert (largest.width, largest.height) == (1280, 960)
    assert photo.sizes and photo.sizes[-1] != largest  # the last size listed is a small crop, as on VK
    assert largest.url is not None
    assert await vk_client.http_client.request_content(largest.url) == sent
    small = min(photo.sizes, key=lambda s: s.width)
    assert small.url is not None
    with Image.open(io.BytesIO(await vk_client.http_client.request_content(small.url))) as reduced:
        assert reduced.size == (small.width, small.height)


async def test_several_photos_and_a_button_press(async_vk: FakeVK, vk_client: API) -> None:
    received: list[Message] = []

    async def handler(message: Message) -> None:
        received.append(message)

    images = [image(300, 200, c) for c in ("red", "green", "blue")]
    async with running_bot(async_vk, vk_client, handler):
        async_vk.inject_photos(5, images, text="faces")
        async_vk.inject_payload(5, {"op": "blur"}, text="Blur")
        await async_vk.wait_for(lambda: len(received) == 2, timeout=10)

    album, press = sorted(received, key=lambda m: m.id)
    photos = album.get_photo_attachments() or []
    assert len(photos) == 3
    downloaded = [
        await vk_client.http_client.request_content(max(p.sizes or [], key=lambda s: s.width).url or "")
        for p in photos
    ]
    assert downloaded == images
    assert press.get_payload_json() == {"op": "blur"} and press.text == "Blur"
    assert press.conversation_message_id == album.conversation_message_id + 1


async def test_uploaded_photo_is_visible_in_the_chat(async_vk: FakeVK, vk_client: API) -> None:
    result = image(640, 480, "blue", "JPEG")
    attachment = await PhotoMessageUploader(vk_client).upload(result, peer_id=42)
    keyboard = Keyboard(inline=True).add(Text("Again", payload={"op": "again"})).get_json()

    assert attachment.startswith(f"photo-{async_vk.group_id}_")
    await vk_client.messages.send(
        peer_id=42, message="done", attachment=attachment, keyboard=keyboard, random_id=3
    )

    [shown] = async_vk.visible_messages(42)
    assert shown.photos == (result,) and shown.attachments == (attachment,)
    assert shown.keyboard is not None and shown.keyboard["inline"] is True
    assert shown.keyboard["buttons"][0][0]["action"]["payload"] == {"op": "again"}
    assert async_vk.photo_bytes(attachment) == result


async def test_upload_of_something_that_is_not_an_image_cannot_be_saved(
    async_vk: FakeVK, vk_client: API
) -> None:
    with pytest.raises(VKAPIError[100]):
        await PhotoMessageUploader(vk_client).upload(b"%PDF-1.4 not a photo", peer_id=42)


async def test_edit_changes_what_the_user_sees(async_vk: FakeVK, vk_client: API) -> None:
    original = image(200, 200, "green")
    attachment = await PhotoMessageUploader(vk_client).upload(original, peer_id=42)
    message_id = await vk_client.messages.send(
        peer_id=42, message="queued, position 3", attachment=attachment, random_id=11
    )
    cmid = async_vk.visible_messages(42)[0].conversation_message_id

    await vk_client.messages.edit(
        peer_id=42, conversation_message_id=cmid, message="processing", attachment=attachment
    )
    result = image(200, 200, "blue", "JPEG")
    result_attachment = await PhotoMessageUploader(vk_client).upload(result, peer_id=42)
    await vk_client.messages.edit(
        peer_id=42, message_id=message_id, message="done", attachment=result_attachment
    )

    [shown] = async_vk.visible_messages(42)
    assert (shown.text, shown.photos, shown.edits) == ("done", (result,), 2)
    [message] = async_vk.messages(42)
    assert [r.text for r in message.history] == ["queued, position 3", "processing", "done"]
    await vk_client.messages.edit(peer_id=42, message_id=message_id, message="text only")
    assert async_vk.visible_messages(42)[0].photos == ()  # VK drops attachments not passed again
    with pytest.raises(VKAPIError[100]):
        await vk_client.messages.edit(peer_id=42, message_id=message_id + 100, message="nope")


async def test_error_6_on_a_switch_surfaces_as_vkapierror(async_vk: FakeVK, vk_client: API) -> None:
    async_vk.fail_next("messages.send", count=2)
    for _ in range(2):
        with pytest.raises(VKAPIError[6]) as caught:
            await vk_client.messages.send(peer_id=42, message="hi", random_id=1)
        assert caught.value.code == 6 and "Too many requests" in caught.value.error_msg
    await vk_client.messages.send(peer_id=42, message="hi", random_id=1)
    assert [c.error_code for c in async_vk.calls("messages.send")] == [6, 6, None]
    assert len(async_vk.visible_messages(42)) == 1


async def test_rate_mode_refuses_calls_beyond_n_per_second(async_vk: FakeVK, vk_client: API) -> None:
    async_vk.set_rate_limit(5)
    outcomes = await asyncio.gather(
        *(vk_client.messages.send(peer_id=42, message=str(i), random_id=i + 1) for i in range(8)),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, VKAPIError)]
    assert len(refused) == 3 and all(e.code == 6 for e in refused)
    assert len(async_vk.visible_messages(42)) == 5
    await asyncio.sleep(1.05)  # the one-second window passes
    await vk_client.messages.send(peer_id=42, message="later", random_id=100)


async def test_users_who_did_not_allow_messages_get_error_901(async_vk: FakeVK, vk_client: API) -> None:
    async_vk.deny_messages(9)
    with pytest.raises(VKAPIError[901]):
        await vk_client.messages.send(peer_id=9, message="result", random_id=1)
    async_vk.allow_messages(9)
    await vk_client.messages.send(peer_id=9, message="result", random_id=1)
    assert [m.text for m in async_vk.visible_messages(9)] == ["result"]


@pytest.mark.parametrize(("code", "new_servers"), [(1, 0), (2, 1), (3, 1)])
async def test_long_poll_failures_are_survived(
    async_vk: FakeVK, vk_client: API, code: int, new_servers: int
) -> None:
    received: list[str] = []

    async def handler(message: Message) -> None:
        received.append(message.text)

    async with running_bot(async_vk, vk_client, handler):
        servers = len(async_vk.calls("groups.getLongPollServer"))
        key = async_vk.state.longpoll_key
        async_vk.fail_long_poll(code)
        await async_vk.wait_for(lambda: not async_vk.state.longpoll_failures, timeout=10)
        async_vk.inject_text(3, "after the failure")
        await async_vk.wait_for(lambda: received == ["after the failure"], timeout=10)
        assert len(async_vk.calls("groups.getLongPollServer")) - servers == new_servers
        assert (async_vk.state.longpoll_key != key) == (code != 1)


async def test_http_side_door(async_vk: FakeVK, vk_client: API) -> None:
    photo = image(100, 80)
    async with aiohttp.ClientSession(async_vk.base_url) as http:
        info = await (await http.get("/_fake/info")).json()
        assert info == {
            "base_url": async_vk.base_url,
            "api_url": async_vk.api_url,
            "token": async_vk.token,
            "group_id": async_vk.group_id,
        }
        sent = await (
            await http.post(
                "/_fake/inject_photo",
                json={"user_id": 8, "image": base64.b64encode(photo).decode(), "text": "hi"},
            )
        ).json()
        sizes = sent["attachments"][0]["photo"]["sizes"]
        url = max(sizes, key=lambda s: s["width"])["url"]
        assert await (await http.get(url)).read() == photo
        await http.post("/_fake/fail_next", json={"method": "messages.send", "code": 10})
        with pytest.raises(VKAPIError[10]):
            await vk_client.messages.send(peer_id=8, message="x", random_id=1)
        await vk_client.messages.send(peer_id=8, message="x", random_id=1)
        visible = await (await http.get("/_fake/visible_messages", params={"peer_id": 8})).json()
        assert [m["text"] for m in visible] == ["x"]
        calls = await (await http.get("/_fake/calls", params={"method": "messages.send"})).json()
        assert [c["error_code"] for c in calls] == [10, None]
        await http.post("/_fake/reset")
    assert async_vk.calls("messages.send") == [] and async_vk.visible_messages(8) == []


def test_run_in_thread_serves_synchronous_callers() -> None:
    with FakeVK.run_in_thread() as vk:
        query = urllib.parse.urlencode(
            {"access_token": vk.token, "v": "5.199", "peer_id": 4, "message": "sync", "random_id": 9}
        )
        with urllib.request.urlopen(f"{vk.api_url}messages.send", data=query.encode()) as reply:
            assert json.load(reply) == {"response": 1}
        vk.wait_for_sync(lambda: len(vk.visible_messages(4)) == 1, timeout=5)
        with pytest.raises(TimeoutError):
            vk.wait_for_sync(lambda: len(vk.visible_messages(4)) == 2, timeout=0.3)


def test_command_line_server_prints_where_it_listens() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.vk", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        with urllib.request.urlopen(f"{info['base_url']}/_fake/info") as reply:
            assert json.load(reply) == info
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


async def test_stop_and_start_again_keeps_port_and_state(async_vk: FakeVK, vk_client: API) -> None:
    await vk_client.messages.send(peer_id=42, message="before", random_id=1)
    port = async_vk.port
    await async_vk.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        await vk_client.messages.send(peer_id=42, message="during", random_id=2)
    await async_vk.start()
    await vk_client.messages.send(peer_id=42, message="after", random_id=3)
    assert async_vk.port == port
    assert [m.text for m in async_vk.visible_messages(42)] == ["before", "after"]
