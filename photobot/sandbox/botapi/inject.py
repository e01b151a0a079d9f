"""Building the updates a user would cause: a text, a photo, an image sent as a file, an album, a
press on an inline button. Each is registered as Telegram would (the user and the chat become
known, files get file_ids that getFile and the download URL serve) and queued for the bot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypedDict

from .media import NotAnImage, document_payload, image_size, photo_size_payload
from .state import Callback, State


@dataclass(frozen=True)
class Sender:
    """Who causes an update, and where: the user, in their private chat unless ``chat_id`` names
    another (a group, with ``chat_type``), with their app's language and first name."""

    user_id: int
    chat_id: int | None = None
    language_code: str | None = "en"
    chat_type: str = "private"
    first_name: str | None = None


class SenderOptions(TypedDict, total=False):
    """The keyword arguments of Sender past the user id, as FakeTelegram's inject methods take them."""

    chat_id: int | None
    language_code: str | None
    chat_type: str
    first_name: str | None


def _message(state: State, sender: Sender) -> dict[str, Any]:
    user = state.register_user(sender.user_id, sender.first_name, sender.language_code)
    chat = state.register_chat(user, sender.chat_id, sender.chat_type)
    return {
        "message_id": state.next_message_id(chat["id"]),
        "from": user,
        "chat": chat,
        "date": int(time.time()),
    }


def _remember(state: State, message: dict[str, Any]) -> int:
    with state.lock:
        state.user_messages.setdefault(message["chat"]["id"], {})[message["message_id"]] = message
    return state.push_update("message", message)


def text(state: State, sender: Sender, body: str) -> int:
    message = _message(state, sender)
    message["text"] = body
    if body.startswith("/"):
        command = body.split(maxsplit=1)[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return _remember(state, message)


def _photo_sizes(state: State, image_bytes: bytes) -> list[dict[str, Any]]:
    try:
        sizes = state.files.add_photo(image_bytes)
    except NotAnImage as exc:
        raise ValueError(
            f"Telegram only delivers photos it could decode ({exc}); send other bytes with inject_document"
        ) from None
    return [photo_size_payload(size) for size in sizes]


def photo(state: State, sender: Sender, image: bytes, caption: str | None, group: str | None = None) -> int:
    """A photo, in the album ``group`` if one is given."""
    message = _message(state, sender) | {"photo": _photo_sizes(state, image)}
    if group is not None:
        message["media_group_id"] = group
    return _remember(state, _captioned(message, caption))


def document(state: State, sender: Sender, file: tuple[bytes, str, str | None], caption: str | None) -> int:
    """Any bytes sent as a file: ``file`` is (data, file name, MIME type or None)."""
    stored = state.files.add_document(*file)
    message = _message(state, sender) | {"document": document_payload(stored)}
    return _remember(state, _captioned(message, caption))


def _captioned(message: dict[str, Any], caption: str | None) -> dict[str, Any]:
    if caption is not None:
        message["caption"] = caption
    return message


def album(state: State, sender: Sender, images: list[bytes], caption: str | None = None) -> list[int]:
    """One update per photo, sharing a media_group_id; the caption rides on the first, as when a
    user captions an album in the app."""
    if not 2 <= len(images) <= 10:
        raise ValueError("an album holds 2 to 10 photos")
    for index, image in enumerate(images):  # refuse the whole album before queueing any of it
        try:
            image_size(image)
        except NotAnImage as exc:
            raise ValueError(f"album photo {index} is not an image: {exc}") from None
    group = state.next_media_group_id()
    return [
        photo(state, sender, image, caption if index == 0 else None, group)
        for index, image in enumerate(images)
    ]


def callback(state: State, user_id: int, message_id: int, data: str, *, chat_id: int | None = None) -> str:
    """A press on an inline button of the bot's message ``message_id``; returns the query id that
    the bot must answer with answerCallbackQuery."""
    chat = user_id if chat_id is None else chat_id
    with state.lock:
        message = state.bot_messages.get(chat, {}).get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"the bot has no visible message {message_id} in chat {chat}")
        user = state.users.get(user_id) or state.register_user(user_id, None, "en")
        query_id = state.next_callback_id(user_id)
        state.callbacks[query_id] = Callback(query_id, user_id, chat, message_id, data)
        query = {
            "id": query_id,
            "from": dict(user),
            "message": state.message_payload(message),
            "chat_instance": str(abs(hash((chat, state.bot_id)))),
            "data": data,
        }
    state.push_update("callback_query", query)
    return query_id


def service_message(state: State, user_id: int, kind: str, body: dict[str, Any]) -> int:
    """A service message in the user's private chat that Telegram writes (successful_payment,
    refunded_payment): from the user, with `kind` set to `body`."""
    message = _message(state, Sender(user_id, language_code=None))
    message[kind] = body
    return _remember(state, message)
