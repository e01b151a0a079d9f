"""A VK message_new event read into what photobot needs: who, where, what text, which images.

Pure functions over VK 5.199's JSON, so they are tested without a server. The largest size of a
photo is chosen by width x height (VK lists small square crops after the largest, so the last
entry is not the largest); sizes VK reports without dimensions fall back to the order of VK's size
letters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from photobot.bot.i18n import pick_language
from photobot.bot.vk.adapter import is_group_chat

# client_info.lang_id -> a language code (VK: 0 ru, 1 uk, 2 be, 3 en, 97 kk, 114 ru-"pre-reform").
_LANG_IDS = {0: "ru", 1: "uk", 2: "be", 3: "en", 4: "es", 6: "de", 7: "it", 16: "fr", 97: "kk", 114: "ru"}
# VK's size letters from the smallest to the largest, for sizes given without width and height.
_SIZE_ORDER = "smopqrxyzw"
_IMAGE_EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
                     "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff", "gif": "image/gif"}
_COMMAND = re.compile(
    r"^\s*(?:\[(?:club|public)\d+\|[^\]]*\][,:]?\s*)?[/!]([A-Za-z_]{1,32})(?:@\S+)?(?:\s+(.*))?$", re.S
)


@dataclass(frozen=True)
class ImageRef:
    """One image of a message: where to download it and what to call it."""

    url: str
    filename: str
    mime: str = "image/jpeg"
    size: int | None = None
    as_document: bool = False


@dataclass(frozen=True)
class VKMessage:
    peer_id: int
    from_id: int
    message_id: int  # the id in a private chat, the conversation message id in a group chat
    text: str
    language: str
    payload: str | None = None
    images: list[ImageRef] = field(default_factory=list)
    other_attachments: list[str] = field(default_factory=list)
    sent_at: float | None = None  # Unix seconds: when the user sent it, as VK dates it

    @property
    def private(self) -> bool:
        return not is_group_chat(self.peer_id)


@dataclass(frozen=True)
class Command:
    name: str
    args: str


def parse_message(obj: dict[str, Any], default_language: str = "en") -> VKMessage | None:
    """The message of a message_new event's object, or None when it is not one photobot reads."""
    message = obj.get("message")
    if not isinstance(message, dict):
        return None
    try:
        peer_id = int(message["peer_id"])
        from_id = int(message["from_id"])
        ident = message.get("conversation_message_id") if is_group_chat(peer_id) else message.get("id")
        message_id = int(ident or 0)
    except (KeyError, TypeError, ValueError):
        return None
    if message_id <= 0:
        return None
    images: list[ImageRef] = []
    others: list[str] = []
    for attachment in message.get("attachments") or []:
        kind = str(attachment.get("type", "")) if isinstance(attachment, dict) else ""
        image = _image_of(kind, attachment.get(kind)) if kind else None
        if image is not None:
            images.append(image)
        else:
            others.append(kind or "unknown")
    client = obj.get("client_info")
    lang_id = client.get("lang_id") if isinstance(client, dict) else None
    code = _LANG_IDS.get(lang_id) if isinstance(lang_id, int) else None
    payload = message.get("payload")
    date = message.get("date")
    return VKMessage(
        peer_id=peer_id,
        from_id=from_id,
        message_id=message_id,
        text=str(message.get("text") or ""),
        language=pick_language(code, default_language),
        payload=payload if isinstance(payload, str) and payload else None,
        images=images,
        other_attachments=others,
        sent_at=float(date) if isinstance(date, int | float) and date > 0 else None,
    )


def _image_of(kind: str, body: Any) -> ImageRef | None:
    if not isinstance(body, dict):
        return None
    if kind == "photo":
        return _largest_photo(body)
    if kind == "doc":
        ext = str(body.get("ext", "")).lower()
        mime = _IMAGE_EXTENSIONS.get(ext)
        url = body.get("url")
        if mime is None or not isinstance(url, str):
            return None
        title = str(body.get("title") or f"doc{body.get('owner_id')}_{body.get('id')}.{ext}")[-128:]
        size = body.get("size")
        return ImageRef(url, title, mime, size if isinstance(size, int) else None, as_document=True)
    return None


def _largest_photo(photo: dict[str, Any]) -> ImageRef | None:
    sizes = [s for s in photo.get("sizes") or [] if isinstance(s, dict) and isinstance(s.get("url"), str)]
    if not sizes:
        return None

    def area(size: dict[str, Any]) -> tuple[int, int]:
        width, height = int(size.get("width") or 0), int(size.get("height") or 0)
        return width * height, _SIZE_ORDER.find(str(size.get("type", "")))

    best = max(sizes, key=area)
    name = f"vk{photo.get('owner_id')}_{photo.get('id')}.jpg"
    return ImageRef(str(best["url"]), name)


def parse_command(text: str) -> Command | None:
    """"/status abc", "!status abc", and "[club1|@bot] /status abc" in a group chat."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return Command(match.group(1).lower(), (match.group(2) or "").strip())


def parse_payload(raw: str) -> dict[str, Any] | None:
    """A button's payload as a JSON object, or None when it is not one."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
