"""Fixtures of the chaos tests: a redis-server of their own with append-only persistence, which a
test may SIGKILL and start again (the fake Bot API is the shared `tg`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.redis_server import RedisServer


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", appendonly=True).start()
    yield server
    server.stop()
