"""`ChatAdapter` for a VK community, on vkbottle's API and its messages photo and document uploaders.

What differs from Telegram, and how it is bridged here:
- Message ids: in a private chat a message is known by its id; in a group chat (peer id above
  2000000000) a community sees only conversation message ids, so those are the ids there. Sends go
  through `peer_ids`, whose answer carries both.
- One message may carry up to ten photos, while the service knows one photo per message id: photo
  `i` of message `m` is `photo_key(m, i)` (m itself for the first), and `message_ref` strips the
  part again wherever a message is addressed (reply_to).
- No duplicate sends: every messages.send carries a random_id, which VK deduplicates for an hour.
  It is derived from what makes the send unique (the peer, the message it answers, the files it
  uploads, whose names carry the job id), so a job or an update handled again after a crash sends
  nothing new; it is also the same on the API's own retries.
- An image the user sent as a file (full quality) goes back as a document
  (docs.getMessagesUploadServer, docs.save), and so does a result too large for a photo.
- messages.edit replaces the whole message: an edit of the caption passes the photo (or document)
  again. The attachment of a status message is remembered here, and asked of VK
  (messages.getById) after a restart.
- VK errors become the adapter's: 900/901/902 -> RecipientUnavailable (no retries), an edit of a
  message that is gone or too old -> MessageGone, VK's "slow down" past the API's patience and
  network failures -> ChatUnavailable (transient), anything else -> RequestRejected.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

from aiohttp import ClientError
from vkbottle import Keyboard as VKKeyboard
from vkbottle import Text
from vkbottle.exception_factory import VKAPIError
from vkbottle.tools import DocMessagesUploader, PhotoMessageUploader

from photobot.bot.adapter import (
    ChatUnavailable,
    Keyboard,
    MessageGone,
    OutImage,
    RecipientUnavailable,
    RemoteFile,
    RequestRejected,
)
from photobot.bot.keyboard import PAGE_ACTION
from photobot.bot.vk.api import PoliteAPI, VKUnavailable, error_code
from photobot.jobs import Platform

T = TypeVar("T")

CHAT_PEER_BASE = 2_000_000_000
PART_SHIFT = 1 << 40  # photo i of a message: message id + i * PART_SHIFT
UNREACHABLE_CODES = frozenset({900, 901, 902})
EDIT_GONE_CODES = frozenset({15, 100, 909})
LABEL_MAX = 40  # https://dev.vk.com/ru/api/bots/development/keyboard
TEXT_MAX = 4096  # https://dev.vk.com/ru/method/messages.send (longer: error 914)
_REMEMBERED = 4096


def is_group_chat(peer_id: int) -> bool:
    return peer_id > CHAT_PEER_BASE


def photo_key(message_id: int, index: int) -> int:
    """The id the service knows photo `index` of a VK message by."""
    return message_id + index * PART_SHIFT


def message_ref(key: int) -> int:
    """The VK message a (possibly composite) photo key belongs to."""
    return key % PART_SHIFT


def markup(keyboard: Keyboard | None) -> str | None:
    """The neutral keyboard as a VK inline keyboard. A button cannot tell which message it sits
    under, so the buttons of an operations keyboard name its photo (`subject`) in their payload."""
    if keyboard is None:
        return None
    vk = VKKeyboard(inline=True)
    rows = [row for row in keyboard.rows if row]
    for index, row in enumerate(rows):
        for button in row:
            payload: dict[str, Any]
            if button.action == "op":
                payload = {"op": button.value}
            elif button.action == PAGE_ACTION:
                payload = {"ops": int(button.value)}
            elif button.action == "jobs":
                payload = {"jobs": int(button.value)}
            else:
                raise ValueError(f"unknown button action {button.action!r}")
            if button.action != "jobs" and keyboard.subject is not None:
                payload["m"] = keyboard.subject
            vk.add(Text(button.text[:LABEL_MAX], payload=payload))
        if index < len(rows) - 1:
            vk.row()
    return vk.get_json() if rows else None


def random_id(peer_id: int, *parts: object) -> int:
    """A non-zero 31-bit random_id that is the same for the same send."""
    digest = hashlib.blake2b(repr((peer_id, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1) + 1


class VKAdapter:
    """Sends, edits and downloads for one community through a `PoliteAPI`."""

    platform = Platform.VK

    def __init__(self, api: PoliteAPI, group_id: int) -> None:
        self.api = api
        self.group_id = group_id
        self.uploader = PhotoMessageUploader(api)
        self.doc_uploader = DocMessagesUploader(api)
        self._photos: OrderedDict[tuple[int, int], str] = OrderedDict()

    # --- sending ---------------------------------------------------------------------------------
    async def send_text(
        self, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: Keyboard | None = None
    ) -> int:
        # A reply is unique by what it answers and says; other notices are not deduplicated.
        rid = random_id(chat_id, "text", reply_to, text) if reply_to is not None else _fresh_random_id()
        return await self._send(chat_id, rid, message=text, reply_to=reply_to, keyboard=markup(keyboard))

    async def send_photo(
        self,
        chat_id: int,
        photo: OutImage | RemoteFile,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> int:
        if isinstance(photo, RemoteFile):
            attachment, identity = photo.ref, photo.ref
        else:
            attachment, identity = await self._upload(chat_id, photo), photo.filename
        rid = random_id(chat_id, "photo", reply_to, identity)
        message_id = await self._send(
            chat_id,
            rid,
            message=caption or "",
            attachment=attachment,
            reply_to=reply_to,
            keyboard=markup(keyboard),
        )
        self._remember(chat_id, message_id, attachment)
        return message_id

    async def send_album(
        self, chat_id: int, images: Sequence[OutImage], *, reply_to: int | None = None
    ) -> list[int]:
        """Up to ten photos (or documents) as the attachments of one message."""
        attachments = [await self._upload(chat_id, image) for image in images]
        rid = random_id(chat_id, "album", reply_to, tuple(image.filename for image in images))
        message_id = await self._send(chat_id, rid, attachment=",".join(attachments), reply_to=reply_to)
        return [message_id]

    # --- editing ---------------------------------------------------------------------------------
    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        await self._edit(chat_id, message_id, message=text, keyboard=markup(keyboard))

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: Keyboard | None = None
    ) -> None:
        attachment = await self._attachment_of(chat_id, message_id)
        await self._edit(
            chat_id, message_id, message=caption, attachment=attachment, keyboard=markup(keyboard)
        )

    async def edit_media(self, chat_id: int, message_id: int, image: OutImage, *, caption: str) -> None:
        attachment = await self._upload(chat_id, image)
        await self._edit(chat_id, message_id, message=caption, attachment=attachment)
        self._remember(chat_id, message_id, attachment)

    async def download(self, file_ref: str) -> bytes:
        """A photo's bytes from its URL (the largest size of a user's photo)."""
        try:
            async with self.api.client.request(file_ref, "GET") as response:
                if response.status != 200:
                    raise RequestRejected(f"VK answered {response.status} for a photo")
                return await response.read()
        except (ClientError, TimeoutError) as error:
            raise ChatUnavailable(f"photo download failed: {error!r}") from error

    # --- the calls ---------------------------------------------------------------------------------
    async def _send(
        self, peer_id: int, rid: int, *, reply_to: int | None = None, **fields: str | None
    ) -> int:
        params: dict[str, Any] = {"peer_ids": str(peer_id), "random_id": rid, "dont_parse_links": 1}
        params.update({key: _clip(key, value) for key, value in fields.items() if value is not None})
        if reply_to is not None:
            target = message_ref(reply_to)
            if is_group_chat(peer_id):
                forward = {"peer_id": peer_id, "conversation_message_ids": [target], "is_reply": True}
                params["forward"] = json.dumps(forward)
            else:
                params["reply_to"] = target
        response = await _call(self.api.request("messages.send", params))
        items = response.get("response")
        if not isinstance(items, list) or not items or not isinstance(items[0], dict):
            raise RequestRejected(f"unexpected messages.send answer: {items!r}"[:200])
        item = items[0]
        problem = item.get("error")
        if isinstance(problem, dict):
            code = problem.get("code")
            if code in UNREACHABLE_CODES:
                raise RecipientUnavailable(str(problem.get("description") or code))
            raise RequestRejected(str(problem.get("description") or code))
        key = "conversation_message_id" if is_group_chat(peer_id) else "message_id"
        return int(item[key])

    async def _edit(self, peer_id: int, message_id: int, **fields: str | None) -> None:
        params: dict[str, Any] = {"peer_id": peer_id, "keep_forward_messages": 1, "dont_parse_links": 1}
        params["conversation_message_id" if is_group_chat(peer_id) else "message_id"] = message_id
        params.update({key: _clip(key, value) for key, value in fields.items() if value is not None})
        try:
            await _call(self.api.request("messages.edit", params))
        except RequestRejected as error:
            if isinstance(error.__cause__, VKAPIError) and error_code(error.__cause__) in EDIT_GONE_CODES:
                raise MessageGone(str(error)) from error.__cause__
            raise

    async def _upload(self, peer_id: int, image: OutImage) -> str:
        """A photo through the messages photo uploader; a document (full quality, or too large
        for a photo) through docs.getMessagesUploadServer and docs.save."""
        if image.as_document:
            upload = self.doc_uploader.upload(image.data, peer_id=peer_id, title=image.filename)
        else:
            upload = self.uploader.upload(image.data, peer_id=peer_id)
        attachment: str = await _call(upload)
        return attachment

    async def _attachment_of(self, peer_id: int, message_id: int) -> str | None:
        """The photo a status message shows, so that an edit of its caption keeps it."""
        known = self._photos.get((peer_id, message_id))
        if known is not None:
            return known
        if is_group_chat(peer_id):
            method = "messages.getByConversationMessageId"
            params: dict[str, Any] = {"peer_id": peer_id, "conversation_message_ids": message_id}
        else:
            method, params = "messages.getById", {"message_ids": message_id}
        response = await _call(self.api.request(method, params))
        items = (response.get("response") or {}).get("items") or []
        if not items:
            raise MessageGone(f"message {message_id} not found")
        files = [
            _attachment_string(a["type"], a[a["type"]])
            for a in items[0].get("attachments") or []
            if a.get("type") in ("photo", "doc")
        ]
        attachment = ",".join(files) or None
        if attachment is not None:
            self._remember(peer_id, message_id, attachment)
        return attachment

    def _remember(self, peer_id: int, message_id: int, attachment: str) -> None:
        self._photos[(peer_id, message_id)] = attachment
        self._photos.move_to_end((peer_id, message_id))
        while len(self._photos) > _REMEMBERED:
            self._photos.popitem(last=False)


def _attachment_string(kind: str, body: dict[str, Any]) -> str:
    text = f"{kind}{body['owner_id']}_{body['id']}"
    return f"{text}_{body['access_key']}" if body.get("access_key") else text


def _clip(field: str, value: str) -> str:
    """A message text VK would refuse as too long, cut to its limit."""
    if field == "message" and len(value) > TEXT_MAX:
        return value[: TEXT_MAX - 1] + "…"
    return value


def _fresh_random_id() -> int:
    return secrets.randbelow(2**31 - 2) + 1


async def _call(awaitable: Awaitable[T]) -> T:
    """Await one VK call, translating vkbottle's errors into the adapter's."""
    try:
        return await awaitable
    except VKUnavailable as error:
        raise ChatUnavailable(str(error)) from error
    except VKAPIError as error:
        if error_code(error) in UNREACHABLE_CODES:
            raise RecipientUnavailable(error.error_msg) from error
        raise RequestRejected(f"VK error {error_code(error)}: {error.error_msg}") from error
    except (ClientError, TimeoutError) as error:
        raise ChatUnavailable(repr(error)) from error
