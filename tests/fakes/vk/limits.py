"""VK's documented limits, enforced by the fake before a method changes anything.

Each limit names the dev.vk.com page it comes from. The fake is at least as strict as VK: where the
documentation gives a limit, a request over it is refused with VK's error, never let through.
"""

from __future__ import annotations

import io
import json
from typing import Any

from PIL import Image

from .errors import ApiError, invalid

# https://dev.vk.com/ru/api/bots/development/keyboard: an inline keyboard is at most 5 x 6 with at
# most 10 buttons; a standard one at most 5 x 10 with at most 40. A label is at most 40 characters,
# a payload at most 255. Any error in the keyboard is error 911 "Keyboard format is invalid".
INLINE_ROWS, INLINE_BUTTONS = 6, 10
STANDARD_ROWS, STANDARD_BUTTONS = 10, 40
ROW_BUTTONS = 5
LABEL_MAX = 40
PAYLOAD_MAX = 255
BUTTON_TYPES = frozenset({"text", "callback", "open_link", "location", "vkpay", "open_app"})
LABELLED_TYPES = frozenset({"text", "callback", "open_link", "open_app"})

# https://dev.vk.com/ru/api/api-requests: a community token may make 20 requests a second; more is
# error 6 "Too many requests per second".
COMMUNITY_RATE = 20

# https://dev.vk.com/ru/method/messages.edit: a message older than 24 hours cannot be edited
# (error 909 "Can't edit this message, because it's too old").
EDIT_WINDOW_SECONDS = 24 * 3600

# https://dev.vk.com/ru/method/messages.send: message text at most 4096 characters (longer: error
# 914 "Message is too long"); at most 10 attachments.
MESSAGE_MAX = 4096
ATTACHMENTS_MAX = 10

# https://dev.vk.com/ru/api/upload/photo-in-message: JPG, PNG or GIF; at most 50 MB; width plus
# height at most 14000 px; the sides in a ratio of at most 1:20.
PHOTO_FORMATS = frozenset({"JPEG", "PNG", "GIF"})
PHOTO_MAX_BYTES = 50 * 1024 * 1024
PHOTO_MAX_SIDES = 14000
PHOTO_MAX_RATIO = 20

# https://dev.vk.com/ru/api/upload/document-in-message and https://dev.vk.com/ru/method/docs.save:
# a document is at most 200 MB and not an executable.
DOC_MAX_BYTES = 200 * 1024 * 1024
DOC_FORBIDDEN_EXTENSIONS = frozenset({"exe", "com", "bat", "cmd", "scr", "msi", "apk", "vbs", "js", "jar"})


def _bad_keyboard(why: str) -> ApiError:
    return ApiError(911, f"Keyboard format is invalid: {why}")


def check_keyboard(raw: str | None) -> dict[str, Any] | None:
    """The keyboard of messages.send or messages.edit as VK checks it; None when none was passed."""
    if raw is None or raw == "":
        return None
    try:
        keyboard = json.loads(raw)
    except ValueError:
        raise _bad_keyboard("invalid json") from None
    if not isinstance(keyboard, dict) or not isinstance(keyboard.get("buttons"), list):
        raise _bad_keyboard("buttons is required")
    rows = keyboard["buttons"]
    inline = bool(keyboard.get("inline"))
    if inline and keyboard.get("one_time"):
        raise _bad_keyboard("one_time is not supported by an inline keyboard")
    max_rows, max_buttons = (INLINE_ROWS, INLINE_BUTTONS) if inline else (STANDARD_ROWS, STANDARD_BUTTONS)
    if len(rows) > max_rows:
        raise _bad_keyboard(f"too many rows: {len(rows)} > {max_rows}")
    total = 0
    for row in rows:
        if not isinstance(row, list) or not row:
            raise _bad_keyboard("a row must be a non-empty array")
        if len(row) > ROW_BUTTONS:
            raise _bad_keyboard(f"too many buttons in a row: {len(row)} > {ROW_BUTTONS}")
        total += len(row)
        for button in row:
            _check_button(button)
    if total > max_buttons:
        raise _bad_keyboard(f"too many buttons: {total} > {max_buttons}")
    return keyboard


def _check_button(button: Any) -> None:
    action = button.get("action") if isinstance(button, dict) else None
    if not isinstance(action, dict) or action.get("type") not in BUTTON_TYPES:
        raise _bad_keyboard("button action type is invalid")
    label = action.get("label")
    if action["type"] in LABELLED_TYPES and (not isinstance(label, str) or not label):
        raise _bad_keyboard("button label is required")
    if isinstance(label, str) and len(label) > LABEL_MAX:
        raise _bad_keyboard(f"button label is longer than {LABEL_MAX} characters")
    payload = action.get("payload")
    if payload is not None:
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        if len(text) > PAYLOAD_MAX:
            raise _bad_keyboard(f"button payload is longer than {PAYLOAD_MAX} characters")


def check_message(text: str, attachments: list[str]) -> None:
    """Text and attachments of messages.send and messages.edit."""
    if len(text) > MESSAGE_MAX:
        raise ApiError(914, "Message is too long")
    if len(attachments) > ATTACHMENTS_MAX:
        raise invalid("attachment")
    if not text and not attachments:
        raise invalid("message")


def photo_problem(data: bytes) -> str | None:
    """Why VK's upload server would refuse these bytes as a photo, or None."""
    if len(data) > PHOTO_MAX_BYTES:
        return "the file is larger than 50 MB"
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt, (width, height) = image.format, image.size
    except Exception:  # anything Pillow cannot read is not a photo
        return "the file is not an image"
    if fmt not in PHOTO_FORMATS:
        return f"{fmt} is not JPG, PNG or GIF"
    if width + height > PHOTO_MAX_SIDES:
        return "width plus height is above 14000 px"
    if max(width, height) > PHOTO_MAX_RATIO * min(width, height):
        return "the sides are in a ratio above 1:20"
    return None


def doc_problem(filename: str, data: bytes) -> str | None:
    """Why VK's upload server would refuse this file as a document, or None."""
    if not data:
        return "the file is empty"
    if len(data) > DOC_MAX_BYTES:
        return "the file is larger than 200 MB"
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in DOC_FORBIDDEN_EXTENSIONS:
        return f"files of type {extension} are not allowed"
    return None
