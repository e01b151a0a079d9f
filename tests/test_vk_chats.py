"""VK end to end beyond one photo in a private chat: documents in and out, group chats with mentions
and the keyboard, a user who blocked the community, and a flood beside a calm user. One
`python -m photobot run` against the fake VK (the real vkbottle, a real redis-server) serves the
module; each test plays its own users.

Bad input tried: an executable sent as a file, a button pressed by someone other than the photo's
sender in a group chat, a user who denied messages (error 901 on every send), a burst of 100 texts
and 100 forged button presses from one user."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from PIL import Image

from tests.fakes.vk import FakeVK, VisibleMessage
from tests.fixtures.redis_server import RedisServer
from tests.vk_support import PhotobotProcess, photo, texts, wait_results, wait_text

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

CHAT = 2_000_000_001


@pytest.fixture(scope="module")
def bot(
    module_vk: FakeVK, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PhotobotProcess]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    process = PhotobotProcess(module_vk, redis_server.url, tmp_path_factory.mktemp("vkbot"))
    process.start(module_vk)
    yield process
    assert process.stop() == 0, process.log_tail()
    assert module_vk.token not in process.log_text()


def document_results(vk: FakeVK, peer_id: int) -> list[VisibleMessage]:
    return [m for m in vk.visible_messages(peer_id) if m.documents and m.text.startswith("✅")]


def buttons(message: VisibleMessage) -> list[dict[str, Any]]:
    assert message.keyboard is not None
    return [b["action"] for row in message.keyboard["buttons"] for b in row]


def png(seed: int, size: tuple[int, int] = (80, 60)) -> bytes:
    return photo(seed, size)


def test_an_image_sent_as_a_document_comes_back_as_a_document(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(201, lang_id=3)
    original = png(201)
    vk.inject_document(201, "holiday.png", original, "grayscale")
    vk.wait_for_sync(lambda: bool(document_results(vk, 201)), 60)
    [result] = document_results(vk, 201)
    assert result.photos == () and result.text.startswith("✅ Black and white")
    [(title, data)] = result.documents
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (80, 60) and data != original
    r, g, b = image.getpixel((5, 5))  # type: ignore[misc]
    assert r == g == b
    assert title.endswith((".png", ".jpg")) and ".." not in title
    assert [c for c in vk.calls() if c.method.startswith("docs.") and c.error_code] == []


def test_a_document_without_a_caption_offers_the_keyboard_on_the_document(
    vk: FakeVK, bot: PhotobotProcess
) -> None:
    vk.set_user(202, lang_id=3)
    sent = vk.inject_document(202, "scan.png", png(202))
    vk.wait_for_sync(lambda: any(m.keyboard for m in vk.visible_messages(202)), 60)
    [offer] = vk.visible_messages(202)
    assert offer.documents and not offer.photos
    invert = next(b for b in buttons(offer) if b["payload"] == {"op": "invert", "m": sent["id"]})
    vk.inject_payload(202, invert["payload"], str(invert["label"]))
    vk.wait_for_sync(lambda: bool(document_results(vk, 202)), 60)
    [result] = document_results(vk, 202)
    assert result.id == offer.id and result.keyboard is None


def test_a_file_that_is_not_an_image_is_refused_politely(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(203, lang_id=3)
    vk.inject_document(203, "tool.exe", b"MZ\x90\x00" * 100)
    wait_text(vk, 203, "", bot=bot)
    assert "image" in texts(vk, 203)[0].lower() or "photo" in texts(vk, 203)[0].lower()


def test_group_chat_with_a_mention_a_caption_and_the_keyboard(vk: FakeVK, bot: PhotobotProcess) -> None:
    vk.set_user(301, lang_id=3)
    vk.set_user(302, lang_id=3)
    vk.inject_text(301, f"[club{vk.group_id}|@photobot] /help", peer_id=CHAT)
    wait_text(vk, CHAT, "How to use me", bot=bot)
    vk.inject_text(301, "just chatting", peer_id=CHAT)  # no hint in a group chat
    vk.inject_photo(301, photo(301), "sepia", peer_id=CHAT)
    wait_results(vk, CHAT, 1, bot=bot)
    sent = vk.inject_photo(302, photo(302), peer_id=CHAT)
    vk.wait_for_sync(lambda: any(m.keyboard for m in vk.visible_messages(CHAT)), 60)
    offer = next(m for m in vk.visible_messages(CHAT) if m.keyboard)
    grayscale = next(b for b in buttons(offer) if b["payload"].get("op") == "grayscale")
    # The payload names the photo by its conversation message id, as a community sees it.
    assert grayscale["payload"]["m"] == sent["conversation_message_id"]
    vk.inject_payload(301, grayscale["payload"], "Black and white", peer_id=CHAT)
    wait_text(vk, CHAT, "This photo waited too long", bot=bot)  # not 301's photo
    vk.inject_payload(302, grayscale["payload"], "Black and white", peer_id=CHAT)
    shown = wait_results(vk, CHAT, 2, bot=bot)
    assert offer.conversation_message_id in {m.conversation_message_id for m in shown}
    assert not any(t.startswith("Send me a photo") for t in texts(vk, CHAT))


def test_a_user_who_blocked_the_community_is_a_normal_event(vk: FakeVK, bot: PhotobotProcess) -> None:
    """Error 901 on every send to the user: nothing is retried in a loop, no apology is attempted,
    no error is logged, and the next user is served as usual."""
    vk.set_user(401, lang_id=3)
    vk.deny_messages(401)
    vk.set_user(402, lang_id=3)
    vk.inject_photo(401, photo(401), "sepia")
    vk.inject_text(401, "/help")
    vk.inject_photo(402, photo(402), "sepia")
    wait_results(vk, 402, 1, bot=bot)
    vk.wait_for_sync(lambda: sum(1 for c in vk.calls("messages.send") if c.peer_id == 401) >= 2, 30)
    refused = [c for c in vk.calls("messages.send") if c.peer_id == 401]
    assert all(c.error_code is None for c in refused)  # 901 comes per peer in the peer_ids answer
    assert len(refused) <= 3
    assert vk.visible_messages(401) == []
    log = bot.log_text()
    assert "does not allow messages" in log
    assert "vk message failed" not in log and "Traceback" not in log
    vk.allow_messages(401)
    vk.inject_text(401, "/help")
    wait_text(vk, 401, "How to use me", bot=bot)


def test_a_flood_holds_back_no_other_chat(vk: FakeVK, bot: PhotobotProcess) -> None:
    """One user floods: 100 texts (a waiting text is superseded by the next one) and 100 presses on
    buttons of photos that do not exist (each answered, at one conversation's share of VK's rate).
    A calm user's command is answered long before the flood's backlog is through
    (bench/vk_fairness.py measures the calm user's latency)."""
    vk.set_user(501, lang_id=3)
    vk.set_user(502, lang_id=3)
    for index in range(100):
        vk.inject_text(501, f"spam {index}")
    for index in range(100):
        vk.inject_payload(501, {"op": "sepia", "m": 10_000 + index}, "Sepia")
    vk.wait_for_sync(lambda: len(vk.visible_messages(501)) >= 3, 60)
    vk.inject_text(502, "/tier")
    wait_text(vk, 502, "Your tier", bot=bot)
    assert len(vk.visible_messages(501)) < 50, "the calm user was answered only after the flood"

    def expired() -> int:
        return sum(1 for text in texts(vk, 501) if text.startswith("This photo waited too long"))

    vk.wait_for_sync(lambda: expired() >= 100, 120)
    hints = sum(1 for text in texts(vk, 501) if text.startswith("Send me a photo"))
    assert 1 <= hints < 10  # the texts collapsed; the latest one was answered
    assert len(vk.visible_messages(501)) == 100 + hints
