"""The worker's job handler: fetch the original, process, store the result, deliver it.

Each step records its outcome on the job before the next one starts (`save_progress`), so a job
that runs again after a crash or an expired lease resumes after its last finished step: a result
already stored is not made again, a result already delivered is not sent again. Delivery edits the
status message the user already sees, which is idempotent; only an album of faces is a new message,
and its only window for a duplicate is between the platform's answer and `save_progress`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from photobot.backoff import Backoff
from photobot.bot.adapter import (
    ChatAdapter,
    ChatUnavailable,
    MessageGone,
    OutImage,
    RecipientUnavailable,
)
from photobot.bot.i18n import t
from photobot.bot.service import operation_title
from photobot.bot.state import MessageLocks
from photobot.gdrive import Storage
from photobot.jobs import Job, JobError, Platform, TransientJobError
from photobot.logs import get_logger
from photobot.processing import ImageProcessor, UnknownOperation, get_operation
from photobot.queue import JobContext, JobQueue, LeaseLost

log = get_logger(__name__)

# Telegram sends a photo only up to 10 MB and 10000 px of width + height; larger goes as a file.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000
ALBUM_MAX = 10
# Between two looks for the status message's id: 0.05 s, then half as long again each time, up to 0.5 s.
STATUS_POLL = Backoff(0.05, 0.5, jitter=0, factor=1.5)


class Undeliverable(Exception):
    """The bot could not even send the status message (the user blocked it or does not allow
    messages), so there is nothing to deliver to."""


class StatusNotReady(TransientJobError):
    code = "status_not_ready"


class JobPipeline:
    """`await pipeline(ctx)` runs one leased job through its steps."""

    def __init__(
        self,
        queue: JobQueue,
        storage: Storage,
        processor: ImageProcessor,
        adapters: Mapping[Platform, ChatAdapter],
        locks: MessageLocks,
        *,
        status_wait_seconds: float = 30.0,
        notice_after_seconds: float = 1.0,
    ) -> None:
        self.queue = queue
        self.storage = storage
        self.processor = processor
        self.adapters = adapters
        self.locks = locks
        self.status_wait_seconds = status_wait_seconds
        self.notice_after_seconds = notice_after_seconds

    async def __call__(self, ctx: JobContext) -> None:
        job = ctx.job
        with structlog.contextvars.bound_contextvars(job_id=job.job_id, user_id=job.user_key):
            try:
                await self._run(ctx)
            except (LeaseLost, asyncio.CancelledError):
                raise
            except JobError as error:
                if not error.transient or _last_attempt(job):
                    text = t("failed", job.language, message=error.user_message(job.language))
                    await self._tell(ctx, job, text)
                raise
            except Exception:
                if _last_attempt(job):
                    await self._tell(ctx, job, t("internal_error", job.language, job_id=job.job_id))
                raise

    async def _run(self, ctx: JobContext) -> None:
        job = ctx.job
        if job.delivered:
            return
        images: list[OutImage] | None = None
        if not job.result_ids:
            as_document = bool(job.metadata.get("as_document"))
            finished = asyncio.Event()
            notice = asyncio.ensure_future(self._notice_processing(job, finished))
            try:
                original = await self.storage.get(job.photo_id)
                outcome = await self.processor.run(
                    original, job.operation, job.params, as_photo=not as_document
                )
            finally:
                finished.set()
                await notice
            results: list[dict[str, Any]] = []
            ids: list[str] = []
            images = []
            for index, image in enumerate(outcome.images):
                name = result_name(job, index, len(outcome.images), image.extension)
                ids.append(
                    await self.storage.put(
                        image.data,
                        name,
                        image.mime,
                        {"job_id": job.job_id, "user_id": job.user_key, "kind": "result"},
                    )
                )
                document = as_document or not _fits_photo(len(image.data), image.width, image.height)
                results.append({"name": name, "mime": image.mime, "document": document})
                images.append(OutImage(image.data, name, image.mime, document))
            metadata = {**job.metadata, "results": results, "summary": _plain(outcome.summary)}
            await ctx.save_progress(result_ids=ids, metadata=metadata)
            job = job.model_copy(update={"result_ids": ids, "metadata": metadata})
        if job.platform not in (Platform.TELEGRAM, Platform.VK):
            return  # jobs from the command line have no chat to deliver to
        ctx.step_aside()  # what is left waits on the chat's send budget, not on this process
        await self._deliver(ctx, job, images)

    async def _deliver(self, ctx: JobContext, job: Job, images: list[OutImage] | None) -> None:
        adapter = self.adapters.get(job.platform)
        if adapter is None or job.chat_id is None:
            raise ChatUnavailable(f"no {job.platform} adapter in this process")
        chat_id = job.chat_id
        if images is None:
            images = await self._load_results(job)
        try:
            status_id = job.status_message_id or await self._wait_status_message(job)
        except Undeliverable:
            log.info("the user cannot be answered; delivery ends")
            return
        caption = self._result_caption(job)
        try:
            album = images[1:]
            if album and not job.metadata.get("album_ids"):
                album_ids = await self._send_album(adapter, chat_id, album, status_id)
                job = job.model_copy(update={"metadata": {**job.metadata, "album_ids": album_ids}})
                await ctx.save_progress(metadata=job.metadata)
            if status_id is None:
                status_id = await adapter.send_photo(
                    chat_id, images[0], caption=caption, reply_to=job.message_id
                )
                await self.queue.set_fields(job.job_id, status_message_id=status_id)
            else:
                await self._edit_result(adapter, job, status_id, images[0], caption)
        except RecipientUnavailable:
            log.info("recipient unavailable; delivery ends")
            await ctx.save_progress(metadata={**job.metadata, "undeliverable": True})
            return
        await ctx.save_progress(delivered=True)
        log.info("result delivered", images=len(images))

    async def _edit_result(
        self, adapter: ChatAdapter, job: Job, status_id: int, image: OutImage, caption: str
    ) -> None:
        assert job.chat_id is not None
        async with self.locks.hold(job.platform, job.chat_id, status_id):
            try:
                await adapter.edit_media(job.chat_id, status_id, image, caption=caption)
            except MessageGone:
                # The user deleted the status message: the result comes as a new one instead.
                new_id = await adapter.send_photo(
                    job.chat_id, image, caption=caption, reply_to=job.message_id
                )
                await self.queue.set_fields(job.job_id, status_message_id=new_id)

    async def _send_album(
        self, adapter: ChatAdapter, chat_id: int, images: Sequence[OutImage], reply_to: int | None
    ) -> list[int]:
        ids: list[int] = []
        for start in range(0, len(images), ALBUM_MAX):
            chunk = images[start : start + ALBUM_MAX]
            if len(chunk) == 1:
                ids.append(await adapter.send_photo(chat_id, chunk[0], reply_to=reply_to))
            else:
                ids += await adapter.send_album(chat_id, chunk, reply_to=reply_to)
        return ids

    async def _load_results(self, job: Job) -> list[OutImage]:
        described: list[dict[str, Any]] = list(job.metadata.get("results") or [])
        images = []
        for index, file_id in enumerate(job.result_ids):
            info = described[index] if index < len(described) else {}
            data = await self.storage.get(file_id)
            images.append(
                OutImage(
                    data,
                    str(info.get("name") or result_name(job, index, len(job.result_ids), ".jpg")),
                    str(info.get("mime") or "image/jpeg"),
                    bool(info.get("document")),
                )
            )
        return images

    async def _wait_status_message(self, job: Job) -> int | None:
        """The bot records the status message right after enqueue, once the chat's send budget lets
        it out (behind the chat's earlier messages); the job has stepped aside, so waiting is cheap.

        On the last attempt the result is sent as a new message rather than lost.
        """
        status_id = await self._recorded_status(job)
        if status_id is not None or _last_attempt(job):
            return status_id
        raise StatusNotReady("the status message is not recorded yet")

    async def _recorded_status(self, job: Job) -> int | None:
        """The status message's id once the bot has recorded it, within `status_wait_seconds`;
        None when it is not recorded by then. Undeliverable when the user cannot be answered."""
        deadline = asyncio.get_running_loop().time() + self.status_wait_seconds
        attempt = 0
        while True:
            current = await self.queue.get(job.job_id)
            if current is not None and current.status_message_id is not None:
                return current.status_message_id
            if current is not None and current.metadata.get("undeliverable"):
                raise Undeliverable(job.job_id)
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(STATUS_POLL.delay(attempt))
            attempt += 1

    def _result_caption(self, job: Job) -> str:
        title = operation_title(job.operation, job.language)
        try:
            is_faces = get_operation(job.operation).is_faces
        except UnknownOperation:
            is_faces = False
        summary = job.metadata.get("summary") or {}
        if is_faces and "faces" in summary:
            return t("faces_found", job.language, operation=title, count=summary["faces"])
        return t("done", job.language, operation=title)

    async def _notice_processing(self, job: Job, finished: asyncio.Event) -> None:
        """Best effort: the caption says "processing" when the user would otherwise wait on "queued".

        A job that waited in the queue (or runs again) shows it at once. A job picked up at once
        shows it only if its work is still going after `notice_after_seconds`: at idle the user
        sees "queued" and then the result, and the photo costs two chat calls instead of three
        (Telegram's 30 messages/s is shared by all chats). An edit that has started is never
        cancelled, so it cannot land after the result's edit.
        """
        adapter = self.adapters.get(job.platform)
        if adapter is None or job.chat_id is None or job.status_message_id is None:
            return
        waited = max(0.0, time.time() - job.created_at / 1000)
        if job.attempts <= 1 and waited < self.notice_after_seconds:
            try:
                await asyncio.wait_for(finished.wait(), self.notice_after_seconds)
                return
            except TimeoutError:
                pass
        text = t("processing", job.language, operation=operation_title(job.operation, job.language))
        try:
            async with self.locks.hold(job.platform, job.chat_id, job.status_message_id):
                await adapter.edit_caption(job.chat_id, job.status_message_id, text)
        except Exception as error:
            log.info("processing notice not shown", error=repr(error))

    async def _tell(self, ctx: JobContext, job: Job, text: str) -> None:
        """The job ends badly: say so in place of the status (details stay in the logs).

        A file that fails at once fails before the bot has recorded the "queued" status message:
        the failure waits for it (aside from the worker's places, as a delivery does), so the
        caption ends in the failure instead of "queued" with the error as a separate message.
        """
        adapter = self.adapters.get(job.platform)
        if adapter is None or job.chat_id is None:
            return
        try:
            status_id = job.status_message_id
            if status_id is None:
                ctx.step_aside()
                status_id = await self._recorded_status(job)
            if status_id is None:
                await adapter.send_text(job.chat_id, text, reply_to=job.message_id)
                return
            async with self.locks.hold(job.platform, job.chat_id, status_id):
                await adapter.edit_caption(job.chat_id, status_id, text)
        except Undeliverable:
            log.info("failure not shown: the user cannot be answered")
        except Exception as error:
            log.warning("failure not shown to the user", error=repr(error))


def _last_attempt(job: Job) -> bool:
    return job.attempts >= job.max_attempts


def _fits_photo(size: int, width: int, height: int) -> bool:
    ratio = max(width, height) / max(1, min(width, height))
    return size <= PHOTO_MAX_BYTES and width + height <= PHOTO_MAX_SIDES and ratio <= 20


def _plain(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the summary small and JSON-safe: it is stored on the job."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
    return out


def result_name(job: Job, index: int, count: int, extension: str) -> str:
    """The file name a person sees on a result sent as a file: the original's name (or "photo")
    with the operation, numbered from 1 when there are several, and the job id's start, which keeps
    names (and VK's random_id made from them) distinct across jobs: holiday-sepia-80995297.jpg,
    holiday-faces_crop-2-80995297.jpg. `extension` carries its dot."""
    original = Path(str(job.metadata.get("filename") or "photo")).name
    stem = re.sub(r"[^\w.-]+", "_", Path(original).stem).strip("._") or "photo"
    number = f"-{index + 1}" if count > 1 else ""
    return f"{stem[:60]}-{job.operation}{number}-{job.job_id[:8]}{extension}"
