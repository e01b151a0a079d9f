"""The fake VK is at least as strict as VK: each documented limit of a method photobot calls is
refused with VK's error, through the real vkbottle. The dev.vk.com page of each limit is named
beside it in tests/fakes/vk/limits.py.

Bad inputs tried: keyboards one button, one row, one column, one label character and one payload
character over the limit, one_time on an inline keyboard, a text one character too long, eleven
attachments, no random_id, an edit of the user's own message, photos of a refused format, ratio and
size, executables and empty files as documents, a forged document attachment, a send to a group
chat the community is not in."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from PIL import Image
from vkbottle import API, VKAPIError
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader

from tests.fakes.vk import FakeVK
from tests.fakes.vk.limits import doc_problem, photo_problem

pytestmark = pytest.mark.timeout(60)


def picture(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def keyboard(rows: list[int], *, inline: bool = True, label: str = "op", payload: Any = None) -> str:
    """A keyboard whose row i has rows[i] text buttons."""
    button = {"action": {"type": "text", "label": label, "payload": payload or {"op": "x"}}}
    return json.dumps({"inline": inline, "buttons": [[button] * n for n in rows]})


async def send(api: API, **params: Any) -> Any:
    return await api.request("messages.send", {"peer_id": 42, "random_id": 0, "message": "m", **params})


@pytest.mark.parametrize(
    "rows",
    [[5, 5], [2, 2, 2, 2, 1, 1], [1] * 6],
    ids=["10 buttons", "10 in 6 rows", "6 rows"],
)
async def test_inline_keyboards_within_limits_are_accepted(vk_client: API, rows: list[int]) -> None:
    await send(vk_client, keyboard=keyboard(rows))


@pytest.mark.parametrize(
    "rows",
    [[5, 5, 1], [6], [1] * 7, [2, 2, 2, 2, 2, 1]],
    ids=["11 buttons", "6 in a row", "7 rows", "11 in 6 rows"],
)
async def test_inline_keyboards_over_limits_are_error_911(
    async_vk: FakeVK, vk_client: API, rows: list[int]
) -> None:
    with pytest.raises(VKAPIError[911]):
        await send(vk_client, keyboard=keyboard(rows))
    assert async_vk.visible_messages(42) == []


async def test_standard_keyboard_limits_and_button_fields(vk_client: API) -> None:
    await send(vk_client, keyboard=keyboard([4] * 10, inline=False))  # 40 buttons, 10 rows
    for bad in (
        keyboard([5] * 9, inline=False),  # 45 buttons
        keyboard([1] * 11, inline=False),  # 11 rows
        keyboard([1], label="x" * 41),
        keyboard([1], label=""),
        keyboard([1], payload="p" * 256),
        keyboard([1], payload={"k": "v" * 250}),
        json.dumps({"inline": True, "one_time": True,
                    "buttons": [[{"action": {"type": "text", "label": "a"}}]]}),
        json.dumps({"inline": True, "buttons": [[{"action": {"type": "teleport", "label": "a"}}]]}),
        json.dumps({"inline": True}),
        "{not json",
    ):
        with pytest.raises(VKAPIError[911]):
            await send(vk_client, keyboard=bad)
    await send(vk_client, keyboard=keyboard([1], label="x" * 40, payload="p" * 255))


async def test_text_of_4096_is_sent_and_4097_is_error_914(async_vk: FakeVK, vk_client: API) -> None:
    await send(vk_client, message="я" * 4096)
    with pytest.raises(VKAPIError[914]):
        await send(vk_client, message="я" * 4097)
    message_id = async_vk.visible_messages(42)[0].id
    with pytest.raises(VKAPIError[914]):
        too_long = {"peer_id": 42, "message_id": message_id, "message": "x" * 4097}
        await vk_client.request("messages.edit", too_long)


async def test_at_most_ten_attachments(async_vk: FakeVK, vk_client: API) -> None:
    attachment = await PhotoMessageUploader(vk_client).upload(picture((10, 10)), peer_id=42)
    await send(vk_client, attachment=",".join([attachment] * 10))
    with pytest.raises(VKAPIError[100]):
        await send(vk_client, attachment=",".join([attachment] * 11))


async def test_random_id_is_required(vk_client: API) -> None:
    with pytest.raises(VKAPIError[100]):
        await vk_client.request("messages.send", {"peer_id": 42, "message": "m"})


async def test_edit_only_the_communitys_own_messages(async_vk: FakeVK, vk_client: API) -> None:
    sent = async_vk.inject_text(42, "mine")
    with pytest.raises(VKAPIError[15]):
        edit = {"peer_id": 42, "message_id": sent["id"], "message": "yours"}
        await vk_client.request("messages.edit", edit)


def test_photo_upload_limits() -> None:
    assert photo_problem(picture((100, 100), "JPEG")) is None
    assert photo_problem(picture((100, 100), "GIF", "P")) is None
    assert photo_problem(picture((100, 100), "BMP")) is not None  # not JPG, PNG or GIF
    assert photo_problem(picture((100, 100), "TIFF")) is not None
    assert photo_problem(picture((10, 201))) is not None  # sides beyond 1:20
    assert photo_problem(picture((10, 200))) is None
    assert photo_problem(picture((7001, 7000), mode="1")) is not None  # width + height > 14000
    assert photo_problem(b"not an image") is not None
    assert photo_problem(b"\0" * (50 * 1024 * 1024 + 1)) is not None


async def test_a_refused_photo_upload_cannot_be_saved(vk_client: API) -> None:
    with pytest.raises(VKAPIError[100]):
        await PhotoMessageUploader(vk_client).upload(picture((10, 300)), peer_id=42)


def test_document_upload_limits() -> None:
    assert doc_problem("result.png", b"png") is None
    assert doc_problem("setup.EXE", b"MZ") is not None
    assert doc_problem("empty.txt", b"") is not None
    assert doc_problem("big.bin", b"\0" * (200 * 1024 * 1024 + 1)) is not None


async def test_a_document_goes_out_and_comes_back_as_bytes(async_vk: FakeVK, vk_client: API) -> None:
    data = picture((30, 20))
    attachment = await DocMessagesUploader(vk_client).upload(data, peer_id=42, title="result.png")
    assert attachment.startswith(f"doc-{async_vk.group_id}_")
    await send(vk_client, attachment=attachment, message="done")
    [shown] = async_vk.visible_messages(42)
    assert shown.documents == (("result.png", data),)
    [message] = (await vk_client.request("messages.getById", {"message_ids": shown.id}))["response"]["items"]
    [doc] = [a["doc"] for a in message["attachments"]]
    assert (doc["ext"], doc["type"], doc["size"]) == ("png", 4, len(data))
    assert await vk_client.http_client.request_content(doc["url"]) == data


async def test_refused_and_forged_documents(async_vk: FakeVK, vk_client: API) -> None:
    with pytest.raises(VKAPIError[100]):
        await DocMessagesUploader(vk_client).upload(b"MZ", peer_id=42, title="tool.exe")
    with pytest.raises(VKAPIError[100]):
        await vk_client.request("docs.getMessagesUploadServer", {"type": "doc"})  # no peer_id
    with pytest.raises(VKAPIError[100]):
        await vk_client.request("docs.save", {"file": "made-up"})
    users = async_vk.inject_document(42, "cat.png", picture((5, 5)))
    doc = users["attachments"][0]["doc"]
    with pytest.raises(VKAPIError[100]):  # someone else's document without its access key
        await send(vk_client, attachment=f"doc{doc['owner_id']}_{doc['id']}")
    await send(vk_client, attachment=f"doc{doc['owner_id']}_{doc['id']}_{doc['access_key']}")


async def test_group_chats_the_community_is_not_in_are_error_917(async_vk: FakeVK, vk_client: API) -> None:
    chat = 2_000_000_007
    with pytest.raises(VKAPIError[917]):
        await vk_client.request("messages.send", {"peer_id": chat, "random_id": 0, "message": "hi"})
    async_vk.inject_text(42, "hello all", peer_id=chat)
    await vk_client.request("messages.send", {"peer_id": chat, "random_id": 0, "message": "hi"})
    async_vk.remove_from_chat(chat)
    with pytest.raises(VKAPIError[917]):
        await vk_client.request("messages.send", {"peer_id": chat, "random_id": 0, "message": "hi"})


async def test_messages_older_than_a_day_cannot_be_edited(async_vk: FakeVK, vk_client: API) -> None:
    message_id = (await send(vk_client, random_id=5))["response"]
    async_vk.state.messages[message_id].date -= 24 * 3600 + 1
    with pytest.raises(VKAPIError[909]):
        await vk_client.request("messages.edit", {"peer_id": 42, "message_id": message_id, "message": "late"})


async def test_more_than_20_calls_in_a_second_is_error_6_by_default(async_vk: FakeVK, vk_client: API) -> None:
    outcomes = await asyncio.gather(
        *(send(vk_client, random_id=100 + i) for i in range(25)), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, VKAPIError)]
    assert len(refused) == 5 and all(e.code == 6 for e in refused)
