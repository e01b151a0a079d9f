"""Telegram end to end: `python -m photobot run` as a subprocess, the real aiogram talking HTTP to the
fake Bot API, a real redis-server, local storage in a temporary folder. One bot process serves the
whole module; each test plays its own users.

Bad input covered: a PDF instead of an image, a corrupt image file, a file over 20 MB, a flood of
photos, a banned user, a non-admin's admin command, unknown job ids, someone else's job id, an
unknown tier, a malformed user id, a 429 storm.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from tests.conftest import ASTRONAUT
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer
from tests.telegram_support import (
    BotProcess,
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


@pytest.fixture(scope="module")
def bot(
    module_tg: FakeTelegram, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    with BotProcess(
        module_tg,
        redis_server.url,
        tmp_path_factory.mktemp("bot"),
        admin_ids=ADMIN,
        flood_limit=5,
        concurrent_jobs=4,
        tg_global_rate=500,
        tg_chat_rate=50,
        tg_chat_burst=10,
        lease_seconds=5,
        retry_base_seconds=0.5,
    ) as process:
        process.start(module_tg)
        yield process
        assert process.stop() == 0, process.log_tail()


def command(tg: FakeTelegram, user: int, text: str, start: str, lang: str = "en") -> str:
    before = len(texts(tg, user))
    tg.inject_text(user, text, language_code=lang)
    tg.wait_for_sync(lambda: len(texts(tg, user)) > before, 30)
    reply = texts(tg, user)[-1]
    assert reply.startswith(start), reply
    return reply


def job_id_of(caption: str) -> str:
    return caption.rsplit(" ", 1)[-1]


def failed_record(tg: FakeTelegram, job_id: str) -> dict[str, Any] | None:
    """The admin's /job record of the job once it says failed (the user hears of the failure just
    before the worker records it)."""
    record: dict[str, Any] = json.loads(command(tg, ADMIN, f"/job {job_id}", "{"))
    return record if record["status"] == "failed" else None


def test_caption_sepia_becomes_a_sepia_photo(tg: FakeTelegram, bot: BotProcess) -> None:
    tg.inject_photo(101, ASTRONAUT.read_bytes(), caption="sepia")
    [result] = wait_results(tg, 101, 1, bot=bot)
    assert len(tg.visible_messages(101)) == 1  # the status message itself became the result
    captions = [v.text or "" for v in result.versions]
    assert captions[0].startswith("⏳ Queued, position") and captions[-1].startswith("✅")
    assert result.data is not None
    image = Image.open(io.BytesIO(result.data)).convert("RGB")
    r, g, b = image.resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    assert r > g > b  # sepia
    assert sent_photos(tg, 101) == 1


def test_russian_caption_gets_russian_answers(tg: FakeTelegram, bot: BotProcess) -> None:
    tg.inject_photo(102, small_image(102), caption="сепия", language_code="ru")
    [result] = wait_results(tg, 102, 1, bot=bot)
    assert result.versions[0].text is not None and result.versions[0].text.startswith("⏳ В очереди")


def test_keyboard_flow(tg: FakeTelegram, bot: BotProcess) -> None:
    tg.inject_photo(103, small_image(103), caption="my cat")
    tg.wait_for_sync(lambda: any(m.buttons() for m in tg.visible_messages(103)), 30)
    [offer] = tg.visible_messages(103)
    data = {d: t for t, d in offer.buttons()}
    assert "op:grayscale" in data and offer.text == "What should I do with this photo?"
    query = tg.inject_callback(103, offer.message_id, "op:grayscale")
    [result] = wait_results(tg, 103, 1, bot=bot)
    assert result.message_id == offer.message_id and not result.buttons()
    answer = tg.callback_answer(query)
    assert answer is not None and (answer.get("text") or "").startswith("⏳ Queued")
    assert result.data is not None
    assert Image.open(io.BytesIO(result.data)).mode in ("L", "RGB")
    # The same button again: nothing new is queued.
    again = tg.inject_callback(103, offer.message_id, "op:grayscale")
    tg.wait_for_sync(lambda: tg.callback_answer(again) is not None, 30)
    assert (tg.callback_answer(again) or {}).get("text", "").startswith(("Already chosen", "This photo"))
    assert sent_photos(tg, 103) == 1


def test_keyboard_pages_reach_every_operation(tg: FakeTelegram, bot: BotProcess) -> None:
    """The shared layout: the first page, "More ›" to the next page in the same message, an
    operation from there. A page button of a photo already chosen changes nothing."""
    tg.inject_photo(131, small_image(131))
    tg.wait_for_sync(lambda: any(m.buttons() for m in tg.visible_messages(131)), 30)
    [offer] = tg.visible_messages(131)
    first = {d: t for t, d in offer.buttons()}
    assert len(first) <= 10 and first.get("ops:1") == "More ›" and "op:contour" not in first
    tg.inject_callback(131, offer.message_id, "ops:1")
    tg.wait_for_sync(lambda: "op:contour" in {d for _, d in tg.visible_messages(131)[0].buttons()}, 30)
    [paged] = tg.visible_messages(131)
    assert paged.message_id == offer.message_id and "ops:0" in {d for _, d in paged.buttons()}
    tg.inject_callback(131, offer.message_id, "op:contour")
    [result] = wait_results(tg, 131, 1, bot=bot)
    assert result.message_id == offer.message_id and not result.buttons()
    late = tg.inject_callback(131, offer.message_id, "ops:0")
    tg.wait_for_sync(lambda: tg.callback_answer(late) is not None, 30)
    assert (tg.callback_answer(late) or {}).get("text", "").startswith(("Already chosen", "This photo"))
    assert sent_photos(tg, 131) == 1


def test_user_commands(tg: FakeTelegram, bot: BotProcess) -> None:
    command(tg, 104, "/start", "Hi!")
    command(tg, 104, "/help", "How to use me")
    assert "sepia" in command(tg, 104, "/ops", "Operations")
    command(tg, 104, "/tier", "Your tier: free")
    tg.inject_photo(104, small_image(104), caption="invert")
    [result] = wait_results(tg, 104, 1, bot=bot)
    job_id = job_id_of(result.versions[0].text or "")
    assert job_id in command(tg, 104, "/jobs", "Your jobs (1–1 of 1)")
    assert command(tg, 104, f"/status {job_id}", f"Job {job_id}").endswith("done")
    command(tg, 104, f"/cancel {job_id}", f"Job {job_id} is done; only waiting jobs")
    command(tg, 104, "/status nosuchjob", "No job nosuchjob")
    command(tg, 104, "/status", "Usage: /status JOB_ID")
    # Someone else's job is not theirs to see or cancel.
    command(tg, 111, f"/status {job_id}", f"No job {job_id}")
    command(tg, 111, f"/cancel {job_id}", f"No job {job_id}")
    menu = tg.commands("ru")
    assert menu and any(item.get("command") == "jobs" for item in menu)


def test_admin_commands_and_refusals(tg: FakeTelegram, bot: BotProcess) -> None:
    command(tg, 105, "/stats", "Sorry, this command is for admins only.")
    command(tg, 105, "/ban 106", "Sorry, this command is for admins only.")
    assert "workers alive: 1" in command(tg, ADMIN, "/stats", "Queue")
    command(tg, ADMIN, "/tier 105 premium", "User tg:105 now has tier premium.")
    command(tg, 105, "/tier", "Your tier: premium.")
    command(tg, ADMIN, "/tier 105 platinum", "Unknown tier platinum")
    command(tg, ADMIN, "/ban abc", "Not a user id: abc.")
    command(tg, ADMIN, "/ban 105", "User tg:105 is banned.")
    tg.inject_photo(105, small_image(105), caption="sepia")
    tg.inject_photo(105, small_image(1050), caption="sepia")
    wait_text(tg, 105, "Sorry, you cannot use this bot.")
    command(tg, ADMIN, "/unban 105", "User tg:105 is unbanned.")
    assert results(tg, 105) == [] and texts(tg, 105).count("Sorry, you cannot use this bot.") == 1
    # A job that failed (a corrupt file), put back by an admin.
    tg.inject_document(106, b"\x89PNG\r\n\x1a\n" + b"\x00" * 300, "broken.png", "image/png", caption="sepia")
    tg.wait_for_sync(lambda: any((m.text or "").startswith("❌") for m in tg.visible_messages(106)), 30)
    [status] = tg.visible_messages(106)
    job_id = job_id_of(status.versions[0].text or "")
    record = wait_until(lambda: failed_record(tg, job_id), 10, f"job {job_id} to be recorded as failed", 0.2)
    assert record["operation"] == "sepia"
    assert record["error"]["code"] == "corrupt" or record["error"]["code"].startswith("unsupported")
    command(tg, ADMIN, f"/requeue {job_id}", f"Job {job_id} is back in the queue.")
    command(tg, ADMIN, "/requeue nosuchjob", "No job nosuchjob")


def test_flood_control_warns_once(tg: FakeTelegram, bot: BotProcess) -> None:
    for i in range(8):
        tg.inject_photo(107, small_image(700 + i), caption="grayscale")
    wait_results(tg, 107, 5, bot=bot)
    warning = wait_text(tg, 107, "You are sending photos too fast")
    assert "up to 5 per 60 s" in warning
    assert texts(tg, 107).count(warning) == 1
    assert len(results(tg, 107)) == 5 and sent_photos(tg, 107) == 5


def test_bad_files_are_answered_while_others_are_served(
    tg: FakeTelegram, bot: BotProcess, tmp_path: Path
) -> None:
    tg.inject_document(108, b"%PDF-1.4 not a picture", "doc.pdf", "application/pdf")
    tg.inject_document(108, b"\xff\xd8\xff" + b"\x00" * (21 * 1024 * 1024), "huge.jpg", "image/jpeg")
    tg.inject_document(108, b"GIF89a" + b"\x01" * 50, "broken.gif", "image/gif", caption="sepia")
    tg.inject_photo(109, small_image(109), caption="blur")
    wait_results(tg, 109, 1, bot=bot)
    wait_text(tg, 108, "Please send a photo or an image file")
    wait_text(tg, 108, "This file is too large: the limit is 20 MB.")
    tg.wait_for_sync(lambda: any((m.text or "").startswith("❌") for m in tg.visible_messages(108)), 30)
    assert not any("Traceback" in (m.text or "") for m in tg.visible_messages(108))


def test_a_429_storm_loses_nothing(tg: FakeTelegram, bot: BotProcess) -> None:
    users = range(120, 125)
    tg.storm(0.4, retry_after=1, duration=6)
    for user in users:
        tg.inject_photo(user, small_image(user), caption="sepia")
        tg.inject_photo(user, small_image(user + 1000), caption="invert")
    for user in users:
        wait_results(tg, user, 2, timeout=90, bot=bot)
    tg.calm()
    assert any(call.status == 429 for call in tg.calls())
    for user in users:
        assert len(results(tg, user)) == 2 and sent_photos(tg, user) == 2


def test_hundred_users_three_photos_each(tg: FakeTelegram, bot: BotProcess) -> None:
    users = range(2000, 2100)
    for round_ in range(3):
        for user in users:
            tg.inject_photo(user, small_image(user * 10 + round_, size=32), caption="grayscale")
    for user in users:
        wait_results(tg, user, 3, timeout=150, bot=bot)
    for user in users:
        assert len(results(tg, user)) == 3, tg.visible_messages(user)
        assert sent_photos(tg, user) == 3  # each result delivered exactly once
