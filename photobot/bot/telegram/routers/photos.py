"""Photos and image files: each becomes an `IncomingPhoto` for the service; other files are refused."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from aiogram import F, Router
from aiogram.types import Message

from photobot.bot.adapter import ChatAdapter
from photobot.bot.i18n import t
from photobot.bot.service import BotService, IncomingPhoto
from photobot.jobs import Platform
from photobot.users import UserRecord


def build() -> Router:
    router = Router(name="photos")

    @router.message(F.photo)
    async def on_photo(message: Message, *, service: BotService, user: UserRecord, lang: str) -> None:
        assert message.photo is not None
        size = message.photo[-1]  # the largest size Telegram made
        name = f"{size.file_unique_id}.jpg"
        file = _File(file_ref=size.file_id, filename=name, mime="image/jpeg", file_size=size.file_size)
        await service.accept_photo(_incoming(message, user, lang, file))

    @router.message(F.document.mime_type.startswith("image/"))
    async def on_image_file(message: Message, *, service: BotService, user: UserRecord, lang: str) -> None:
        document = message.document
        assert document is not None
        file = _File(
            file_ref=document.file_id,
            filename=(document.file_name or f"{document.file_unique_id}.img")[-128:],
            mime=document.mime_type or "application/octet-stream",
            file_size=document.file_size,
            as_document=True,
        )
        await service.accept_photo(_incoming(message, user, lang, file))

    @router.message(F.document | F.video | F.animation | F.sticker | F.audio | F.voice | F.video_note)
    async def on_other_file(message: Message, *, adapter: ChatAdapter, lang: str) -> None:
        await adapter.send_text(message.chat.id, t("not_image", lang), reply_to=message.message_id)

    return router


class _File(TypedDict):
    """The file's part of an IncomingPhoto, as Telegram describes a photo or an image file."""

    file_ref: str
    filename: str
    mime: str
    file_size: int | None
    as_document: NotRequired[bool]


def _incoming(message: Message, user: UserRecord, lang: str, file: _File) -> IncomingPhoto:
    """The photo for the service; Telegram's file id also sends it back without an upload."""
    return IncomingPhoto(
        platform=Platform.TELEGRAM, chat_id=message.chat.id, message_id=message.message_id, user=user,
        language=lang, caption=message.caption, album_id=message.media_group_id,
        resend_ref=file["file_ref"], **file,
    )
