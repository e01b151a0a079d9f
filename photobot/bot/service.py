"""The platform-neutral heart of the chat side: a photo in, a job in the queue, one answer out.

Chat adapters (Telegram, VK) turn their updates into `IncomingPhoto` and call
`accept_photo` or `choose_operation`; everything they need to say goes back through the
`ChatAdapter` of the photo's platform. Each method is safe to run twice for the same update:
platforms deliver at least once, and an update is confirmed only after its method returned, so a
crash in the middle means the method runs again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from photobot.bot.adapter import ChatAdapter, OutImage, RecipientUnavailable, RemoteFile
from photobot.bot.allowance import Allowances
from photobot.bot.core.gate import Gate
from photobot.bot.final_state import show_final
from photobot.bot.i18n import t
from photobot.bot.keyboard import operations_keyboard
from photobot.bot.state import (
    AlbumChoices,
    AnsweredMessages,
    LatestWaiting,
    MessageLocks,
    PendingChoices,
    PendingPhoto,
    WaitingChoices,
)
from photobot.config import Settings
from photobot.gdrive import Storage
from photobot.gdrive.ledger import StorageBudgetReached
from photobot.jobs import Job, JobStatus, Platform, new_job_id
from photobot.logs import get_logger
from photobot.processing import (
    ProcessingError,
    UnknownOperation,
    get_operation,
    parse_operation,
)
from photobot.queue import (
    EnqueueResult,
    InvalidJob,
    JobNotFound,
    JobQueue,
    NotCancellable,
    PendingCapReached,
    QuotaReached,
)
from photobot.queue.quota import QuotaBook
from photobot.retention import Retention
from photobot.users import UserRecord, UserStore

log = get_logger(__name__)


@dataclass(frozen=True)
class IncomingPhoto:
    """One photo (or image file) a user sent, as any platform describes it."""

    platform: Platform
    chat_id: int
    message_id: int
    user: UserRecord
    language: str
    file_ref: str  # what the adapter downloads
    filename: str
    mime: str
    file_size: int | None = None
    as_document: bool = False
    caption: str | None = None
    album_id: str | None = None
    resend_ref: str | None = None  # the platform's own id to send the photo back without uploading


@dataclass
class BotService:
    """Accepts photos and operation choices; shared by every chat platform."""

    settings: Settings
    queue: JobQueue
    storage: Storage
    adapters: Mapping[Platform, ChatAdapter]
    choices: PendingChoices
    answered: AnsweredMessages
    albums: AlbumChoices
    locks: MessageLocks
    users: UserStore
    retention: Retention | None = None

    def __post_init__(self) -> None:
        redis, settings = self.queue.redis, self.settings
        # Each download is held in memory until stored: so many at once, whoever sends.
        self._downloads = asyncio.Semaphore(settings.downloads_in_flight)
        self.waiting = WaitingChoices(redis, settings.key_prefix, settings.state_ttl_seconds)
        self.latest = LatestWaiting(redis, settings.key_prefix, settings.state_ttl_seconds)
        self.allowances = Allowances(QuotaBook(redis, settings), settings)
        self.gate = Gate(self.users, settings, self.queue, self.allowances, self.waiting)

    def adapter(self, platform: Platform) -> ChatAdapter:
        return self.adapters[platform]

    # --- a photo arrives ---------------------------------------------------------------------------
    async def accept_photo(self, photo: IncomingPhoto) -> None:
        """Store the original and enqueue its job (caption names the operation) or offer the keyboard."""
        adapter = self.adapter(photo.platform)
        lang = photo.language
        if await self.answered.get(photo.platform, photo.chat_id, photo.message_id) is not None:
            log.info("photo already answered", chat_id=photo.chat_id, message_id=photo.message_id)
            return
        limit = self.settings.max_download_bytes
        if photo.file_size is not None and photo.file_size > limit:
            await self._refuse(photo, t("too_big", lang, max_mb=limit // (1024 * 1024)))
            return
        try:
            choice = await self._operation_for(photo)
        except ProcessingError as error:  # the caption names an operation with a bad value: "blur 500"
            await self._refuse(photo, t("failed", lang, message=error.user_message(lang)))
            return
        if await self._refused_before_download(photo):
            return
        job_id = new_job_id()
        stored = await self._store_original(photo, job_id)
        if stored is None:
            return
        data, photo_id = stored
        resend: OutImage | RemoteFile = (
            RemoteFile(photo.resend_ref, photo.as_document)
            if photo.resend_ref
            else OutImage(data, photo.filename, photo.mime, photo.as_document)
        )
        if choice is not None:
            await self._enqueue_and_answer(
                photo, job_id=job_id, photo_id=photo_id, operation=choice[0], params=choice[1], resend=resend
            )
            return
        status_id = await adapter.send_photo(
            photo.chat_id,
            resend,
            caption=t("choose_op", lang),
            reply_to=photo.message_id,
            keyboard=operations_keyboard(lang, subject=photo.message_id),
        )
        pending = PendingPhoto(
            job_id=job_id,
            photo_id=photo_id,
            message_id=photo.message_id,
            user_key=photo.user.key,
            as_document=photo.as_document,
            resend_ref=photo.resend_ref,
            metadata={"filename": photo.filename},
        )
        await self.choices.save(photo.platform, photo.chat_id, photo.user.user_id, status_id, pending)
        await self.waiting.add(photo.user.key, job_id)
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, status_id)

    async def _refused_before_download(self, photo: IncomingPhoto) -> bool:
        refusal = await self.gate.photo_refusal(photo.user, photo.language)
        if refusal:
            await self._refuse(photo, refusal)
        return refusal is not None

    async def _store_original(self, photo: IncomingPhoto, job_id: str) -> tuple[bytes, str] | None:
        """Download and store the original: its bytes and id, or None when it was refused (answered)
        for its size or the user's storage budget. A file is held in memory from its download until
        it is stored, so DOWNLOADS_IN_FLIGHT bounds how many are at once, whoever sends them."""
        limit = self.settings.max_download_bytes
        async with self._downloads:
            data = await self.adapter(photo.platform).download(photo.file_ref)
            if len(data) > limit:
                refusal = t("too_big", photo.language, max_mb=limit // (1024 * 1024))
            else:
                try:
                    photo_id = await self.storage.put(
                        data,
                        photo.filename,
                        photo.mime,
                        {"job_id": job_id, "user_id": photo.user.key, "kind": "original"},
                    )
                except StorageBudgetReached as full:
                    refusal = full.user_message(photo.language)
                else:
                    return data, photo_id
        await self._refuse(photo, refusal)
        return None

    async def _operation_for(self, photo: IncomingPhoto) -> tuple[str, dict[str, Any]] | None:
        parsed = parse_operation(photo.caption) if photo.caption else None
        if photo.album_id is not None:
            if parsed is not None:
                await self.albums.set(photo.platform, photo.chat_id, photo.album_id, parsed[0], parsed[1])
            else:
                parsed = await self.albums.get(photo.platform, photo.chat_id, photo.album_id)
        return parsed

    async def _refuse(self, photo: IncomingPhoto, text: str) -> None:
        adapter = self.adapter(photo.platform)
        sent = await adapter.send_text(photo.chat_id, text, reply_to=photo.message_id)
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, sent)

    def _new_job(
        self,
        photo: IncomingPhoto | None,
        *,
        platform: Platform,
        chat_id: int,
        message_id: int,
        user: UserRecord,
        language: str,
        job_id: str,
        photo_id: str,
        operation: str,
        params: dict[str, Any],
        as_document: bool,
        metadata: dict[str, Any] | None = None,
    ) -> Job:
        return Job(
            job_id=job_id,
            platform=platform,
            chat_id=chat_id,
            message_id=message_id,
            user_id=user.user_id,
            language=language,
            tier=user.tier,
            priority=self.settings.tier_priority(user.tier),
            operation=operation,
            params=params,
            photo_id=photo_id,
            max_attempts=self.settings.max_attempts,
            dedup_key=f"{platform.short}:{chat_id}:{message_id}:{operation}",
            metadata={**(metadata or {}), "as_document": as_document},
        )

    async def _enqueue_and_answer(
        self,
        photo: IncomingPhoto,
        *,
        job_id: str,
        photo_id: str,
        operation: str,
        params: dict[str, Any],
        resend: OutImage | RemoteFile,
    ) -> None:
        lang = photo.language
        job = self._new_job(
            photo,
            platform=photo.platform,
            chat_id=photo.chat_id,
            message_id=photo.message_id,
            user=photo.user,
            language=lang,
            job_id=job_id,
            photo_id=photo_id,
            operation=operation,
            params=params,
            as_document=photo.as_document,
            metadata={"filename": photo.filename},
        )
        try:
            result = await self.queue.enqueue(job)
        except PendingCapReached:
            await self.storage.delete(photo_id)  # nothing of a refused photo is kept
            await self._refuse(photo, t("pending_cap", lang, cap=self.settings.max_pending_per_user))
            return
        except QuotaReached as refused:
            await self.storage.delete(photo_id)
            text = await self.gate.quota_refusal(photo.user, refused.limit, refused.wait_seconds, lang)
            if text:
                await self._refuse(photo, text)
            return
        except InvalidJob as error:
            log.warning("job refused", error=str(error))
            await self.storage.delete(photo_id)
            await self._refuse(photo, t("unknown_operation", lang))
            return
        job = result.job
        if job.status_message_id is None:
            position = await self.queue.position(job.job_id)
            try:
                status_id = await self.adapter(photo.platform).send_photo(
                    photo.chat_id,
                    resend,
                    caption=queued_caption(job, position, lang),
                    reply_to=photo.message_id,
                )
            except RecipientUnavailable:
                # The user blocked the bot (or does not allow messages) right after sending: the
                # result could never be delivered, so the job is not worth running.
                await self._drop_undeliverable(job)
                raise
            await self.queue.set_fields(job.job_id, status_message_id=status_id)
            ended = await self.queue.get(job.job_id)  # a file that fails at once may have ended already
            if ended is not None and ended.status.is_final:
                await self.show_final(ended.model_copy(update={"status_message_id": status_id}))
        else:
            status_id = job.status_message_id
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, status_id)

    async def _drop_undeliverable(self, job: Job) -> None:
        try:
            await self.queue.cancel(job.job_id)
            log.info("job cancelled: its user cannot be answered", job_id=job.job_id)
        except (JobNotFound, NotCancellable):
            # A worker holds it already: mark it, so the worker ends the job instead of waiting
            # for a status message that will never come and trying the user again.
            current = await self.queue.get(job.job_id)
            if current is not None and not current.status.is_final:
                metadata = {**current.metadata, "undeliverable": True}
                await self.queue.set_fields(job.job_id, metadata=metadata)

    # --- the keyboard: another page, or an operation chosen ----------------------------------------
    async def _waiting(
        self, platform: Platform, chat_id: int, user: UserRecord, status_message_id: int, language: str
    ) -> PendingPhoto | str:
        """The photo still waiting for a choice under this status message, or why it is not."""
        pending = await self.choices.load(platform, chat_id, user.user_id, status_message_id)
        if pending is None:
            return t("choice_expired", language)
        if pending.chosen_job_id is not None:
            return t("already_queued", language, job_id=pending.chosen_job_id)
        return pending

    async def show_operations(
        self,
        platform: Platform,
        *,
        chat_id: int,
        status_message_id: int,
        user: UserRecord,
        language: str,
        page: int,
    ) -> str | None:
        """Show another page of operations under a waiting photo; a notice when it waits no more."""
        pending = await self._waiting(platform, chat_id, user, status_message_id, language)
        if isinstance(pending, str):
            return pending
        keyboard = operations_keyboard(language, page, subject=pending.message_id)
        async with self.locks.hold(platform, chat_id, status_message_id):
            await self.adapter(platform).edit_caption(
                chat_id, status_message_id, t("choose_op", language), keyboard=keyboard
            )
        return None

    async def choose_operation(
        self,
        platform: Platform,
        *,
        chat_id: int,
        status_message_id: int,
        user: UserRecord,
        language: str,
        operation: str,
    ) -> str:
        """Enqueue the pending photo of this status message; returns a short notice for the user."""
        pending = await self._waiting(platform, chat_id, user, status_message_id, language)
        if isinstance(pending, str):
            return pending
        try:
            get_operation(operation)
        except UnknownOperation:
            return t("unknown_operation", language)
        job = self._new_job(
            None,
            platform=platform,
            chat_id=chat_id,
            message_id=pending.message_id,
            user=user,
            language=language,
            job_id=pending.job_id,
            photo_id=pending.photo_id,
            operation=operation,
            params={},
            as_document=pending.as_document,
            metadata=pending.metadata,
        )
        job.status_message_id = status_message_id
        result = await self._enqueue_choice(job, user, language)
        if isinstance(result, str):
            return result
        pending.chosen_job_id = result.job.job_id
        await self.choices.save(platform, chat_id, user.user_id, status_message_id, pending)
        await self.waiting.remove(user.key, pending.job_id)
        position = await self.show_queued(result.job)
        return queued_caption(result.job, position, language)

    async def _enqueue_choice(self, job: Job, user: UserRecord, language: str) -> EnqueueResult | str:
        """The enqueued job, or the refusal to show on the button."""
        try:
            return await self.queue.enqueue(job)
        except PendingCapReached:
            return t("pending_cap", language, cap=self.settings.max_pending_per_user)
        except QuotaReached as refused:
            # The quota ran out while the photo waited for its choice: the photo keeps waiting (until
            # STATE_TTL_SECONDS), so it can be chosen again once a unit is back.
            return self.allowances.refusal(user, refused.limit, refused.wait_seconds, language)
        except InvalidJob:
            return t("unknown_operation", language)

    async def show_final(self, job: Job) -> None:
        """The status caption of a job that ended without a result (photobot.bot.final_state)."""
        await show_final(self.adapters, self.locks, job)

    async def show_queued(self, job: Job) -> int | None:
        """Turn the status message's caption into "queued, position N" unless the worker moved on."""
        if job.chat_id is None or job.status_message_id is None or job.platform not in self.adapters:
            return None
        async with self.locks.hold(job.platform, job.chat_id, job.status_message_id):
            current = await self.queue.get(job.job_id)
            if current is None or current.status not in (JobStatus.PENDING, JobStatus.RETRYING):
                return None
            position = await self.queue.position(job.job_id)
            await self.adapter(job.platform).edit_caption(
                job.chat_id, job.status_message_id, queued_caption(current, position, job.language)
            )
            return position


def queued_caption(job: Job, position: int | None, language: str) -> str:
    if job.status is JobStatus.RETRYING:
        return t("queued_retry", language, job_id=job.job_id)
    if job.status is JobStatus.PENDING or position is not None:
        return t("queued", language, position=position or 1, job_id=job.job_id)
    return t("processing", language, operation=operation_title(job.operation, language))


def operation_title(name: str, language: str) -> str:
    try:
        return get_operation(name).title(language)
    except UnknownOperation:
        return name
