"""The worker's job handler: fetch the original, process, store the result, deliver it.

Each step records its outcome on the job before the next one starts (`save_progress`), so a job
that runs again after a crash or an expired lease resumes after its last finished step: a result
already stored is not made again, a result already delivered is not sent again. Delivery edits the
status message the user already sees (queued with the job, photobot.bot.core.status, so there is
never one to wait for), which is idempotent; only an album of faces is a new message,
and its only window for a duplicate is between the platform's answer and `save_progress`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from photobot.bot.adapter import ChatAdapter, ChatUnavailable, OutImage
from photobot.bot.core.status import StatusMessages, Undeliverable, operation_title
from photobot.bot.i18n import error_text, t
from photobot.bot.state import MessageLocks
from photobot.gdrive import Storage
from photobot.jobs import Job, JobError, Platform
from photobot.logs import get_logger
from photobot.processing import ImageProcessor, UnknownOperation, get_operation
from photobot.queue import JobContext, JobQueue, LeaseLost

log = get_logger(__name__)

# Telegram sends a photo only up to 10 MB and 10000 px of width + height; larger goes as a file.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
PHOTO_MAX_SIDES = 10_000


@dataclass
class JobPipeline:
    """`await pipeline(ctx)` runs one leased job through its steps."""

    queue: JobQueue
    storage: Storage
    processor: ImageProcessor
    adapters: Mapping[Platform, ChatAdapter]
    locks: MessageLocks
    notice_after_seconds: float = 1.0

    def __post_init__(self) -> None:
        self.status = StatusMessages(self.adapters, self.locks, self.queue)

    async def __call__(self, ctx: JobContext) -> None:
        job = ctx.job
        with structlog.contextvars.bound_contextvars(job_id=job.job_id, user_id=job.user_key):
            try:
                await self._run(ctx)
            except (LeaseLost, asyncio.CancelledError):
                raise
            except JobError as error:
                if not error.transient or _last_attempt(job):
                    text = t("failed", job.language, message=error_text(error, job.language))
                    await self._tell(job, text)
                raise
            except Exception:
                if _last_attempt(job):
                    await self._tell(job, t("internal_error", job.language, job_id=job.job_id))
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
        status = self.status.of(job)
        if status is None:
            raise ChatUnavailable(f"no {job.platform} adapter in this process")
        if images is None:
            images = await self._load_results(job)
        try:
            album = images[1:]
            if album and not job.metadata.get("album_ids"):
                album_ids = await status.send_album(album)
                job = job.model_copy(update={"metadata": {**job.metadata, "album_ids": album_ids}})
                await ctx.save_progress(metadata=job.metadata)
            await status.deliver(images[0], self._result_caption(job))
        except Undeliverable:
            log.info("recipient unavailable; delivery ends")
            await ctx.save_progress(metadata={**job.metadata, "undeliverable": True})
            return
        await ctx.save_progress(delivered=True)
        log.info("result delivered", images=len(images))

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
        status = self.status.of(job)
        if status is None or status.message_id is None:
            return
        waited = max(0.0, time.time() - job.created_at / 1000)
        if job.attempts <= 1 and waited < self.notice_after_seconds:
            try:
                await asyncio.wait_for(finished.wait(), self.notice_after_seconds)
                return
            except TimeoutError:
                pass
        title = operation_title(job.operation, job.language)
        await status.show(t("processing", job.language, operation=title))

    async def _tell(self, job: Job, text: str) -> None:
        """The job ends badly: say so in place of the status (details stay in the logs)."""
        status = self.status.of(job)
        if status is None:
            return
        try:
            await status.caption(text)
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
