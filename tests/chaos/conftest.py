"""Fixtures of the chaos tests: a redis-server of their own with append-only persistence, which a
test may SIGKILL and start again, and the fake Bot API on its own thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram.run_in_thread() as fake:
        yield fake
