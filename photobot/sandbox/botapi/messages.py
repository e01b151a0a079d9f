"""The Bot API methods that put messages into chats or change them: sendMessage, sendPhoto,
sendDocument, sendMediaGroup, the four edits and deleteMessage.

Edits follow Telegram: an edit that changes nothing is refused with "message is not modified"; an
edit that does not pass reply_markup removes the inline keyboard; a text message cannot get a
caption and a photo cannot get a text. Every change appends a MessageVersion, so a test sees both
what is visible now and everything that was ever shown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from .media import NotAnImage, check_photo_upload
from .model import BotMessage, MessageVersion, StoredFile, bad_request
from .params import Params, Upload
from .state import State
from .text import caption_text, message_text

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)


class Messages:
    def __init__(self, state: State) -> None:
        self.state = state

    # --- files -----------------------------------------------------------------------------------

    async def input_file(self, params: Params, field: str, value: Any, kind: str) -> StoredFile:
        """The file a parameter names: an upload (the field itself, or attach://name) or a file_id."""
        upload: Upload | None = params.files.get(field) if field else None
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f'can\'t find attached file "{value}"')
        if upload is not None:
            return await self._store_upload(upload, kind)
        if not isinstance(value, str) or not value:
            raise bad_request(f"there is no {kind} in the request")
        stored = self.state.stored(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        if kind == "photo":
            sizes = self.state.files.photo_sizes(value) or [stored]
            return sizes[-1]
        return stored

    async def _store_upload(self, upload: Upload, kind: str) -> StoredFile:
        loop = asyncio.get_running_loop()
        if kind == "photo":
            await loop.run_in_executor(None, check_photo_upload, upload.data)
            try:
                sizes = await loop.run_in_executor(None, self.state.files.add_photo, upload.data)
            except NotAnImage:
                raise bad_request("IMAGE_PROCESS_FAILED") from None
            return sizes[-1]
        if not upload.data:
            raise bad_request("file must be non-empty")
        mime = upload.content_type if upload.content_type not in (None, "application/octet-stream") else None
        return self.state.files.add_document(upload.data, upload.filename, mime)

    # --- sending ---------------------------------------------------------------------------------

    def new_message(
        self, chat_id: int, version: MessageVersion, params: Params, group: str | None = None
    ) -> BotMessage:
        reply = params.obj("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        message = BotMessage(
            chat_id=chat_id,
            message_id=self.state.next_message_id(chat_id),
            date=int(time.time()),
            versions=[version],
            media_group_id=group,
            reply_to_message_id=reply_to or params.integer("reply_to_message_id"),
        )
        message.payload = self.state.message_payload(message)
        self.state.add_bot_message(message)
        return message

    async def send_message(self, method: str, params: Params) -> dict[str, Any]:
        chat = self.state.chat_for_bot(params.chat_id())
        text = message_text(params.string("text"), params.string("parse_mode"))
        version = MessageVersion("text", text, params.obj("reply_markup"), method, time.monotonic())
        return self.new_message(chat["id"], version, params).payload

    async def send_file(self, method: str, params: Params) -> dict[str, Any]:
        kind = "photo" if method == "sendPhoto" else "document"
        chat = self.state.chat_for_bot(params.chat_id())
        caption = caption_text(params.string("caption"), params.string("parse_mode"))
        stored = await self.input_file(params, kind, params.values.get(kind), kind)
        version = _media_version(kind, stored, caption, params.obj("reply_markup"), method)
        return self.new_message(chat["id"], version, params).payload

    async def send_media_group(self, method: str, params: Params) -> list[dict[str, Any]]:
        chat = self.state.chat_for_bot(params.chat_id())
        media = params.obj("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of media: a media group holds 2 to 10 items")
        kinds = {item.get("type") for item in media if isinstance(item, dict)}
        if not kinds <= {"photo", "document"}:
            raise bad_request("unsupported media type in the media group")
        if len(kinds) > 1:
            raise bad_request("document can't be mixed with another media types")
        versions = []
        for item in media:
            kind = item["type"]
            stored = await self.input_file(params, "", item.get("media"), kind)
            caption = caption_text(item.get("caption"), item.get("parse_mode"))
            versions.append(_media_version(kind, stored, caption, None, method))
        group = self.state.next_media_group_id()
        return [self.new_message(chat["id"], v, params, group).payload for v in versions]

    # --- editing ---------------------------------------------------------------------------------

    def _target(self, params: Params) -> BotMessage:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by this server")
        chat = self.state.chat_for_bot(params.chat_id())
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        return self.state.bot_message(chat["id"], message_id, "edit")

    def _apply(self, message: BotMessage, version: MessageVersion) -> dict[str, Any]:
        with self.state.lock:
            if version.same_content(message.current):
                raise bad_request(NOT_MODIFIED)
            message.versions.append(version)
            message.payload = self.state.message_payload(message)
            payload = message.payload
        self.state.notify()
        return payload

    async def edit_text(self, method: str, params: Params) -> dict[str, Any]:
        message = self._target(params)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text = message_text(params.string("text"), params.string("parse_mode"))
        return self._apply(message, _copy(message.current, text, params.obj("reply_markup"), method))

    async def edit_caption(self, method: str, params: Params) -> dict[str, Any]:
        message = self._target(params)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        caption = caption_text(params.string("caption"), params.string("parse_mode"))
        return self._apply(message, _copy(message.current, caption, params.obj("reply_markup"), method))

    async def edit_reply_markup(self, method: str, params: Params) -> dict[str, Any]:
        message = self._target(params)
        current = message.current
        return self._apply(message, _copy(current, current.text, params.obj("reply_markup"), method))

    async def edit_media(self, method: str, params: Params) -> dict[str, Any]:
        message = self._target(params)
        media = params.obj("media")
        if not isinstance(media, dict) or media.get("type") not in {"photo", "document"}:
            raise bad_request("media must be an InputMediaPhoto or InputMediaDocument")
        if message.kind == "text":
            raise bad_request("there is no media in the message to edit")
        kind = media["type"]
        stored = await self.input_file(params, "", media.get("media"), kind)
        caption = caption_text(media.get("caption"), media.get("parse_mode"))
        version = _media_version(kind, stored, caption, params.obj("reply_markup"), method)
        return self._apply(message, version)

    async def delete(self, method: str, params: Params) -> bool:
        chat = self.state.chat_for_bot(params.chat_id())
        message_id = params.integer("message_id")
        with self.state.lock:
            incoming = self.state.user_messages.get(chat["id"], {})
            if message_id in incoming:
                del incoming[message_id]
                return True
            message = self.state.bot_messages.get(chat["id"], {}).get(message_id or 0)
            if message is None or message.deleted:
                raise bad_request("message to delete not found")
            message.deleted = True
            message.deleted_at = time.monotonic()
        self.state.notify()
        return True


def _media_version(
    kind: str, stored: StoredFile, caption: str | None, markup: dict[str, Any] | None, method: str
) -> MessageVersion:
    return MessageVersion(
        kind="photo" if kind == "photo" else "document",
        text=caption,
        reply_markup=markup,
        method=method,
        at=time.monotonic(),
        file_id=stored.file_id,
        file_unique_id=stored.file_unique_id,
        data=stored.data,
        file_name=stored.file_name,
        mime_type=stored.mime_type,
        width=stored.width,
        height=stored.height,
    )


def _copy(
    current: MessageVersion, text: str | None, markup: dict[str, Any] | None, method: str
) -> MessageVersion:
    """The current version with another text (or caption) and keyboard: what an edit of them makes."""
    return dataclasses.replace(current, text=text, reply_markup=markup, method=method, at=time.monotonic())
