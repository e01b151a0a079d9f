"""The platform-neutral heart of the chat side: a photo in, a job in the queue, one answer out.

Chat adapters (Telegram, VK) turn their updates into `IncomingPhoto` and call
`accept_photo` or `choose_operation`; everything they need to say goes back through the
`ChatAdapter` of the photo's platform, and the photo's one answer, its status message, through
`StatusMessages` (photobot.bot.core.status): sent before the enqueue, so the job is queued with its
id. Each method is safe to run twice for the same update: platforms deliver at least once, and an
update is confirmed only after its method returned, so a crash in the middle means the method runs
again (a job queued already is found by its dedup key and not queued, nor announced, twice).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from photobot.bot.adapter import ChatAdapter, Keyboard, OutImage, RemoteFile
from photobot.bot.allowance import Allowances
from photobot.bot.core.gate import Gate
from photobot.bot.core.status import StatusMessages, Undeliverable, queued_caption
from photobot.bot.i18n import error_text, t
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
from photobot.jobs import Job, Platform, new_job_id
from photobot.logs import get_logger
from photobot.processing import ProcessingError, UnknownOperation, get_operation, parse_operation
from photobot.queue import EnqueueResult, InvalidJob, JobQueue, PendingCapReached, QuotaReached
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


@dataclass(frozen=True)
class KeyboardPress:
    """A press on the operations keyboard under a status message: where, and by whom."""

    platform: Platform
    chat_id: int
    status_message_id: int
    user: UserRecord
    language: str


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
        self.status = StatusMessages(self.adapters, self.locks, self.queue)

    def adapter(self, platform: Platform) -> ChatAdapter:
        return self.adapters[platform]

    # --- a photo arrives ---------------------------------------------------------------------------
    async def accept_photo(self, photo: IncomingPhoto) -> None:
        """Store the original and enqueue its job (caption names the operation) or offer the keyboard."""
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
            await self._refuse(photo, t("failed", lang, message=error_text(error, lang)))
            return
        queued = choice is not None and await self._queued_already(photo, choice[0])
        if queued or await self._refused_before_download(photo):
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
        pending = PendingPhoto(
            job_id=job_id,
            photo_id=photo_id,
            message_id=photo.message_id,
            user_key=photo.user.key,
            as_document=photo.as_document,
            resend_ref=photo.resend_ref,
            metadata={"filename": photo.filename},
        )
        if choice is not None:
            await self._enqueue_and_answer(photo, pending, choice, resend)
            return
        keyboard = operations_keyboard(lang, subject=photo.message_id)
        status_id = await self._open(photo, photo_id, resend, t("choose_op", lang), keyboard)
        await self.choices.save(photo.platform, photo.chat_id, photo.user.user_id, status_id, pending)
        await self.waiting.add(photo.user.key, job_id)
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, status_id)

    async def _open(
        self,
        photo: IncomingPhoto,
        photo_id: str,
        resend: OutImage | RemoteFile,
        caption: str,
        keyboard: Keyboard | None = None,
    ) -> int:
        """Send the status message; a chat that cannot be answered keeps nothing of the photo."""
        try:
            return await self.status.open(
                photo.platform, photo.chat_id, resend, caption=caption, reply_to=photo.message_id,
                keyboard=keyboard,
            )
        except Undeliverable:
            await self.storage.delete(photo_id)
            raise

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
                    refusal = error_text(full, photo.language)
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

    def _job(
        self,
        where: IncomingPhoto | KeyboardPress,
        pending: PendingPhoto,
        operation: str,
        params: dict[str, Any],
    ) -> Job:
        """The job of a stored photo, once its operation is known; its priority is its sender's tier."""
        user = where.user
        return Job(
            job_id=pending.job_id, photo_id=pending.photo_id, message_id=pending.message_id,
            platform=where.platform, chat_id=where.chat_id, language=where.language,
            user_id=user.user_id, tier=user.tier, priority=self.settings.tier_priority(user.tier),
            operation=operation, params=params, max_attempts=self.settings.max_attempts,
            dedup_key=dedup_key(where.platform, where.chat_id, pending.message_id, operation),
            metadata={**pending.metadata, "as_document": pending.as_document},
        )

    async def _queued_already(self, photo: IncomingPhoto, operation: str) -> bool:
        """A repeated update whose job is queued (its answer not recorded yet): answered now."""
        key = dedup_key(photo.platform, photo.chat_id, photo.message_id, operation)
        queued = await self.queue.find_duplicate(key)
        if queued is None or queued.status_message_id is None:
            return False
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, queued.status_message_id)
        return True

    async def _enqueue_and_answer(
        self,
        photo: IncomingPhoto,
        pending: PendingPhoto,
        choice: tuple[str, dict[str, Any]],
        resend: OutImage | RemoteFile,
    ) -> None:
        """Send the status message, then queue the job with its id: the worker never waits for it."""
        lang, photo_id = photo.language, pending.photo_id
        job = self._job(photo, pending, *choice)
        position = await self.queue.position_of_new(job.user_key, job.priority)
        status_id = await self._open(photo, photo_id, resend, queued_caption(job, position, lang))
        job.status_message_id = status_id
        try:
            queued = (await self.queue.enqueue(job)).job
        except (PendingCapReached, QuotaReached, InvalidJob) as refused:
            # Another photo of the user took the last unit since the check before the download.
            await self.storage.delete(photo_id)  # nothing of a refused photo is kept
            status = self.status.at(photo.platform, photo.chat_id, status_id, job.job_id)
            await status.caption(self._refusal(photo.user, refused, lang))
            queued = job
        status_id = queued.status_message_id or status_id
        await self.answered.set(photo.platform, photo.chat_id, photo.message_id, status_id)

    def _refusal(self, user: UserRecord, refused: Exception, language: str) -> str:
        """What the enqueue's refusal tells the user."""
        if isinstance(refused, PendingCapReached):
            return t("pending_cap", language, cap=self.settings.max_pending_per_user)
        if isinstance(refused, QuotaReached):
            # The quota ran out while the photo waited for its choice: the photo keeps waiting (until
            # STATE_TTL_SECONDS), so it can be chosen again once a unit is back.
            return self.allowances.refusal(user, refused.limit, refused.wait_seconds, language)
        log.warning("job refused", error=str(refused))
        return t("unknown_operation", language)

    # --- the keyboard: another page, or an operation chosen ----------------------------------------
    async def _waiting(self, press: KeyboardPress) -> PendingPhoto | str:
        """The photo still waiting for a choice under this status message, or why it is not."""
        where = (press.platform, press.chat_id, press.user.user_id, press.status_message_id)
        pending = await self.choices.load(*where)
        if pending is None:
            return t("choice_expired", press.language)
        if pending.chosen_job_id is not None:
            return t("already_queued", press.language, job_id=pending.chosen_job_id)
        return pending

    async def show_operations(self, press: KeyboardPress, page: int) -> str | None:
        """Show another page of operations under a waiting photo; a notice when it waits no more."""
        pending = await self._waiting(press)
        if isinstance(pending, str):
            return pending
        keyboard = operations_keyboard(press.language, page, subject=pending.message_id)
        status = self.status.at(press.platform, press.chat_id, press.status_message_id, pending.job_id)
        await status.caption(t("choose_op", press.language), keyboard)
        return None

    async def choose_operation(self, press: KeyboardPress, operation: str) -> str:
        """Enqueue the pending photo of this status message; returns a short notice for the user."""
        pending = await self._waiting(press)
        if isinstance(pending, str):
            return pending
        try:
            get_operation(operation)
        except UnknownOperation:
            return t("unknown_operation", press.language)
        job = self._job(press, pending, operation, {})
        job.status_message_id = press.status_message_id
        result = await self._enqueue_choice(job, press.user, press.language)
        if isinstance(result, str):
            return result
        pending.chosen_job_id = result.job.job_id
        where = (press.platform, press.chat_id, press.user.user_id, press.status_message_id)
        await self.choices.save(*where, pending)
        await self.waiting.remove(press.user.key, pending.job_id)
        position = await self.status.show_queued(result.job)
        return queued_caption(result.job, position, press.language)

    async def _enqueue_choice(self, job: Job, user: UserRecord, language: str) -> EnqueueResult | str:
        """The enqueued job, or the refusal to show on the button."""
        try:
            return await self.queue.enqueue(job)
        except (PendingCapReached, QuotaReached, InvalidJob) as refused:
            return self._refusal(user, refused, language)


def dedup_key(platform: Platform, chat_id: int, message_id: int, operation: str) -> str:
    """A photo's job is queued once per operation, however often the platform delivers it."""
    return f"{platform.short}:{chat_id}:{message_id}:{operation}"
