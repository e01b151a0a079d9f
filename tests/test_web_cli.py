"""`photobot token issue|revoke` through the real command line, against a real redis-server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from photobot.config import Settings
from photobot.sessions import SessionStore

ROOT = Path(__file__).parent.parent


def photobot(*args: str, redis_url: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "LOG_FILE": "none", "DATA_DIR": str(tmp_path)}
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "photobot", *args], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )


async def test_issue_prints_a_working_admin_token_and_revoke_ends_it(
    settings: Settings, redis_url: str, tmp_path: Path
) -> None:
    refused = photobot("token", "issue", "tg:42", "--admin", redis_url=redis_url, tmp_path=tmp_path)
    assert refused.returncode == 2 and "tier tg:42 admin" in refused.stderr and refused.stdout == ""
    promoted = photobot("tier", "tg:42", "admin", redis_url=redis_url, tmp_path=tmp_path)
    assert promoted.returncode == 0, promoted.stderr
    done = photobot("token", "issue", "tg:42", "--admin", "--json", redis_url=redis_url, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["user_key"] == "tg:42" and answer["scope"] == "admin"
    store = SessionStore.from_settings(settings)
    try:
        session = await store.verify(answer["token"])
        assert session is not None and session.is_admin
        plain = photobot("token", "issue", "vk:7", "--ttl", "120", redis_url=redis_url, tmp_path=tmp_path)
        user_session = await store.verify(plain.stdout.strip())
        assert user_session is not None and not user_session.is_admin
        assert user_session.expires_at - user_session.issued_at == 120
        revoked = photobot("token", "revoke", "tg:42", redis_url=redis_url, tmp_path=tmp_path)
        assert (revoked.returncode, revoked.stdout.strip()) == (0, "1")
        assert await store.verify(answer["token"]) is None
    finally:
        await store.redis.aclose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["token", "issue", "bob"], "not a user: 'bob'"),
        (["token", "issue", "tg:1", "--ttl", "0"], "ttl must be between"),
        (["token", "issue", "tg:1", "--ttl", "soon"], "invalid int value"),
        (["token", "issue"], "required"),
        (["token"], "required"),
        (["token", "burn", "tg:1"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    redis_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    done = photobot(*args, redis_url=redis_url, tmp_path=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.parametrize("redis", [None, "redis://127.0.0.1:1/0"])
def test_no_redis_is_one_line_and_exit_2(tmp_path: Path, redis: str | None) -> None:
    done = photobot("token", "issue", "tg:1", redis_url=redis, tmp_path=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert "Redis" in done.stderr or "REDIS_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
