"""Telegram end to end across crashes: photobot killed with SIGKILL and started again, against the
fake Bot API and a real redis-server. Whatever the instant of the crash, every photo gets exactly one
visible result, and updates sent while photobot was down are answered when it is back.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ASTRONAUT
from tests.fakes.telegram import FakeTelegram
from tests.telegram_support import (
    BotProcess,
    handled,
    results,
    sent_photos,
    small_image,
    texts,
    wait_results,
    wait_text,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ADMIN = 1
FAST_RECOVERY = {
    "lease_seconds": 2,
    "retry_base_seconds": 0.2,
    "admin_ids": ADMIN,
    "tg_chat_rate": 50,
    "tg_chat_burst": 10,
}


@pytest.fixture
def spawn(tg: FakeTelegram, redis_url: str, tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """Make photobot processes of this test; any still running at its end is killed."""
    with contextlib.ExitStack() as stack:

        def make(mode: str = "run") -> BotProcess:
            return stack.enter_context(BotProcess(tg, redis_url, tmp_path, mode=mode, **FAST_RECOVERY))

        yield make


def status_caption(tg: FakeTelegram, chat_id: int) -> str:
    photos = [m for m in tg.visible_messages(chat_id) if m.kind in ("photo", "document")]
    return (photos[-1].text or "") if photos else ""


def job_record(tg: FakeTelegram, job_id: str) -> dict[str, object]:
    before = len(texts(tg, ADMIN))
    tg.inject_text(ADMIN, f"/job {job_id}")
    tg.wait_for_sync(lambda: len(texts(tg, ADMIN)) > before, 30)
    record: dict[str, object] = json.loads(texts(tg, ADMIN)[-1])
    return record


def test_photos_sent_while_down_and_a_crash_before_processing(
    tg: FakeTelegram, spawn: Callable[..., BotProcess]
) -> None:
    # Sent while photobot is down: answered when it comes up (pending updates are never dropped).
    tg.inject_photo(201, small_image(201), caption="sepia")
    chat_side = spawn("bot").start(tg)
    tg.wait_for_sync(lambda: status_caption(tg, 201).startswith("⏳ Queued, position 1"), 30)
    job_a = status_caption(tg, 201).rsplit(" ", 1)[-1]
    # A second photo, cancelled while it waits (no workers run in `bot` mode).
    tg.inject_photo(202, small_image(202), caption="invert")
    tg.wait_for_sync(lambda: status_caption(tg, 202).startswith("⏳ Queued"), 30)
    job_b = status_caption(tg, 202).rsplit(" ", 1)[-1]
    tg.inject_text(202, f"/status {job_b}")
    assert "Position in the queue: 1" in wait_text(tg, 202, f"Job {job_b}")
    tg.inject_text(202, f"/cancel {job_b}")
    wait_text(tg, 202, f"Job {job_b} is cancelled.")
    tg.wait_for_sync(lambda: status_caption(tg, 202).startswith("🚫 Cancelled"), 30)
    chat_side.kill()

    full = spawn("run").start(tg)
    [result] = wait_results(tg, 201, 1, bot=full)
    assert result.text and result.text.startswith("✅") and sent_photos(tg, 201) == 1
    assert len(tg.visible_messages(201)) == 1
    time.sleep(1.0)  # time for a wrong result to show: the cancelled job must stay without one
    assert results(tg, 202) == [] and status_caption(tg, 202).startswith("🚫")
    assert job_record(tg, job_a)["status"] == "completed"
    assert full.stop() == 0


def big_face_photo() -> bytes:
    """A 12 MP JPEG with a face (the astronaut, enlarged), so that processing takes a moment."""
    buffer = io.BytesIO()
    Image.open(ASTRONAUT).convert("RGB").resize((3500, 3500), Image.Resampling.BICUBIC).save(
        buffer, "JPEG", quality=85
    )
    return buffer.getvalue()


def test_killed_while_processing(
    tg: FakeTelegram, spawn: Callable[..., BotProcess], redis_url: str
) -> None:
    chat_side = spawn("bot").start(tg)
    update_id = tg.inject_photo(203, big_face_photo(), caption="faces_blur")
    tg.wait_for_sync(lambda: status_caption(tg, 203).startswith("⏳ Queued"), 30)
    # Handled: the job and its status message are recorded in Redis.
    wait_until(lambda: handled(tg, redis_url, update_id), 30)
    chat_side.kill()
    # A worker-only process leases the job, says "processing", and dies in the middle of it.
    worker = spawn("worker").start(tg, wait_ready=False)
    tg.wait_for_sync(lambda: status_caption(tg, 203).startswith("⚙️"), 90)
    worker.kill()
    assert status_caption(tg, 203).startswith("⚙️"), "the result came before the kill"
    full = spawn().start(tg)
    [result] = wait_results(tg, 203, 1, timeout=90, bot=full)
    assert "1" in (result.text or "")  # faces found: 1
    assert len(tg.visible_messages(203)) == 1 and sent_photos(tg, 203) == 1
    assert full.stop() == 0


def test_killed_between_the_result_and_its_record(tg: FakeTelegram, spawn: Callable[..., BotProcess]) -> None:
    bot = spawn().start(tg)
    tg.inject_photo(204, small_image(204), caption="sepia")

    def result_edited() -> bool:
        return any(c.ok and str(c.chat_id) == "204" for c in tg.calls("editMessageMedia"))

    tg.wait_for_sync(result_edited, 60)
    bot.kill()  # Telegram has the result; the job may not have recorded it yet
    job_id = next(v.text for v in tg.visible_messages(204)[0].versions if v.text).rsplit(" ", 1)[-1]
    again = spawn().start(tg)
    wait_until(lambda: job_record(tg, job_id)["status"] == "completed", 30, again.log_tail)
    [result] = results(tg, 204)
    assert len(tg.visible_messages(204)) == 1 and sent_photos(tg, 204) == 1
    assert result.text and result.text.startswith("✅")
    assert again.stop() == 0


def test_sigterm_with_work_in_hand_finishes_it(tg: FakeTelegram, spawn: Callable[..., BotProcess]) -> None:
    bot = spawn().start(tg)
    for user in range(210, 215):
        tg.inject_photo(user, small_image(user), caption="emboss")
    tg.wait_for_sync(lambda: any(status_caption(tg, u) for u in range(210, 215)), 30)
    assert bot.stop() == 0
    again = spawn().start(tg)
    for user in range(210, 215):
        wait_results(tg, user, 1, bot=again)
        assert sent_photos(tg, user) == 1
    assert again.stop() == 0
