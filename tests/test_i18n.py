"""Every user-facing text exists in English and Russian with the same fields; languages are picked
from Telegram's language codes, including missing and unknown ones."""

from __future__ import annotations

import string

import pytest

from photobot.bot.i18n import COMMANDS, LANGUAGES, STATUS_NAMES, TEXTS, pick_language, status_name, t


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("key", sorted(TEXTS))
def test_each_text_in_both_languages_with_the_same_fields(key: str) -> None:
    variants = TEXTS[key]
    assert set(variants) == set(LANGUAGES)
    assert _fields(variants["en"]) == _fields(variants["ru"])
    assert variants["en"] != "" and variants["ru"] != ""


def test_menu_and_status_names_in_both_languages() -> None:
    for table in (COMMANDS, STATUS_NAMES):
        for variants in table.values():
            assert set(variants) == set(LANGUAGES)


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ru", "ru"), ("ru-RU", "ru"), ("en", "en"), ("en-GB", "en"), ("de", "en"), ("", "en"), (None, "en")],
)
def test_pick_language(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def test_missing_code_uses_the_default() -> None:
    assert pick_language(None, default="ru") == "ru"


def test_format_and_fallback() -> None:
    assert t("queued", "ru", position=3, job_id="j") == "⏳ В очереди, позиция 3. Задание j"
    assert t("queued", "de", position=1, job_id="j").startswith("⏳ Queued")
    assert status_name("failed", "ru") == "ошибка"
    assert status_name("weird", "en") == "weird"
