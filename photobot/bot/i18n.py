"""The chat's texts by key, in the user's language: the bot's names for the message catalog.

Every text lives in photobot.locales (gettext catalogs, one `.po` per language); this module is
what the chat code calls. Templates use `str.format` fields; values that come from users are
escaped by the caller (messages are sent as plain text, without a parse mode, so nothing needs
escaping here). The languages are the catalogs found, so a new `.po` needs no change here.
"""

from __future__ import annotations

from typing import Any

from photobot.locales import catalog, error_text

# The bot's command menu, in the order shown; each description is the catalog's `command.<name>`.
MENU = (
    "start", "help", "ops", "jobs", "status", "cancel", "tier", "token", "logout", "forget", "premium",
    "paysupport", "terms",
)

__all__ = [
    "MENU", "command_menu", "error_text", "languages", "pick_language", "status_name", "t",
]


def languages() -> tuple[str, ...]:
    """Every language with a catalog, English first."""
    return catalog().languages


def pick_language(language_code: str | None, default: str = "en") -> str:
    """Map a platform's language code (`ru`, `ru-RU`, `en-GB`, None) to a language with a catalog."""
    return catalog().pick(language_code, default)


def t(key: str, language: str, **params: Any) -> str:
    """The text `key` in `language` (English when that language lacks it), formatted with `params`;
    KeyError for a key no catalog has."""
    return catalog().text(key, language, **params)


def status_name(status: str, language: str) -> str:
    key = f"status.{status}"
    return t(key, language) if catalog().has(key) else status


def command_menu(language: str) -> list[tuple[str, str]]:
    """(command, description) of every command in the menu, in `language`."""
    return [(name, t(f"command.{name}", language)) for name in MENU]

