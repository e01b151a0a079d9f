"""`ChatAdapter` for Telegram on an aiogram `Bot` (whose session carries the rate limiter).

aiogram's exceptions become the adapter's few errors: 403 -> RecipientUnavailable, "message to
edit not found" -> MessageGone, network trouble or retry_after beyond the limiter's patience ->
ChatUnavailable (transient), other 400s -> RequestRejected. "Message is not modified" is success:
an edit that runs again after a crash finds its work already done.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)

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
from photobot.bot.telegram.callbacks import JobsPage, OpChoice, OpsPage
from photobot.jobs import Platform

T = TypeVar("T")


class FileTooLarge(RequestRejected):
    """Telegram will not hand the file to bots (over the Bot API's download limit)."""


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """The platform-neutral keyboard as inline buttons with CallbackData payloads."""
    if keyboard is None:
        return None
    rows = []
    for row in keyboard.rows:
        buttons = []
        for button in row:
            if button.action == "op":
                data = OpChoice(op=button.value).pack()
            elif button.action == PAGE_ACTION:
                data = OpsPage(page=int(button.value)).pack()
            elif button.action == "jobs":
                data = JobsPage(offset=int(button.value)).pack()
            else:
                raise ValueError(f"unknown button action {button.action!r}")
            buttons.append(InlineKeyboardButton(text=button.text, callback_data=data))
        if buttons:
            rows.append(buttons)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _reply(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


def _upload(image: OutImage) -> BufferedInputFile:
    return BufferedInputFile(image.data, filename=image.filename)


class TelegramAdapter:
    """Sends, edits and downloads through one aiogram Bot."""

    platform = Platform.TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(
        self, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: Keyboard | None = None
    ) -> int:
        message = await _call(
            self.bot.send_message(
                chat_id, text, reply_parameters=_reply(reply_to), reply_markup=markup(keyboard)
            )
        )
        return message.message_id

    async def send_photo(
        self,
        chat_id: int,
        photo: OutImage | RemoteFile,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> int:
        media = photo.ref if isinstance(photo, RemoteFile) else _upload(photo)
        send = self.bot.send_document if photo.as_document else self.bot.send_photo
        sent = send(
            chat_id, media, caption=caption, reply_parameters=_reply(reply_to), reply_markup=markup(keyboard)
        )
        message: Message = await _call(sent)
        return message.message_id

    async def send_album(
        self, chat_id: int, images: Sequence[OutImage], *, reply_to: int | None = None
    ) -> list[int]:
        # An album is all photos or all documents.
        as_documents = any(image.as_document for image in images)
        media: list[InputMediaPhoto | InputMediaDocument] = [
            InputMediaDocument(media=_upload(image))
            if as_documents
            else InputMediaPhoto(media=_upload(image))
            for image in images
        ]
        messages = await _call(
            self.bot.send_media_group(chat_id, media=media, reply_parameters=_reply(reply_to))  # type: ignore[arg-type]
        )
        return [message.message_id for message in messages]

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        await _call(
            self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup(keyboard)
            )
        )

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: Keyboard | None = None
    ) -> None:
        await _call(
            self.bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=caption, reply_markup=markup(keyboard)
            )
        )

    async def edit_media(self, chat_id: int, message_id: int, image: OutImage, *, caption: str) -> None:
        media: InputMediaPhoto | InputMediaDocument = (
            InputMediaDocument(media=_upload(image), caption=caption)
            if image.as_document
            else InputMediaPhoto(media=_upload(image), caption=caption)
        )
        await _call(self.bot.edit_message_media(media=media, chat_id=chat_id, message_id=message_id))

    async def download(self, file_ref: str) -> bytes:
        file = await _call(self.bot.get_file(file_ref))
        if not file.file_path:
            raise RequestRejected("Telegram gave no file path")
        buffer = io.BytesIO()
        await _call(self.bot.download_file(file.file_path, destination=buffer))
        return buffer.getvalue()


async def _call(awaitable: Awaitable[T]) -> T:
    """Await one Bot API call, translating aiogram's errors into the adapter's."""
    try:
        return await awaitable
    except TelegramForbiddenError as error:
        raise RecipientUnavailable(str(error)) from error
    except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as error:
        raise ChatUnavailable(str(error)) from error
    except TelegramBadRequest as error:
        text = error.message.lower()
        if "message is not modified" in text:
            return None  # type: ignore[return-value]
        if (
            "message to edit not found" in text
            or "message_id_invalid" in text
            or "message can't be edited" in text
        ):
            raise MessageGone(error.message) from error
        if "file is too big" in text:
            raise FileTooLarge(error.message) from error
        if "chat not found" in text or "bot was kicked" in text or "user is deactivated" in text:
            raise RecipientUnavailable(error.message) from error
        raise RequestRejected(error.message) from error
    except TelegramNotFound as error:
        raise RecipientUnavailable(error.message) from error
    except TelegramAPIError as error:
        raise RequestRejected(error.message) from error
