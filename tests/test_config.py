"""Settings: loads with nothing but REDIS_URL; a bad value is one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from photobot.config import SettingsError, load_settings, parse_tiers


def test_loads_with_only_redis_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings = load_settings()
    assert settings.redis_url == "redis://127.0.0.1:1/0"
    assert settings.concurrent_jobs == 3
    assert settings.max_attempts == 5
    assert settings.tiers == {"free": 0, "premium": 10, "admin": 20}
    assert settings.key_prefix == "{photobot}"
    assert settings.bot_token is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("CONCURRENT_JOBS", "many", "CONCURRENT_JOBS"),
        ("CONCURRENT_JOBS", "0", "CONCURRENT_JOBS"),
        ("REDIS_URL", "http://localhost", "REDIS_URL: must start with redis://"),
        ("TIERS", "free", "TIERS: expected name=priority pairs"),
        ("TIERS", "free=1,premium=1", "TIERS: each tier needs its own priority"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("ADMIN_IDS", "1,bob", "ADMIN_IDS"),
        ("QUEUE_PREFIX", "{bad}", "QUEUE_PREFIX"),
        ("GDRIVE_CHUNK_BYTES", "300000", "GDRIVE_CHUNK_BYTES: must be a multiple of 262144"),
        ("DEFAULT_TIER", "gold", "DEFAULT_TIER 'gold' is not one of TIERS"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_TOKEN", "123:abc")
    settings = load_settings()
    assert "123:abc" not in repr(settings)
    assert settings.require_bot_token() == "123:abc"


def test_missing_bot_token_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match="BOT_TOKEN: is not set"):
        load_settings().require_bot_token()


def test_env_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CONCURRENT_JOBS=7\nADMIN_IDS=5,6\n")
    settings = load_settings()
    assert settings.concurrent_jobs == 7
    assert settings.admin_ids == [5, 6]


def test_tiers_are_ordered_by_priority() -> None:
    assert list(parse_tiers("admin=20, free=0 ,premium=10")) == ["free", "premium", "admin"]
