"""The configuration page's table is the one Settings generates, and names every variable."""

from __future__ import annotations

from pathlib import Path

from photobot.config import Settings
from photobot.settings_doc import END, START, settings_table

CONFIGURATION = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_configuration_table_matches_settings() -> None:
    text = CONFIGURATION.read_text(encoding="utf-8")
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == settings_table(), "run: python -m photobot.settings_doc --write docs/configuration.md"


def test_every_setting_is_documented() -> None:
    table = settings_table()
    for name, field in Settings.model_fields.items():
        assert f"`{name.upper()}`" in table
        assert field.description, f"{name} has no description"
