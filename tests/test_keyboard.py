"""The operations keyboard is laid out once and rendered by each platform; every page fits VK's
inline limits (checked by the fake VK's own check) and Telegram's CallbackData."""

from __future__ import annotations

import json

import pytest
from aiogram.types import InlineKeyboardMarkup

from photobot.bot.keyboard import MOST_USED, PAGE_ACTION, PER_PAGE, operations_keyboard, page_count
from photobot.bot.telegram.adapter import markup as telegram_markup
from photobot.bot.telegram.callbacks import OpChoice, OpsPage
from photobot.bot.vk.adapter import markup as vk_markup
from photobot.bot.vk.adapter import photo_key
from photobot.processing import list_operations
from tests.fakes.vk.limits import INLINE_BUTTONS, check_keyboard


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_page_fits_vk_and_every_operation_is_on_one(language: str) -> None:
    seen: list[str] = []
    subject = photo_key(2_147_483_647, 9)  # the largest photo key: the longest payload
    for page in range(page_count()):
        keyboard = operations_keyboard(language, page, subject=subject)
        raw = vk_markup(keyboard)
        assert raw is not None
        data = check_keyboard(raw)  # raises ApiError 911 over any VK limit
        assert data is not None and data["inline"] is True
        buttons = [b["action"] for row in data["buttons"] for b in row]
        assert len(buttons) <= INLINE_BUTTONS
        assert all(b["payload"]["m"] == subject for b in buttons)
        seen += [b["payload"]["op"] for b in buttons if "op" in b["payload"]]
    assert sorted(seen) == sorted(op.name for op in list_operations())
    assert len(seen) == len(set(seen))


def test_the_first_page_has_the_most_used_and_a_more_button() -> None:
    first = operations_keyboard("en")
    ops = [b.value for row in first.rows for b in row if b.action == "op"]
    assert ops == list(MOST_USED)[:PER_PAGE]
    assert [b.text for b in first.rows[-1]] == ["More ›"]
    last = operations_keyboard("ru", page_count() - 1)
    assert [b.text for b in last.rows[-1]] == ["‹ Назад"]
    # A page out of range (a forged or stale button) shows the nearest page.
    assert operations_keyboard("en", 99) == operations_keyboard("en", page_count() - 1)
    assert operations_keyboard("en", -5) == first


def test_telegram_renders_the_same_layout_with_callback_data() -> None:
    keyboard = operations_keyboard("en", 0, subject=5)
    rendered = telegram_markup(keyboard)
    assert isinstance(rendered, InlineKeyboardMarkup)
    data = [b.callback_data for row in rendered.inline_keyboard for b in row]
    assert data[0] == OpChoice(op=MOST_USED[0]).pack()
    assert data[-1] == OpsPage(page=1).pack()
    assert all(len((d or "").encode()) <= 64 for d in data)  # Telegram's callback_data limit
    assert [len(r) for r in rendered.inline_keyboard] == [len(r) for r in keyboard.rows]
    assert any(b.action == PAGE_ACTION for b in keyboard.rows[-1])


def test_vk_page_buttons_carry_the_page_and_the_photo() -> None:
    raw = vk_markup(operations_keyboard("en", 1, subject=77))
    last_row = json.loads(raw or "")["buttons"][-1]
    assert [b["action"]["payload"] for b in last_row] == [{"ops": 0, "m": 77}]
