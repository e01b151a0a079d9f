"""The platform-neutral chat side on a real Redis, the real queue, local storage and the real image
processor, with a recording adapter in place of the chat platform.

Bad input covered: a repeated update, a file over the download limit, a caption with a bad value
("blur 500"), a corrupt image, a photo without faces for a face operation, an expired or repeated
keyboard choice, a crash after the result was stored (resumes without processing again), a photo
whose pending-cap unit another photo took while it was being stored.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable

import pytest
from PIL import Image

from photobot.bot.adapter import OutImage
from photobot.bot.i18n import t
from photobot.bot.service import IncomingPhoto, KeyboardPress
from photobot.config import Settings
from photobot.jobs import JobStatus, Platform
from tests.bot_support import ChatSide, chat_side
from tests.conftest import ASTRONAUT


@pytest.fixture
async def side(make_settings: Callable[..., Settings]) -> AsyncIterator[ChatSide]:
    async with chat_side(make_settings(process_workers=1)) as built:
        built.adapter.files["astro"] = ASTRONAUT.read_bytes()
        yield built


async def photo(
    side: ChatSide,
    message_id: int,
    caption: str | None = None,
    ref: str = "astro",
    lang: str = "en",
    **kw: object,
) -> IncomingPhoto:
    user = await side.users.get("tg:42")
    return IncomingPhoto(
        platform=Platform.TELEGRAM,
        chat_id=42,
        message_id=message_id,
        user=user,
        language=lang,
        file_ref=ref,
        filename="a.png",
        mime="image/png",
        caption=caption,
        resend_ref=ref,
        **kw,  # type: ignore[arg-type]
    )


def decoded(image: object) -> Image.Image:
    assert isinstance(image, OutImage)
    return Image.open(io.BytesIO(image.data))


async def test_caption_sepia_becomes_the_result_in_place(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1, "sepia"))
    [status] = side.adapter.log
    assert (
        status.kind == "photo" and status.text is not None and status.text.startswith("⏳ Queued, position 1")
    )
    # Picked up at once and done before the notice is due: "queued", then the result, no
    # "processing". The notice delay is long here so a slow machine cannot make the work "slow".
    side.pipeline.notice_after_seconds = 60.0
    ctx = await side.run_one()
    assert side.adapter.kinds() == ["photo", "edit_media"]
    result = side.adapter.messages[status.message_id]
    assert result.text == "✅ Sepia" or (result.text or "").startswith("✅")
    r, g, b = decoded(result.image).convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    assert r >= g >= b  # sepia tones
    job = await side.queue.get(ctx.job.job_id)
    assert job is not None and job.delivered and job.status is JobStatus.COMPLETED and job.result_ids


async def test_a_repeated_update_is_answered_once(side: ChatSide) -> None:
    for _ in range(3):
        await side.service.accept_photo(await photo(side, 1, "sepia"))
    assert side.adapter.kinds() == ["photo"]
    _, total = await side.queue.user_jobs("tg:42")
    assert total == 1


async def test_keyboard_choice_enqueues_once(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 5, "my cat"))
    [offer] = side.adapter.log
    assert offer.keyboard is not None and offer.text == "What should I do with this photo?"
    user = await side.users.get("tg:42")
    choose = side.service.choose_operation
    press = KeyboardPress(Platform.TELEGRAM, 42, offer.message_id, user, "en")
    notice = await choose(press, "grayscale")
    assert notice.startswith("⏳ Queued, position 1")
    assert side.adapter.messages[offer.message_id].keyboard is None
    again = await choose(press, "sepia")
    assert again.startswith("Already chosen")
    expired = await choose(KeyboardPress(Platform.TELEGRAM, 42, 999_999, user, "ru"), "sepia")
    assert expired == "Это фото ждало слишком долго; пришлите его ещё раз."
    await side.run_one()
    assert side.adapter.log[-1].kind == "edit_media" and side.adapter.log[-1].message_id == offer.message_id
    assert decoded(side.adapter.log[-1].image).mode in ("L", "RGB")


async def test_a_unit_taken_while_the_photo_was_stored_refuses_it_in_its_status_message(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending cap (1) was free at the check before the download, and another photo took it
    before this one was queued: its status message says so, nothing is queued and the stored
    original is deleted."""
    settings = make_settings(process_workers=1, max_pending_per_user=1)
    async with chat_side(settings) as side:
        side.adapter.files["astro"] = ASTRONAUT.read_bytes()
        await side.service.accept_photo(await photo(side, 1, "sepia"))
        stored = sorted(settings.resolved_storage_dir.rglob("*.*"))

        async def passed_before_the_other_was_queued(_: IncomingPhoto) -> bool:
            return False

        monkeypatch.setattr(side.service, "_refused_before_download", passed_before_the_other_was_queued)
        await side.service.accept_photo(await photo(side, 2, "grayscale"))
        first, second = side.adapter.log[0], side.adapter.log[1]
        assert second.kind == "photo" and second.message_id != first.message_id
        assert side.adapter.messages[second.message_id].text == t("pending_cap", "en", cap=1)
        assert (await side.queue.user_jobs("tg:42"))[1] == 1
        assert sorted(settings.resolved_storage_dir.rglob("*.*")) == stored


async def test_too_big_file_is_refused(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 2, "sepia", file_size=50 * 1024 * 1024))
    [answer] = side.adapter.log
    assert answer.kind == "text" and "20 MB" in (answer.text or "")
    assert (await side.queue.user_jobs("tg:42"))[1] == 0


async def test_bad_caption_value_is_explained(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 3, "blur 500", lang="ru"))
    [answer] = side.adapter.log
    assert answer.kind == "text" and (answer.text or "").startswith("❌")
    assert (await side.queue.user_jobs("tg:42"))[1] == 0


async def test_corrupt_image_fails_with_its_message(side: ChatSide) -> None:
    side.adapter.files["junk"] = b"\x89PNG\r\n\x1a\n" + b"garbage" * 100
    await side.service.accept_photo(await photo(side, 4, "sepia", ref="junk", lang="ru"))
    status = side.adapter.log[0]
    with pytest.raises(Exception):  # noqa: B017 - the processing error, recorded by the queue
        await side.run_one()
    caption = side.adapter.messages[status.message_id].text or ""
    assert caption.startswith("❌") and "Traceback" not in caption
    jobs, _ = await side.queue.user_jobs("tg:42")
    assert jobs[0].status is JobStatus.FAILED


async def test_no_faces_is_said_plainly(side: ChatSide) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(buffer, "PNG")
    side.adapter.files["sky"] = buffer.getvalue()
    await side.service.accept_photo(await photo(side, 6, "faces_blur", ref="sky"))
    with pytest.raises(Exception):  # noqa: B017
        await side.run_one()
    caption = side.adapter.messages[side.adapter.log[0].message_id].text or ""
    assert caption.startswith("❌") and "face" in caption.lower()


async def test_faces_crop_edits_in_the_first_face(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 7, "faces_crop"))
    await side.run_one()
    assert side.adapter.kinds()[-1] == "edit_media"
    assert "1" in (side.adapter.log[-1].text or "")


async def test_a_job_that_waited_in_the_queue_says_processing_first(side: ChatSide) -> None:
    side.pipeline.notice_after_seconds = 0.2
    await side.service.accept_photo(await photo(side, 11, "sepia"))
    await asyncio.sleep(0.3)  # longer than the notice delay: the user has been looking at "queued"
    await side.run_one()
    assert side.adapter.kinds() == ["photo", "edit_caption", "edit_media"]
    notice = side.adapter.log[1].text or ""
    assert notice.startswith("⚙️") and side.adapter.log[2].text == "✅ Sepia"


async def test_slow_work_says_processing_while_it_runs(side: ChatSide) -> None:
    side.pipeline.notice_after_seconds = 0.0  # any work at all counts as slow
    await side.service.accept_photo(await photo(side, 12, "sepia"))
    await side.run_one()
    assert side.adapter.kinds() == ["photo", "edit_caption", "edit_media"]
    assert (side.adapter.log[1].text or "").startswith("⚙️")


async def test_a_photo_result_is_no_larger_than_a_chat_shows(side: ChatSide) -> None:
    big = io.BytesIO()
    Image.new("RGB", (3000, 2000), (120, 90, 60)).save(big, "JPEG")
    side.adapter.files["big"] = big.getvalue()
    await side.service.accept_photo(await photo(side, 13, "invert", ref="big"))
    await side.run_one()
    [edit] = [s for s in side.adapter.log if s.kind == "edit_media"]
    assert decoded(edit.image).size == (1280, 853)


async def test_a_rerun_after_the_result_was_stored_does_not_process_again(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 8, "invert"))
    leases = await side.queue.lease("w1", 1, timeout=5)
    from photobot.queue import JobContext

    ctx = JobContext(job=leases[0].job, lease=leases[0], queue=side.queue)
    await side.queue.save_progress(
        ctx.lease,
        result_ids=[
            await side.pipeline.storage.put(
                b"not an image; must not be processed again",
                "r.jpg",
                "image/jpeg",
                {"job_id": ctx.job.job_id, "user_id": "tg:42", "kind": "result"},
            )
        ],
        metadata={"results": [{"name": "r.jpg", "mime": "image/jpeg", "document": False}]},
    )
    job = await side.queue.get(ctx.job.job_id)
    assert job is not None
    ctx.job = job
    await side.pipeline(ctx)
    edits = [s for s in side.adapter.log if s.kind == "edit_media"]
    assert len(edits) == 1 and isinstance(edits[0].image, OutImage)
    assert edits[0].image.data.startswith(b"not an image")
    assert side.adapter.kinds().count("edit_caption") == 0  # no "processing" again either
