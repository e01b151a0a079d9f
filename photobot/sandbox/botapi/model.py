"""The records the fake keeps and hands to tests: what the bot sent (with every version of every
message), what it called, and the files it can serve.

They are plain dataclasses so that a test reads them without knowing anything of HTTP. The fake
copies them under its lock before handing them out, so a test never sees one half-updated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

MediaKind = Literal["text", "photo", "document", "invoice"]


class ApiError(Exception):
    """An answer with ok=false, shaped as Telegram shapes it (error_code, description, parameters)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass
class StoredFile:
    """One file Telegram would hold: a photo size or a document. ``data`` is served by getFile."""

    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document"]
    data: bytes
    file_path: str
    width: int = 0
    height: int = 0
    file_name: str | None = None
    mime_type: str | None = None
    group: str = ""  # file_unique_id of the largest size: the sizes of one photo share it

    @property
    def file_size(self) -> int:
        return len(self.data)


@dataclass
class MessageVersion:
    """The content of a bot message at one moment: as sent, or after one edit.

    ``data`` is the byte content of the photo (its largest size) or document, so a test can decode
    the result image; ``text`` is the message text or the caption, as Telegram renders it (HTML tags
    of parse_mode=HTML removed)."""

    kind: MediaKind
    text: str | None
    reply_markup: dict[str, Any] | None
    method: str
    at: float  # time.monotonic() of the call that made this version
    file_id: str | None = None
    file_unique_id: str | None = None
    data: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0
    invoice: dict[str, Any] | None = None  # an invoice message: title, description, currency, total

    @property
    def caption(self) -> str | None:
        return None if self.kind == "text" else self.text

    def buttons(self) -> list[tuple[str, str | None]]:
        """The inline keyboard as (text, callback_data) pairs, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [(button.get("text", ""), button.get("callback_data")) for row in rows for button in row]

    def same_content(self, other: MessageVersion) -> bool:
        """True when an edit from ``other`` to this changes nothing Telegram would show."""
        return (
            self.kind == other.kind
            and self.text == other.text
            and self.reply_markup == other.reply_markup
            and self.file_unique_id == other.file_unique_id
        )


@dataclass
class BotMessage:
    """A message the bot sent into a chat, with its full history of versions (oldest first)."""

    chat_id: int
    message_id: int
    date: int
    versions: list[MessageVersion]
    deleted: bool = False
    deleted_at: float | None = None
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)  # the current Message object, as Telegram sends it

    @property
    def current(self) -> MessageVersion:
        return self.versions[-1]

    @property
    def kind(self) -> MediaKind:
        return self.current.kind

    @property
    def text(self) -> str | None:
        """The text of a text message or the caption of a media message."""
        return self.current.text

    @property
    def caption(self) -> str | None:
        return self.current.caption

    @property
    def data(self) -> bytes | None:
        return self.current.data

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        return self.current.reply_markup

    @property
    def edited(self) -> bool:
        return len(self.versions) > 1

    def buttons(self) -> list[tuple[str, str | None]]:
        return self.current.buttons()

    def snapshot(self) -> BotMessage:
        """A copy a test can keep while the bot goes on editing the original (bytes are shared)."""
        return BotMessage(
            chat_id=self.chat_id,
            message_id=self.message_id,
            date=self.date,
            versions=list(self.versions),
            deleted=self.deleted,
            deleted_at=self.deleted_at,
            media_group_id=self.media_group_id,
            reply_to_message_id=self.reply_to_message_id,
            payload=copy.deepcopy(self.payload),
        )

    def describe(self, with_data: bool = False) -> dict[str, Any]:
        """JSON-ready view for the HTTP side door; bytes as base64 only when asked."""
        import base64

        def version(v: MessageVersion) -> dict[str, Any]:
            out: dict[str, Any] = {
                "kind": v.kind,
                "text": v.text,
                "reply_markup": v.reply_markup,
                "method": v.method,
                "at": v.at,
                "file_id": v.file_id,
                "file_name": v.file_name,
                "mime_type": v.mime_type,
                "width": v.width,
                "height": v.height,
                "size": len(v.data) if v.data is not None else None,
            }
            if with_data and v.data is not None:
                out["data_b64"] = base64.b64encode(v.data).decode()
            return out

        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "deleted": self.deleted,
            "media_group_id": self.media_group_id,
            "reply_to_message_id": self.reply_to_message_id,
            "edited": self.edited,
            "current": version(self.current),
            "versions": [version(v) for v in self.versions],
        }


@dataclass(frozen=True)
class CallRecord:
    """One Bot API call as the fake saw it. ``status`` is the HTTP status of the answer, so a test
    that counts results sent filters on ``ok`` (429s and other refusals are logged too)."""

    method: str
    chat_id: int | str | None
    at: float  # time.monotonic() when the request arrived
    status: int
    params: dict[str, Any]  # the scalar parameters; uploaded files appear as "<N bytes>"
    message_id: int | None = None
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "chat_id": self.chat_id,
            "at": self.at,
            "status": self.status,
            "ok": self.ok,
            "params": self.params,
            "message_id": self.message_id,
            "description": self.description,
        }
