"""The VK bot end to end: `python -m photobot run` against the fake VK and a real redis-server, with
the real vkbottle speaking HTTP to the fake. What a VK user sees is read back through the fake."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fakes.vk import FakeVK, VisibleMessage
from tests.vk_support import PhotobotProcess, photo, results, sends_to, texts, wait_results, wait_text

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ADMIN = 7001


@pytest.fixture
def bot(vk: FakeVK, redis_url: str, tmp_path: Path) -> Iterator[PhotobotProcess]:
    process = PhotobotProcess(vk, redis_url, tmp_path / "bot", VK_ADMIN_IDS=str(ADMIN))
    process.start(vk)
    yield process
    code = process.stop()
    assert code == 0, process.log_tail()
    assert vk.token not in process.log_text()


def is_sepia(data: bytes) -> bool:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    r, g, b = image.resize((8, 8)).getpixel((4, 4))  # type: ignore[misc]
    return r >= g >= b and r > b


def test_photo_with_a_caption_comes_back_processed(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(101, lang_id=3)
    original = photo(1, (120, 90))
    vk.inject_photo(101, original, "sepia")
    [result] = wait_results(vk, 101, bot=bot)
    assert result.text.startswith("✅ Sepia")
    assert len(result.photos) == 1 and result.photos[0] != original
    assert is_sepia(result.photos[0])
    assert Image.open(io.BytesIO(result.photos[0])).size == (120, 90)
    # One message: the status that became the result by edits, sent with a random_id.
    assert len(vk.visible_messages(101)) == 1
    assert result.edits >= 1
    [send] = vk.calls("messages.send")
    assert int(send.params["random_id"]) != 0


def test_keyboard_flow(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(102, lang_id=3)
    sent = vk.inject_photo(102, photo(2))
    vk.wait_for_sync(lambda: any(m.keyboard for m in vk.visible_messages(102)), 30)
    [status] = vk.visible_messages(102)
    assert status.text.startswith("What should I do")
    assert status.keyboard is not None and status.keyboard["inline"] is True
    buttons = [button["action"] for row in status.keyboard["buttons"] for button in row]
    grayscale = next(b for b in buttons if b["payload"]["op"] == "grayscale")
    assert grayscale["payload"]["m"] == sent["id"]
    vk.inject_payload(102, grayscale["payload"], grayscale["label"])
    [result] = wait_results(vk, 102, bot=bot)
    assert result.id == status.id and result.keyboard is None
    image = Image.open(io.BytesIO(result.photos[0])).convert("RGB")
    r, g, b = image.getpixel((10, 10))  # type: ignore[misc]
    assert r == g == b
    # The same button pressed again is answered, and nothing runs twice.
    vk.inject_payload(102, grayscale["payload"], grayscale["label"])
    wait_text(vk, 102, "Already chosen", bot=bot)
    assert len(results(vk, 102)) == 1


def buttons_of(message: VisibleMessage) -> list[dict[str, Any]]:
    assert message.keyboard is not None
    return [button["action"] for row in message.keyboard["buttons"] for button in row]


def test_keyboard_fits_vk_and_pages_to_every_operation(vk: FakeVK, bot: PhotobotProcess) -> None:
    """The fake refuses a keyboard over VK's limits (error 911), so the offer being shown at all
    proves it fits; "More ›" turns the page in the same message, and a page-2 operation runs.
    A page button of a photo already chosen, and a forged page payload, are answered politely."""
    vk.set_user(108, lang_id=3)
    sent = vk.inject_photo(108, photo(8))
    vk.wait_for_sync(lambda: any(m.keyboard for m in vk.visible_messages(108)), 30)
    [offer] = vk.visible_messages(108)
    first = buttons_of(offer)
    assert len(first) <= 10 and first[-1]["label"] == "More ›"
    assert first[-1]["payload"] == {"ops": 1, "m": sent["id"]}
    vk.inject_payload(108, first[-1]["payload"], first[-1]["label"])
    vk.wait_for_sync(
        lambda: any(b["payload"].get("op") == "contour" for b in buttons_of(vk.visible_messages(108)[0])), 30
    )
    [paged] = vk.visible_messages(108)
    assert paged.id == offer.id and paged.photos == offer.photos  # the photo stays under the new page
    contour = next(b for b in buttons_of(paged) if b["payload"].get("op") == "contour")
    vk.inject_payload(108, contour["payload"], contour["label"])
    [result] = wait_results(vk, 108, bot=bot)
    assert result.id == offer.id and result.keyboard is None and result.text.startswith("✅ Contour")
    vk.inject_payload(108, first[-1]["payload"], first[-1]["label"])
    wait_text(vk, 108, "Already chosen", bot=bot)
    vk.inject_payload(108, {"ops": 1, "m": 424242}, "More ›")
    wait_text(vk, 108, "This photo waited too long", bot=bot)
    assert [c.error_code for c in vk.calls("messages.send") if c.error_code] == []
    assert [c.error_code for c in vk.calls("messages.edit") if c.error_code] == []


def test_a_text_names_the_operation_of_the_waiting_photo(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.inject_photo(103, photo(3))
    vk.wait_for_sync(lambda: any(m.keyboard for m in vk.visible_messages(103)), 30)
    vk.inject_text(103, "негатив")
    [result] = wait_results(vk, 103, bot=bot)
    assert result.text.startswith("✅ Негатив")  # lang_id 0: Russian


def test_several_photos_in_one_message_are_one_job_each(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(104, lang_id=3)
    vk.inject_photos(104, [photo(41), photo(42), photo(43)], "invert")
    shown = wait_results(vk, 104, 3, bot=bot)
    assert len({m.photos[0] for m in shown}) == 3
    assert sends_to(vk, 104) == 3


def test_commands_and_bad_input_are_answered_politely(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(105, lang_id=3)
    vk.inject_text(105, "/help")
    wait_text(vk, 105, "", bot=bot)
    assert "photo" in texts(vk, 105)[0].lower()
    vk.inject_text(105, "!ops")
    vk.wait_for_sync(lambda: any("sepia" in t for t in texts(vk, 105)), 30)
    vk.inject_text(105, "/frobnicate now")
    wait_text(vk, 105, "I do not know the command /frobnicate", bot=bot)
    vk.inject_payload(105, {"op": "sepia"}, "Sepia")  # no photo named: a forged button
    wait_text(vk, 105, "I did not understand that button", bot=bot)
    vk.inject_text(105, "??")
    wait_text(vk, 105, "Send me a photo", bot=bot)
    vk.inject_payload(105, {"op": "sepia", "m": 999999}, "Sepia")
    wait_text(vk, 105, "This photo waited too long", bot=bot)
    vk.inject_text(105, "/status nope")
    wait_text(vk, 105, "No job nope", bot=bot)
    vk.inject_text(105, "/jobs")
    wait_text(vk, 105, "You have no jobs", bot=bot)
    vk.inject_text(105, "/tier")
    wait_text(vk, 105, "Your tier: free", bot=bot)
    vk.inject_text(105, "/stats")
    wait_text(vk, 105, "Sorry, this command is for admins", bot=bot)
    assert not any("{" in text for text in texts(vk, 105))  # every text was filled in


def test_admin_commands_and_a_refused_non_admin(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(ADMIN, lang_id=3)
    vk.set_user(106, lang_id=3)
    vk.inject_text(106, "/ban 107")
    wait_text(vk, 106, "Sorry, this command is for admins", bot=bot)
    vk.inject_text(ADMIN, "/stats")
    wait_text(vk, ADMIN, "Queue", bot=bot)
    vk.inject_text(ADMIN, "/tier 106 premium")
    wait_text(vk, ADMIN, "User vk:106", bot=bot)
    vk.inject_text(106, "/tier")
    wait_text(vk, 106, "Your tier: premium", bot=bot)
    vk.inject_text(ADMIN, "!ban 106")
    wait_text(vk, ADMIN, "User vk:106 is banned", bot=bot)
    vk.inject_photo(106, photo(6), "sepia")
    wait_text(vk, 106, "Sorry, you cannot use this bot", bot=bot)
    assert results(vk, 106) == []
    vk.inject_text(ADMIN, "/unban 106")
    wait_text(vk, ADMIN, "User vk:106 is unbanned", bot=bot)
    vk.inject_photo(106, photo(7), "sepia")
    wait_results(vk, 106, bot=bot)
    vk.inject_text(106, "/jobs")
    jobs_text = wait_text(vk, 106, "Your jobs", bot=bot)
    job_id = jobs_text.splitlines()[1].split(" · ")[0].removeprefix("• ")
    vk.inject_text(ADMIN, f"/job {job_id}")
    record = wait_text(vk, ADMIN, "{", bot=bot)
    assert '"platform": "vk"' in record and '"user_id": "106"' in record


def test_premium_on_vk_comes_from_an_admin(vk: FakeVK, bot: PhotobotProcess) -> None:
    """VK has no Stars: /premium says so, an admin's /grant gives premium, /tier shows its end."""
    vk.set_user(ADMIN, lang_id=3)
    vk.set_user(108, lang_id=3)
    vk.inject_text(108, "/premium")
    wait_text(vk, 108, "Premium is bought with Telegram Stars", bot=bot)
    vk.inject_text(ADMIN, "/grant 108 5")
    assert "Premium until" in wait_text(vk, ADMIN, "User vk:108:", bot=bot)
    vk.inject_text(108, "/tier")
    tier = wait_text(vk, 108, "Your tier: premium.", bot=bot)
    assert "Photos left for the last 24 hours: 500 of 500." in tier and "Premium until" in tier
