"""Photos and image files: each becomes an `IncomingPhoto` for the service; other files are refused."""

from __future__ import annotations

from dataclasses import dataclass

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
        file = _File(size.file_id, f"{size.file_unique_id}.jpg", "image/jpeg", size.file_size, False)
        await service.accept_photo(_incoming(message, file, user, lang))

    @router.message(F.document.mime_type.startswith("image/"))
    async def on_image_file(message: Message, *, service: BotService, user: UserRecord, lang: str) -> None:
        document = message.document
        assert document is not None
        name = (document.file_name or f"{document.file_unique_id}.img")[-128:]
        mime = document.mime_type or "application/octet-stream"
        file = _File(document.file_id, name, mime, document.file_size, True)
        await service.accept_photo(_incoming(message, file, user, lang))

    @router.message(F.document | F.video | F.animation | F.sticker | F.audio | F.voice | F.video_note)
    async def on_other_file(message: Message, *, adapter: ChatAdapter, lang: str) -> None:
        await adapter.send_text(message.chat.id, t("not_image", lang), reply_to=message.message_id)

    return router


@dataclass(frozen=True)
class _File:
    file_id: str
    name: str
    mime: str
    size: int | None
    as_document: bool


def _incoming(message: Message, file: _File, user: UserRecord, lang: str) -> IncomingPhoto:
    return IncomingPhoto(
        platform=Platform.TELEGRAM,
        chat_id=message.chat.id,
        message_id=message.message_id,
        user=user,
        language=lang,
        file_ref=file.file_id,
        filename=file.name,
        mime=file.mime,
        file_size=file.size,
        as_document=file.as_document,
        caption=message.caption,
        album_id=message.media_group_id,
        resend_ref=file.file_id,
    )
