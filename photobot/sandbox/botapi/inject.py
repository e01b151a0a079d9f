"""Building the updates a user would cause: a text, a photo, an image sent as a file, an album, a
press on an inline button. Each is registered as Telegram would (the user and the chat become
known, files get file_ids that getFile and the download URL serve) and queued for the bot.
"""

from __future__ import annotations

import time
from typing import Any

from .media import NotAnImage, document_payload, image_size, photo_size_payload
from .state import Callback, State


def _message(
    state: State,
    user_id: int,
    *,
    chat_id: int | None,
    language_code: str | None,
    chat_type: str,
    first_name: str | None,
) -> dict[str, Any]:
    user = state.register_user(user_id, first_name, language_code)
    chat = state.register_chat(user, chat_id, chat_type)
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


def text(
    state: State,
    user_id: int,
    body: str,
    *,
    chat_id: int | None = None,
    language_code: str | None = "en",
    chat_type: str = "private",
    first_name: str | None = None,
) -> int:
    message = _message(
        state,
        user_id,
        chat_id=chat_id,
        language_code=language_code,
        chat_type=chat_type,
        first_name=first_name,
    )
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


def photo(
    state: State,
    user_id: int,
    image_bytes: bytes,
    caption: str | None = None,
    *,
    chat_id: int | None = None,
    language_code: str | None = "en",
    chat_type: str = "private",
    first_name: str | None = None,
    media_group_id: str | None = None,
) -> int:
    sizes = _photo_sizes(state, image_bytes)
    message = _message(
        state,
        user_id,
        chat_id=chat_id,
        language_code=language_code,
        chat_type=chat_type,
        first_name=first_name,
    )
    message["photo"] = sizes
    if caption is not None:
        message["caption"] = caption
    if media_group_id is not None:
        message["media_group_id"] = media_group_id
    return _remember(state, message)


def document(
    state: State,
    user_id: int,
    data: bytes,
    file_name: str,
    mime_type: str | None = None,
    *,
    caption: str | None = None,
    chat_id: int | None = None,
    language_code: str | None = "en",
    chat_type: str = "private",
    first_name: str | None = None,
) -> int:
    stored = state.files.add_document(data, file_name, mime_type)
    message = _message(
        state,
        user_id,
        chat_id=chat_id,
        language_code=language_code,
        chat_type=chat_type,
        first_name=first_name,
    )
    message["document"] = document_payload(stored)
    if caption is not None:
        message["caption"] = caption
    return _remember(state, message)


def album(
    state: State,
    user_id: int,
    images: list[bytes],
    caption: str | None = None,
    *,
    chat_id: int | None = None,
    language_code: str | None = "en",
    chat_type: str = "private",
    first_name: str | None = None,
) -> list[int]:
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
        photo(
            state,
            user_id,
            image,
            caption if index == 0 else None,
            chat_id=chat_id,
            language_code=language_code,
            chat_type=chat_type,
            first_name=first_name,
            media_group_id=group,
        )
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
    message = _message(state, user_id, chat_id=None, language_code=None, chat_type="private", first_name=None)
    message[kind] = body
    return _remember(state, message)
