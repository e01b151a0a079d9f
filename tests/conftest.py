"""Fixtures every test may use: a real redis-server per session, a clean database per test,
Settings that read nothing from the developer's environment or .env, and (from tests.fixtures.fakes)
the fake Telegram, VK and Google Drive."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from photobot.cli import main
from photobot.config import Settings
from tests.fixtures.redis_server import RedisServer

pytest_plugins = ["tests.fixtures.fakes"]

TESTS_DIR = Path(__file__).parent
DATA_DIR = TESTS_DIR / "data"
ASTRONAUT = DATA_DIR / "astronaut.png"

# The `cli` fixture: `python -m photobot ARGV` in this process -> (exit code, stdout, stderr).
Cli = Callable[..., tuple[int, str, str]]

# Variables of photobot's that a developer's shell may carry; tests set what they need.
_SETTINGS_ENV = {name.upper() for name in Settings.model_fields}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper() in _SETTINGS_ENV:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.ping():
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture
def make_settings(redis_url: str, tmp_path: Path) -> Callable[..., Settings]:
    """Settings on the test's Redis and a temporary DATA_DIR; keyword arguments override."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "data_dir": tmp_path / "data",
            "log_file": "none",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def cli(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Cli:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("LOG_FILE", "none")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env

    def run(*argv: str) -> tuple[int, str, str]:
        """`python -m photobot ARGV` in this process: exit code, standard output, standard error."""
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
