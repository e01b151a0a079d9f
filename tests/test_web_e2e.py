"""The HTTP side of a running `python -m photobot run`: the process serves /healthz, /readyz,
/metrics and the JSON API on HTTP_PORT while its bot polls the fake Bot API, and a token asked for
with /token in a chat opens the API at once.

A real subprocess, the real aiogram against the fake Bot API over HTTP, a real redis-server; the
tests speak HTTP to the process as a user's curl or a Prometheus scraper would.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Iterator

import pytest
import redis
from PIL import Image

from photobot.bot.i18n import t
from tests.fakes.telegram import FakeTelegram
from tests.fixtures.redis_server import RedisServer, free_port
from tests.http_support import TOKEN_IN_TEXT, Samples, call, scrape, token_from, total, wait_http
from tests.telegram_support import BotProcess, small_image, texts, wait_results
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
ADMIN = 1


@pytest.fixture(scope="module")
def base() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def bot(
    module_tg: FakeTelegram, redis_server: RedisServer, base: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    with BotProcess(
        module_tg,
        redis_server.url,
        tmp_path_factory.mktemp("web-e2e"),
        admin_ids=ADMIN,
        http_enabled="true",
        http_host="127.0.0.1",
        http_port=base.rsplit(":", 1)[1],
        public_url=base,
        tg_global_rate=500,
        tg_chat_rate=50,
        tg_chat_burst=10,
    ) as process:
        process.start(module_tg)
        wait_http(base, "/readyz", 200)  # the worker's first heartbeat has reached Redis
        yield process
        assert process.stop() == 0, process.log_tail()


@pytest.fixture
def sessions(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    client.close()


def ask(tg: FakeTelegram, user: int, text: str, *, chat_id: int | None = None, lang: str = "en") -> str:
    """Write `text` as `user` (in a group when chat_id is given) and return the bot's answer."""
    chat = chat_id if chat_id is not None else user
    before = len(texts(tg, chat))
    chat_type = "group" if chat_id is not None else "private"
    tg.inject_text(user, text, chat_id=chat_id, chat_type=chat_type, language_code=lang)
    tg.wait_for_sync(lambda: len(texts(tg, chat)) > before, 30)
    return texts(tg, chat)[-1]


def job_of_photo(tg: FakeTelegram, bot: BotProcess, user: int, caption: str) -> str:
    """Send a photo with an operation in its caption; the job id once its result is in the chat."""
    tg.inject_photo(user, small_image(user), caption=caption)
    [result] = wait_results(tg, user, 1, bot=bot)
    return (result.versions[0].text or "").rsplit(" ", 1)[-1]


def wait_job_status(
    base: str, token: str, job_id: str, status: str, timeout: float = 15.0
) -> dict[str, object]:
    """The job as the API shows it once it has `status` (the record is written just after the
    result reaches the chat)."""
    job: dict[str, object] = {}

    def recorded() -> bool:
        nonlocal job
        answer = call(base, f"/api/v1/jobs/{job_id}", token=token)
        assert answer.status == 200, answer
        job = answer.json()
        return job["status"] == status

    with contextlib.suppress(AssertionError):  # the caller's assertion says what it was instead
        wait_until(recorded, timeout, step=0.1)
    return job


def test_health_and_readiness_come_from_the_running_process(bot: BotProcess, base: str) -> None:
    assert call(base, "/healthz").json() == {"status": "ok"}
    ready = call(base, "/readyz")
    assert ready.status == 200, ready
    checks = {"redis": "ok", "storage": "ok", "workers": "ok", "telegram": "ok"}
    assert ready.json() == {"status": "ok", "checks": checks}
    document = call(base, "/api/v1/openapi.json")
    assert document.status == 200 and "/me" in document.json()["paths"]
    assert call(base, "/api/v1/me").status == 401  # the API itself wants a token


def test_token_opens_the_api_and_logout_closes_it(tg: FakeTelegram, bot: BotProcess, base: str) -> None:
    user = 301
    reply = ask(tg, user, "/token")
    token = token_from(reply)
    assert f'curl -H "Authorization: Bearer {token}" {base}/api/v1/me' in reply
    assert "valid for 24 h (user scope)" in reply and "/logout" in reply

    me = call(base, "/api/v1/me", token=token)
    assert me.status == 200, me
    body = me.json()
    assert (body["user_key"], body["scope"], body["tier"]) == (f"tg:{user}", "user", "free")
    assert abs(body["expires_at"] - (time.time() + 86400)) < 120
    empty = call(base, "/api/v1/jobs", token=token).json()
    assert (empty["total"], empty["jobs"]) == (0, [])

    job_id = job_of_photo(tg, bot, user, "sepia")
    assert wait_job_status(base, token, job_id, "completed")["status"] == "completed"
    page = call(base, "/api/v1/jobs", token=token).json()
    assert page["total"] == 1
    [job] = page["jobs"]
    assert (job["job_id"], job["operation"], job["status"]) == (job_id, "sepia", "completed")
    result = call(base, f"/api/v1/jobs/{job_id}/result", token=token)
    assert result.status == 200 and result.headers["Content-Type"].startswith("image/")
    assert Image.open(io.BytesIO(result.body)).size == (48, 48)

    # Someone else's token does not reach this job.
    other = token_from(ask(tg, 311, "/token"))
    assert call(base, f"/api/v1/jobs/{job_id}", token=other).status == 403
    assert call(base, "/api/v1/jobs", token=other).json()["total"] == 0

    assert ask(tg, user, "/logout") == t("logged_out", "en", count=1)
    for path in ("/api/v1/me", "/api/v1/jobs"):
        refused = call(base, path, token=token)
        assert refused.status == 401 and refused.json()["error"]["code"] == "invalid_token", refused
    assert call(base, "/api/v1/me", token=other).status == 200  # only the caller's tokens went
    assert ask(tg, user, "/logout") == t("logged_out", "en", count=0)
    logged = bot.log_path.read_text(errors="replace")
    assert "session.issued" in logged and token not in logged and other not in logged


def test_an_admin_token_opens_the_admin_api(tg: FakeTelegram, bot: BotProcess, base: str) -> None:
    admin = token_from(ask(tg, ADMIN, "/token"))
    body = call(base, "/api/v1/me", token=admin).json()
    assert (body["scope"], body["tier"]) == ("admin", "admin")
    stats = call(base, "/api/v1/queue/stats", token=admin)
    assert stats.status == 200 and stats.json()["workers_alive"] >= 1
    user = token_from(ask(tg, 302, "/token"))
    assert call(base, "/api/v1/queue/stats", token=user).status == 403


def test_token_in_a_group_is_refused(
    tg: FakeTelegram, bot: BotProcess, base: str, sessions: redis.Redis
) -> None:
    user, group = 303, -1000303
    index = f"{{photobot}}:sessions:tg:{user}"
    assert ask(tg, user, "/token", chat_id=group) == t("token_private_only", "en")
    assert not any(TOKEN_IN_TEXT.search(text) for text in texts(tg, group))
    assert sessions.scard(index) == 0  # nothing was issued
    # The same user in a private chat gets one.
    token = token_from(ask(tg, user, "/token"))
    assert call(base, "/api/v1/me", token=token).status == 200 and sessions.scard(index) == 1
    # /logout works from anywhere: it only takes tokens away.
    assert ask(tg, user, "/logout", chat_id=group) == t("logged_out", "en", count=1)
    assert call(base, "/api/v1/me", token=token).status == 401


def test_token_commands_in_russian_and_in_the_menus(tg: FakeTelegram, bot: BotProcess) -> None:
    reply = ask(tg, 304, "/token", lang="ru")
    assert reply.startswith("Ваш токен для HTTP API photobot, действует 24 ч") and token_from(reply)
    assert ask(tg, 304, "/logout", lang="ru") == t("logged_out", "ru", count=1)
    assert ask(tg, 304, "/token", chat_id=-1000304, lang="ru") == t("token_private_only", "ru")
    for language in ("", "ru"):
        names = [item.get("command") for item in tg.commands(language)]
        assert "token" in names and "logout" in names, names


def test_metrics_of_the_running_process_move_with_a_photo(
    tg: FakeTelegram, bot: BotProcess, base: str
) -> None:
    before = scrape(base)
    job_of_photo(tg, bot, 305, "invert")
    labels = {"tier": "free", "operation": "invert"}
    done = {"operation": "invert", "status": "completed"}
    finished_before = total(before, "photobot_jobs_finished_total", **done)
    def moved() -> Samples | None:  # the job is acknowledged (and counted) just after its result shows
        now = scrape(base)
        return now if total(now, "photobot_jobs_finished_total", **done) > finished_before else None

    after = wait_until(moved, 15, "photobot_jobs_finished_total to move", step=0.2)
    finished = total(after, "photobot_jobs_finished_total", **done)
    enqueued = total(after, "photobot_jobs_enqueued_total", **labels)
    assert enqueued - total(before, "photobot_jobs_enqueued_total", **labels) == 1
    assert finished - finished_before == 1
    assert total(after, "photobot_job_duration_seconds_count", **labels) >= 1
    depth = {dict(have)["tier"] for (name, have) in after if name == "photobot_queue_depth"}
    assert {"free", "premium", "admin"} <= depth
    assert after[("photobot_queue_depth", frozenset({("tier", "free"), ("status", "pending")}))] == 0
    assert after[("photobot_workers_alive", frozenset())] == 1
    assert total(after, "photobot_chat_api_calls_total", platform="telegram") > 0
