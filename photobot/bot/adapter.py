"""The small platform-neutral interface between photobot and a chat platform.

The bot service, the worker's delivery step and every command talk to a `ChatAdapter`; Telegram
implements it with aiogram, VK with vkbottle. Platform failures come out as the few errors below,
so the callers decide "retry", "give up" or "send anew" without knowing the platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from photobot.jobs import Platform, TransientJobError


@dataclass(frozen=True)
class OutImage:
    """An image to upload: bytes with a file name and type; `as_document` keeps full quality."""

    data: bytes
    filename: str
    mime: str = "image/jpeg"
    as_document: bool = False


@dataclass(frozen=True)
class RemoteFile:
    """A file the platform already has (Telegram's file_id), sent again without uploading."""

    ref: str
    as_document: bool = False


@dataclass(frozen=True)
class Button:
    """A choice under a message; the adapter turns it into its platform's keyboard."""

    text: str
    action: str  # "op" an operation choice, "ops_page" a page of operations, "jobs" a page of /jobs
    value: str


@dataclass(frozen=True)
class Keyboard:
    """Rows of buttons; `subject` is the user's message the choice is about, when there is one."""

    rows: Sequence[Sequence[Button]] = field(default_factory=tuple)
    subject: int | None = None


class ChatError(Exception):
    """Base of what a chat platform can answer badly."""


class RecipientUnavailable(ChatError):
    """The user blocked the bot or left the chat: retrying cannot help, delivery ends."""


class MessageGone(ChatError):
    """The message to edit no longer exists (the user deleted it)."""


class RequestRejected(ChatError):
    """The platform refused the request as malformed (a bad file, a caption too long)."""


class ChatUnavailable(ChatError, TransientJobError):
    """The platform is unreachable or keeps asking to slow down: try again later."""

    code: ClassVar[str] = "chat_unavailable"


@runtime_checkable
class ChatAdapter(Protocol):
    """What photobot needs of a chat platform. Message ids are the platform's integers."""

    platform: Platform

    async def send_text(
        self, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: Keyboard | None = None
    ) -> int: ...

    async def send_photo(
        self,
        chat_id: int,
        photo: OutImage | RemoteFile,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> int: ...

    async def send_album(
        self, chat_id: int, images: Sequence[OutImage], *, reply_to: int | None = None
    ) -> list[int]: ...

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None: ...

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: Keyboard | None = None
    ) -> None: ...

    async def edit_media(self, chat_id: int, message_id: int, image: OutImage, *, caption: str) -> None: ...

    async def download(self, file_ref: str) -> bytes: ...
