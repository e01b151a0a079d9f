"""The status message of a job (photobot.bot.core.status) on a real Redis, the real queue, local
storage and the real image processor, with a recording adapter in place of the chat platform.

It is sent before the enqueue and the job is queued with its id, so the worker never waits for it.
Bad input covered: a chat that blocked the bot before its status message could be sent (nothing
queued, nothing kept), a chat that blocked the bot while its job waited (the delivery ends, the job
is not retried), a status message the user deleted (the result comes anew), a repeated update
after a crash between the enqueue and the recorded answer (no second message, no second job).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from photobot.bot.adapter import MessageGone, OutImage, RecipientUnavailable
from photobot.bot.core.status import Undeliverable
from photobot.bot.service import IncomingPhoto
from photobot.config import Settings
from photobot.gdrive.ledger import TrackedStorage
from photobot.jobs import JobStatus, Platform
from tests.bot_support import ChatSide, RecordingAdapter, Sent, chat_side
from tests.conftest import ASTRONAUT


@dataclass
class BlockingAdapter(RecordingAdapter):
    """A chat whose user may block the bot, or delete a message, at any moment."""

    blocked: bool = False
    deleted: frozenset[int] = frozenset()

    def _new(self, sent: Sent) -> int:  # every send
        self._refuse_if_blocked()
        return super()._new(sent)

    async def edit_caption(self, *args: Any, **kwargs: Any) -> None:
        self._refuse_if_blocked()
        await super().edit_caption(*args, **kwargs)

    async def edit_media(self, chat_id: int, message_id: int, image: OutImage, *, caption: str) -> None:
        self._refuse_if_blocked()
        if message_id in self.deleted:
            raise MessageGone("message to edit not found")
        await super().edit_media(chat_id, message_id, image, caption=caption)

    def _refuse_if_blocked(self) -> None:
        if self.blocked:
            raise RecipientUnavailable("Forbidden: bot was blocked by the user")


@pytest.fixture
async def side(make_settings: Callable[..., Settings]) -> AsyncIterator[ChatSide]:
    async with chat_side(make_settings(process_workers=1)) as built:
        adapter = BlockingAdapter(files={"astro": ASTRONAUT.read_bytes()})
        built.adapter = adapter
        for adapters in (built.service.adapters, built.pipeline.adapters):
            adapters[Platform.TELEGRAM] = adapter  # type: ignore[index]
        built.pipeline.notice_after_seconds = 60.0
        yield built


def blocking(side: ChatSide) -> BlockingAdapter:
    assert isinstance(side.adapter, BlockingAdapter)
    return side.adapter


async def photo(
    side: ChatSide, message_id: int, caption: str | None = "sepia", user: int = 42
) -> IncomingPhoto:
    return IncomingPhoto(
        platform=Platform.TELEGRAM, chat_id=user, message_id=message_id,
        user=await side.users.get(f"tg:{user}"), language="en", file_ref="astro",
        filename="a.png", mime="image/png", caption=caption, resend_ref="astro",
    )


async def test_the_job_is_queued_with_its_status_message(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1))
    [status] = side.adapter.log
    [job], _ = await side.queue.user_jobs("tg:42")
    assert job.status_message_id == status.message_id and job.status is JobStatus.PENDING


async def test_the_position_shown_before_the_enqueue_is_the_queues(side: ChatSide) -> None:
    """Three users' photos, the first user's three times: each caption's position, worked out before
    the enqueue, is the one the queue gives the job once queued (round robin between users, a
    user's own jobs in order, a premium tier ahead of all)."""
    await side.users.set_tier("tg:45", "premium")
    positions = []
    for message_id, user in [(1, 42), (2, 42), (3, 43), (4, 44), (5, 42), (6, 45), (7, 43)]:
        await side.service.accept_photo(await photo(side, message_id, user=user))
        [job], _ = await side.queue.user_jobs(f"tg:{user}", limit=1)
        assert job.status_message_id == side.adapter.log[-1].message_id
        position = await side.queue.position(job.job_id)
        shown = side.adapter.log[-1].text or ""
        assert shown.startswith(f"⏳ Queued, position {position or 1}."), (message_id, shown, position)
        positions.append(position)
    assert positions[:6] == [0, 1, 1, 2, 4, 0], positions  # 42's third waits for 43's and 44's first


async def test_a_chat_that_blocked_the_bot_gets_no_job_and_keeps_nothing(side: ChatSide) -> None:
    blocking(side).blocked = True
    for caption in ("sepia", None):  # a named operation, and the keyboard
        with pytest.raises(Undeliverable):
            await side.service.accept_photo(await photo(side, 7 if caption else 8, caption))
    _, total = await side.queue.user_jobs("tg:42")
    assert total == 0 and side.adapter.log == []
    storage = side.service.storage
    assert isinstance(storage, TrackedStorage)
    assert await storage.ledger.user_files("tg:42") == []  # the originals are gone


async def test_a_chat_blocked_while_its_job_waited_ends_the_delivery(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1))
    blocking(side).blocked = True
    ctx = await side.run_one()  # no exception: the job ends, it is not retried
    job = await side.queue.get(ctx.job.job_id)
    assert job is not None and job.status is JobStatus.COMPLETED and not job.delivered
    assert job.metadata.get("undeliverable") is True
    assert side.adapter.kinds() == ["photo"]


async def test_a_deleted_status_message_gets_the_result_anew(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1))
    [status] = side.adapter.log
    blocking(side).deleted = frozenset({status.message_id})
    ctx = await side.run_one()
    assert side.adapter.kinds() == ["photo", "photo"]
    job = await side.queue.get(ctx.job.job_id)
    assert job is not None and job.delivered and job.status_message_id == side.adapter.log[-1].message_id


async def test_a_failure_edits_the_status_at_once(side: ChatSide) -> None:
    """A file that fails as soon as the worker reads it: the status message is on the job already,
    so its caption ends in the failure, with no wait and nothing else sent."""
    side.adapter.files["svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'
    incoming = await photo(side, 1)
    await side.service.accept_photo(
        IncomingPhoto(**{**incoming.__dict__, "file_ref": "svg", "resend_ref": "svg"})
    )
    with pytest.raises(Exception):  # noqa: B017 - the pipeline re-raises the job's error for the worker
        await side.run_one()
    assert side.adapter.kinds() == ["photo", "edit_caption"]
    assert (side.adapter.log[-1].text or "").startswith("❌")


async def test_a_repeat_after_a_crash_before_the_answer_was_recorded_is_answered_once(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1))
    await side.redis.delete(*[key async for key in side.redis.scan_iter("*:answered:*")])
    await side.service.accept_photo(await photo(side, 1))
    assert side.adapter.kinds() == ["photo"]
    _, total = await side.queue.user_jobs("tg:42")
    assert total == 1
