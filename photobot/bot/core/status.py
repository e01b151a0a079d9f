"""The status message of a job: the one message a photo gets, and every edit of it.

The bot sends it before the enqueue (the user's photo sent back, captioned "queued, position N",
or with the operations keyboard) and the job is queued with its id, so the worker never waits for
it. From then on `StatusMessage` is its only writer: "queued" again after a choice or a /requeue,
"processing", the result (a new message when the user deleted it), the failure or the cancel. Each
edit holds the message's lock (`MessageLocks`) across processes, so an older caption never lands
after a newer one; edits are idempotent, so a job that runs again edits the same message.

A chat that cannot be answered (the user blocked the bot, or does not allow messages) is
`Undeliverable`, raised by whichever send or edit found out; the bot then queues nothing, and the
worker ends the delivery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from photobot.bot.adapter import (
    ChatAdapter,
    Keyboard,
    MessageGone,
    OutImage,
    RecipientUnavailable,
    RemoteFile,
)
from photobot.bot.i18n import error_text, t
from photobot.bot.state import MessageLocks
from photobot.jobs import Job, JobStatus, Platform
from photobot.logs import get_logger
from photobot.processing import UnknownOperation, get_operation
from photobot.queue import JobQueue

log = get_logger(__name__)

T = TypeVar("T")

ALBUM_MAX = 10


class Undeliverable(RecipientUnavailable):
    """The chat cannot be answered: nothing sent there will arrive, so nothing more is tried."""


def operation_title(name: str, language: str) -> str:
    try:
        return get_operation(name).title(language)
    except UnknownOperation:
        return name


def queued_caption(job: Job, position: int | None, language: str) -> str:
    if job.status is JobStatus.RETRYING:
        return t("queued_retry", language, job_id=job.job_id)
    if job.status is JobStatus.PENDING or position is not None:
        return t("queued", language, position=position or 1, job_id=job.job_id)
    return t("processing", language, operation=operation_title(job.operation, language))


def final_caption(job: Job) -> str | None:
    """The caption of a job that ended without a result; None for any other state."""
    if job.status is JobStatus.CANCELLED:
        return t("cancelled_caption", job.language, job_id=job.job_id)
    if job.status is JobStatus.FAILED:
        return t("failed", job.language, message=error_text(job.error, job.language) if job.error else "")
    return None


@dataclass(frozen=True)
class StatusMessage:
    """One job's status message in its chat; `message_id` None for a job queued without one (from
    the command line, or before the chat had a message for it): the result then comes anew."""

    adapter: ChatAdapter
    locks: MessageLocks
    queue: JobQueue
    job_id: str
    chat_id: int
    message_id: int | None
    reply_to: int | None = None

    async def caption(self, text: str, keyboard: Keyboard | None = None) -> None:
        """Edit the caption (a new text message when there is no status message)."""
        if self.message_id is None:
            await _said(self.adapter.send_text(self.chat_id, text, reply_to=self.reply_to))
            return
        async with self.locks.hold(self.adapter.platform, self.chat_id, self.message_id):
            await _said(self.adapter.edit_caption(self.chat_id, self.message_id, text, keyboard=keyboard))

    async def show(self, text: str) -> None:
        """Best effort: a caption the job's outcome does not depend on."""
        try:
            await self.caption(text)
        except Exception as error:
            log.info("status not shown", job_id=self.job_id, error=repr(error))

    async def show_queued(self) -> int | None:
        """"Queued, position N" unless the worker moved on (checked under the lock); the position."""
        if self.message_id is None:
            return None
        async with self.locks.hold(self.adapter.platform, self.chat_id, self.message_id):
            current = await self.queue.get(self.job_id)
            if current is None or current.status not in (JobStatus.PENDING, JobStatus.RETRYING):
                return None
            position = await self.queue.position(self.job_id)
            caption = queued_caption(current, position, current.language)
            await _said(self.adapter.edit_caption(self.chat_id, self.message_id, caption))
            return position

    async def show_final(self, job: Job) -> None:
        """The caption of a job that ended without a result (failed or cancelled); best effort (the
        job's end stands whether or not the chat shows it)."""
        caption = final_caption(job)
        if caption is None or self.message_id is None:
            return
        try:
            await self.caption(caption)
        except Exception as error:
            log.warning(
                "final state not shown", job_id=job.job_id, status=job.status.value, error=repr(error)
            )

    async def deliver(self, image: OutImage, caption: str) -> int:
        """The result in place of the status; a new message when the user deleted it (or there was
        none). The id of the message that shows the result."""
        if self.message_id is not None:
            async with self.locks.hold(self.adapter.platform, self.chat_id, self.message_id):
                try:
                    edit = self.adapter.edit_media(self.chat_id, self.message_id, image, caption=caption)
                    await _said(edit)
                    return self.message_id
                except MessageGone:
                    pass
        send = self.adapter.send_photo(self.chat_id, image, caption=caption, reply_to=self.reply_to)
        new_id = await _said(send)
        await self.queue.set_fields(self.job_id, status_message_id=new_id)
        return new_id

    async def send_album(self, images: Sequence[OutImage]) -> list[int]:
        """Results beyond the first, as albums under the status message."""
        ids: list[int] = []
        reply_to = self.message_id if self.message_id is not None else self.reply_to
        for start in range(0, len(images), ALBUM_MAX):
            chunk = images[start : start + ALBUM_MAX]
            if len(chunk) == 1:
                ids.append(await _said(self.adapter.send_photo(self.chat_id, chunk[0], reply_to=reply_to)))
            else:
                ids += await _said(self.adapter.send_album(self.chat_id, chunk, reply_to=reply_to))
        return ids


@dataclass(frozen=True)
class StatusMessages:
    """Opens status messages and finds a job's: the one place that writes them."""

    adapters: Mapping[Platform, ChatAdapter]
    locks: MessageLocks
    queue: JobQueue

    async def open(
        self,
        platform: Platform,
        chat_id: int,
        photo: OutImage | RemoteFile,
        *,
        caption: str,
        reply_to: int,
        keyboard: Keyboard | None = None,
    ) -> int:
        """Send the status message (the user's photo back); its id, for the job to be queued with."""
        adapter = self.adapters[platform]
        send = adapter.send_photo(chat_id, photo, caption=caption, reply_to=reply_to, keyboard=keyboard)
        return await _said(send)

    def at(self, platform: Platform, chat_id: int, message_id: int, job_id: str) -> StatusMessage:
        """The status message `message_id` in a chat, for the photo that becomes job `job_id`."""
        return StatusMessage(self.adapters[platform], self.locks, self.queue, job_id, chat_id, message_id)

    def of(self, job: Job) -> StatusMessage | None:
        """The job's status message; None when the job has no chat here to show it in."""
        adapter = self.adapters.get(job.platform)
        if adapter is None or job.chat_id is None:
            return None
        return StatusMessage(
            adapter, self.locks, self.queue, job.job_id, job.chat_id, job.status_message_id, job.message_id
        )

    async def show_queued(self, job: Job) -> int | None:
        status = self.of(job)
        return await status.show_queued() if status is not None else None

    async def show_final(self, job: Job) -> None:
        status = self.of(job)
        if status is not None:
            await status.show_final(job)


async def _said(call: Awaitable[T]) -> T:
    """The platform's answer; a chat that cannot be answered comes out as Undeliverable."""
    try:
        return await call
    except Undeliverable:
        raise
    except RecipientUnavailable as error:
        raise Undeliverable(str(error)) from error
