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
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.chaos.support import Photobot, base_env, tiny_jpeg
from tests.fakes.telegram import CallRecord, FakeTelegram
from tests.fixtures.redis_server import RedisServer, free_port
from tests.waiting import wait_until

ADMIN = 950  # in ADMIN_IDS
SECRET = "hook-secret-" + "x7" * 12
# A token may start or end with "-", where \b finds no boundary after a space or before a newline.
TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


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


def _raw_post(url: str, body: bytes, secret: bytes | None) -> tuple[int, bytes]:
    """A POST written byte by byte, so a header may carry bytes no HTTP client would send."""
    parts = urllib.parse.urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: close"]
    request = "\r\n".join(head).encode() + b"\r\n"
    if secret is not None:
        request += b"X-Telegram-Bot-Api-Secret-Token: " + secret + b"\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        conn.sendall(request + b"\r\n" + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_hostile_webhook_bodies_never_get_a_500(deployment: Deployment) -> None:
    """Before authentication, a secret header that is not ASCII (UTF-8 and Latin-1 bytes): 403.
    With the right secret: malformed JSON, a JSON array, a string, 100,000 nested arrays, a body
    over 1 MB (400); objects that are not updates (no update_id, a string update_id, a message of
    the wrong shape: 200 and dropped, so Telegram stops sending them). No traceback in the log."""
    d, url, secret = deployment, deployment.hook_url, SECRET.encode()
    log_before = len(d.log())
    assert _raw_post(url, b"{}", "секрет".encode())[0] == 403
    assert _raw_post(url, b"{}", b"\xe9\xff\xfe")[0] == 403
    for body in (b"{not json", b"[1, 2]", b'"update"', b"[" * 100_000 + b"]" * 100_000,
                 b'{"update_id": 1, "pad": "' + b"x" * (1024 * 1024) + b'"}'):
        status, answer = _raw_post(url, body, secret)
        assert status == 400, (body[:20], status, answer[:200])
    for shape in ({}, {"update_id": "one"}, {"update_id": 5, "message": {"text": "no chat"}},
                  {"update_id": 6, "message": [1]}, {"update_id": 7, "callback_query": {"id": 5}}):
        status, answer = _raw_post(url, json.dumps(shape).encode(), secret)
        assert status == 200, (shape, status, answer[:200])
    assert d.bot.running
    log = d.log()[log_before:]
    assert "Traceback" not in log and '"level": "error"' not in log


def test_a_replayed_webhook_update_is_handled_once(deployment: Deployment) -> None:
    """A /token update posted again with the right secret (a replay, or Telegram's resend after a
    lost answer) mints no second token."""
    d, user = deployment, 131
    update_id = d.tg.inject_text(user, "/token")
    d.tg.wait_for_sync(lambda: len(d.tg.visible_messages(user)) == 1, 30)
    replay = json.dumps(d.tg.update(update_id)).encode()
    # A copy that comes while the first is still being answered is told to come again (503).
    for _ in range(3):
        assert _raw_post(d.hook_url, replay, SECRET.encode())[0] in (200, 503)
    wait_until(lambda: _raw_post(d.hook_url, replay, SECRET.encode())[0] == 200, 30, "a replay answered 200")
    time.sleep(0.5)  # time for a second token to be minted, were it minted: it must not be
    assert len(d.tg.visible_messages(user)) == 1
    client = redis.Redis.from_url(d.redis_url)
    assert client.scard(f"{{photobot}}:sessions:tg:{user}") == 1
    client.close()


def test_copies_of_one_update_posted_together_are_handled_once(deployment: Deployment) -> None:
    """Six copies of a new /token update posted at once with the right secret: one request claims
    it, the others are answered 200 (done) or 503 (in hand, Telegram sends it again); one token."""
    d, user = deployment, 132
    d.tg.inject_text(user, "/help")
    d.tg.wait_for_sync(lambda: len(d.tg.visible_messages(user)) == 1, 30)
    update = d.tg.update(d.tg.inject_text(user, "/token"))
    d.tg.wait_for_sync(lambda: len(d.tg.visible_messages(user)) == 2, 30)
    update["update_id"] += 1_000_000
    update["message"]["message_id"] += 1000
    copy = json.dumps(update).encode()
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: _raw_post(d.hook_url, copy, SECRET.encode())[0], range(6)))
    assert sorted(set(statuses)) in ([200], [200, 503]), statuses
    time.sleep(0.5)  # time for a second token to be minted, were it minted: it must not be
    assert len(d.tg.visible_messages(user)) == 3
    client = redis.Redis.from_url(d.redis_url)
    assert client.scard(f"{{photobot}}:sessions:tg:{user}") == 2
    client.close()


def test_crafted_callback_data_is_answered_expired_and_nothing_else(deployment: Deployment) -> None:
    """Callback data no button of photobot's carries, pressed under a /jobs list and under a
    photo: `jobs:` and 30 nines, a negative offset, a jobs page under a photo, an unknown prefix,
    a bare `jobs`. Each gets "This button has expired." and no message, no traceback."""
    d, user = deployment, 141
    d.ask(user, "/jobs")
    d.tg.inject_photo(user, tiny_jpeg(41))  # no caption: the photo waits for a choice, under a keyboard
    d.tg.wait_for_sync(lambda: any(m.kind == "photo" for m in d.tg.visible_messages(user)), 30)
    photo = next(m for m in d.tg.visible_messages(user) if m.kind == "photo")
    listing = next(m for m in d.tg.visible_messages(user) if m.kind == "text")
    shown = len(d.tg.visible_messages(user))
    log_before = len(d.log())
    for message_id, data in ((listing.message_id, "jobs:" + "9" * 30), (listing.message_id, "jobs:-5"),
                             (photo.message_id, "jobs:0"), (photo.message_id, "jobs:" + "9" * 30),
                             (listing.message_id, "nope:1"), (listing.message_id, "jobs")):
        query = d.tg.inject_callback(user, message_id, data)
        d.tg.wait_for_sync(lambda q=query: d.tg.callback_answer(q) is not None, 30)  # type: ignore[misc]
        answer = d.tg.callback_answer(query)
        assert answer is not None and answer.get("text") == "This button has expired.", (data, answer)
    assert len(d.tg.visible_messages(user)) == shown
    log = d.log()[log_before:]
    assert "Traceback" not in log and '"level": "error"' not in log


def test_a_user_who_blocked_the_bot_is_an_ordinary_event(deployment: Deployment) -> None:
    """Texts and a command from a user who has blocked the bot: the replies fail with 403, which
    is logged as information, with no ERROR line and no apology attempted in that chat."""
    d, user = deployment, 151
    d.tg.open_chat(user)
    d.tg.block(user)
    log_before = len(d.log())
    ids = [d.tg.inject_text(user, text) for text in ("hello", "/help")]
    d.tg.wait_for_sync(lambda: d.tg.pending_update_count == 0, 30)

    def refused() -> list[CallRecord]:
        return [c for c in d.tg.calls("sendMessage") if str(c.chat_id) == str(user)]

    d.tg.wait_for_sync(lambda: len(refused()) >= 2 and "user cannot be answered" in d.log()[log_before:], 30)
    time.sleep(1.0)  # time for a retry storm to show, were there one: there must not be
    assert len(refused()) == 2 and all(c.status == 403 for c in refused()), refused()
    log = d.log()[log_before:]
    assert '"level": "error"' not in log and "update failed" not in log, ids


def test_token_is_rate_limited(deployment: Deployment) -> None:
    """/token five times in a row: three tokens, then a refusal that says the last still works."""
    d, user = deployment, 161
    answers = [d.ask(user, "/token") for _ in range(5)]
    assert all(TOKEN_SHAPE.search(answer) for answer in answers[:3]), answers
    assert all(answer.startswith("At most 3 new tokens") for answer in answers[3:]), answers
    client = redis.Redis.from_url(d.redis_url)
    assert client.scard(f"{{photobot}}:sessions:tg:{user}") == 3
    client.close()


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"></svg>'
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(2000)


@pytest.mark.parametrize(("user", "data"), [(171, SVG), (172, HEIC)], ids=["svg", "heic"])
def test_a_file_that_fails_at_once_ends_its_status_message_in_the_failure(
    deployment: Deployment, user: int, data: bytes
) -> None:
    """An SVG and a HEIC named .jpg (image/jpeg) with a caption: the job fails as soon as a worker
    reads the file, which used to be before the bot recorded its "queued" status message; the
    caption stayed "Queued" for ever and the error came as a separate text. Now the one status
    message ends in the failure, and nothing else is sent."""
    d = deployment
    for command in ("/help", "/ops", "/tier"):  # the chat's send budget is behind: the status waits
        d.tg.inject_text(user, command)
    d.tg.inject_document(user, data, "holiday.jpg", "image/jpeg", caption="sepia")

    def ended() -> bool:
        shown = d.tg.visible_messages(user)
        return any((m.text or "").startswith("❌") for m in shown)

    d.tg.wait_for_sync(ended, 60)
    time.sleep(2.0)  # anything else the bot would send about this file
    shown = d.tg.visible_messages(user)
    assert len(shown) == 4, [(m.kind, m.text) for m in shown]
    status = shown[-1]
    assert status.kind != "text" and (status.text or "").startswith("❌"), [(m.kind, m.text) for m in shown]
