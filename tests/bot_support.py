"""A recording ChatAdapter for service and pipeline tests (a unit seam: the end-to-end tests use
real aiogram against the fake Bot API instead), and a helper that builds the chat-side parts with
photobot's own builders: a real Redis, the real queue, local storage and the real image processor."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from photobot import builders
from photobot.bot.adapter import Keyboard, OutImage, RemoteFile
from photobot.bot.commands import Commands
from photobot.bot.pipeline import JobPipeline
from photobot.bot.service import BotService
from photobot.builders import Platforms
from photobot.config import Settings
from photobot.jobs import Platform
from photobot.queue import JobContext, JobQueue
from photobot.retention import Retention
from photobot.users import UserStore


@dataclass
class Sent:
    kind: str
    chat_id: int
    message_id: int
    text: str | None = None
    image: OutImage | RemoteFile | None = None
    keyboard: Keyboard | None = None


@dataclass
class RecordingAdapter:
    """Keeps every message as a chat would show it; files to download are registered by ref."""

    platform: Platform = Platform.TELEGRAM
    files: dict[str, bytes] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)
    messages: dict[int, Sent] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    def _new(self, sent: Sent) -> int:
        self.log.append(sent)
        self.messages[sent.message_id] = sent
        return sent.message_id

    async def send_text(
        self, chat_id: int, text: str, *, reply_to: int | None = None, keyboard: Keyboard | None = None
    ) -> int:
        return self._new(Sent("text", chat_id, next(self._ids), text=text, keyboard=keyboard))

    async def send_photo(
        self,
        chat_id: int,
        photo: OutImage | RemoteFile,
        *,
        caption: str | None = None,
        reply_to: int | None = None,
        keyboard: Keyboard | None = None,
    ) -> int:
        return self._new(
            Sent("photo", chat_id, next(self._ids), text=caption, image=photo, keyboard=keyboard)
        )

    async def send_album(
        self, chat_id: int, images: Sequence[OutImage], *, reply_to: int | None = None
    ) -> list[int]:
        return [self._new(Sent("album", chat_id, next(self._ids), image=image)) for image in images]

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, keyboard: Keyboard | None = None
    ) -> None:
        self.log.append(Sent("edit_text", chat_id, message_id, text=text))
        self.messages[message_id].text = text
        self.messages[message_id].keyboard = keyboard

    async def edit_caption(
        self, chat_id: int, message_id: int, caption: str, *, keyboard: Keyboard | None = None
    ) -> None:
        self.log.append(Sent("edit_caption", chat_id, message_id, text=caption))
        self.messages[message_id].text = caption
        self.messages[message_id].keyboard = keyboard

    async def edit_media(self, chat_id: int, message_id: int, image: OutImage, *, caption: str) -> None:
        self.log.append(Sent("edit_media", chat_id, message_id, text=caption, image=image))
        self.messages[message_id].image = image
        self.messages[message_id].text = caption
        self.messages[message_id].keyboard = None

    async def download(self, file_ref: str) -> bytes:
        return self.files[file_ref]

    def kinds(self) -> list[str]:
        return [sent.kind for sent in self.log]


@dataclass
class ChatSide:
    settings: Settings
    redis: Redis
    queue: JobQueue
    users: UserStore
    adapter: RecordingAdapter
    service: BotService
    commands: Commands
    pipeline: JobPipeline
    retention: Retention

    async def run_one(self) -> JobContext:
        """Lease the next job and run the pipeline on it as the worker would (with the ack)."""
        leases = await self.queue.lease("test-worker", 1, timeout=5)
        assert leases, "no job to run"
        ctx = JobContext(job=leases[0].job, lease=leases[0], queue=self.queue)
        try:
            await self.pipeline(ctx)
        except Exception as error:
            await self.queue.fail(ctx.lease, error)
            raise
        await self.queue.complete(ctx.lease)
        return ctx


@asynccontextmanager
async def chat_side(settings: Settings) -> AsyncIterator[ChatSide]:
    """The chat side and the worker's pipeline as photobot.app builds them, with one recording
    adapter for Telegram (bot id 1) in place of the platform clients."""
    adapter = RecordingAdapter()
    chats = Platforms(adapters={Platform.TELEGRAM: adapter}, bot_ids={Platform.TELEGRAM: 1})
    async with builders.stores(settings) as core, builders.image_processor(settings) as processor:
        chat = builders.chat_side(core, chats)
        pipeline = builders.job_pipeline(core, processor, chats.adapters)
        yield ChatSide(
            settings, core.redis, core.queue, core.users, adapter, chat.service, chat.commands, pipeline,
            core.retention,
        )
