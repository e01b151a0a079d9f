"""Telegram and VK in one `python -m photobot run`: each photo's result goes back to the platform it
came from, and the same numeric id on both platforms is two different users."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVK
from tests.vk_support import PhotobotProcess, photo, results, wait_results

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_one_process_serves_both_platforms(
    vk: FakeVK, tg: FakeTelegram, redis_url: str, tmp_path: Path
) -> None:
    bot = PhotobotProcess(
        vk, redis_url, tmp_path / "bot", BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.base_url,
        ADMIN_IDS="401", VK_ADMIN_IDS="",
    )
    bot.start(vk)
    try:
        # The Telegram side is up once its menu is set (a long poll enters the call log only
        # when it ends, up to 25 s later).
        tg.wait_for_sync(lambda: len(tg.calls("setMyCommands")) > 0, 30)
        vk.set_user(401, lang_id=3)
        tg.inject_photo(401, photo(1), caption="invert")
        vk.inject_photo(401, photo(2), "grayscale")
        wait_results(vk, 401, bot=bot)

        def tg_results() -> list[object]:
            return [m for m in tg.visible_messages(401)
                    if m.kind == "photo" and (m.text or "").startswith("✅")]

        tg.wait_for_sync(lambda: len(tg_results()) == 1, 60)
        [vk_result] = results(vk, 401)
        assert vk_result.text.startswith("✅ Black and white")
        [tg_result] = tg_results()
        assert tg_result.text.startswith("✅ Negative")  # type: ignore[attr-defined]
        # tg:401 is an admin; vk:401 is someone else.
        vk.inject_text(401, "/stats")
        vk.wait_for_sync(lambda: any(m.text.startswith("Sorry, this command is for admins")
                                     for m in vk.visible_messages(401)), 30)
        tg.inject_text(401, "/stats")
        tg.wait_for_sync(lambda: any((m.text or "").startswith("Queue")
                                     for m in tg.visible_messages(401)), 30)
        assert len(results(vk, 401)) == 1 and len(tg_results()) == 1
    finally:
        assert bot.stop() == 0, bot.log_tail()
