"""Photos and image files: each becomes an `IncomingPhoto` for the service; other files are refused."""

from __future__ import annotations

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
        await service.accept_photo(
            IncomingPhoto(
                platform=Platform.TELEGRAM,
                chat_id=message.chat.id,
                message_id=message.message_id,
                user=user,
                language=lang,
                file_ref=size.file_id,
                filename=f"{size.file_unique_id}.jpg",
                mime="image/jpeg",
                file_size=size.file_size,
                caption=message.caption,
                album_id=message.media_group_id,
                resend_ref=size.file_id,
            )
        )

    @router.message(F.document.mime_type.startswith("image/"))
    async def on_image_file(message: Message, *, service: BotService, user: UserRecord, lang: str) -> None:
        document = message.document
        assert document is not None
        await service.accept_photo(
            IncomingPhoto(
                platform=Platform.TELEGRAM,
                chat_id=message.chat.id,
                message_id=message.message_id,
                user=user,
                language=lang,
                file_ref=document.file_id,
                filename=(document.file_name or f"{document.file_unique_id}.img")[-128:],
                mime=document.mime_type or "application/octet-stream",
                file_size=document.file_size,
                as_document=True,
                caption=message.caption,
                album_id=message.media_group_id,
                resend_ref=document.file_id,
            )
        )

    @router.message(F.document | F.video | F.animation | F.sticker | F.audio | F.voice | F.video_note)
    async def on_other_file(message: Message, *, adapter: ChatAdapter, lang: str) -> None:
        await adapter.send_text(message.chat.id, t("not_image", lang), reply_to=message.message_id)

    return router
