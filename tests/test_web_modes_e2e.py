"""The one HTTP app in the other ways photobot runs: Telegram by webhook on the process's own port,
a split deployment (`photobot bot` + `photobot worker`), each process serving /healthz, /readyz,
/metrics and the API, and VK, whose /token and /logout open and close the same API.

Real subprocesses against the fake Bot API and a real redis-server. The fake delivers updates to the
webhook as Telegram does (POSTs with X-Telegram-Bot-Api-Secret-Token, again until a 2xx).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from photobot.bot.i18n import t
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVK
from tests.fixtures.redis_server import RedisServer, free_port
from tests.http_support import TOKEN_IN_TEXT, Samples, call, scrape, token_from, total, wait_http
from tests.telegram_support import BotProcess, small_image, texts, wait_results
from tests.vk_support import PhotobotProcess
from tests.vk_support import texts as vk_texts
from tests.vk_support import wait_text as vk_wait_text
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
SECRET = "webhook-secret-0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PENDING_FREE = ("photobot_queue_depth", frozenset({("tier", "free"), ("status", "pending")}))


@pytest.fixture
def clean_redis(redis_server: RedisServer) -> str:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


def http_env(base: str) -> dict[str, str]:
    return {"http_enabled": "true", "http_host": "127.0.0.1", "http_port": base.rsplit(":", 1)[1]}


def pending_free(samples: Samples) -> float:
    return samples.get(PENDING_FREE, -1.0)


def counter(name: str) -> Callable[[Samples], float]:
    return lambda samples: total(samples, name)


def wait_metric(
    base: str, read: Callable[[Samples], float], expected: float, timeout: float = 15.0
) -> float:
    """Scrape until `read` gives `expected` (counters move once a job is acknowledged, just after
    its result reaches the chat)."""
    value = read(scrape(base))

    def reached() -> bool:
        nonlocal value
        value = read(scrape(base))
        return value == expected

    wait_until(reached, timeout, lambda: f"the metric to reach {expected}; it stayed at {value}", step=0.2)
    return value


def test_webhook_mode_serves_updates_on_the_same_app(clean_redis: str, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    hook = f"{base}/telegram/webhook"
    with (
        FakeTelegram.run_in_thread(webhook_retry_delay=0.2) as tg,
        BotProcess(
            tg, clean_redis, tmp_path / "hook", webhook_url=hook, webhook_secret=SECRET, **http_env(base)
        ) as bot,
    ):
        bot.start(tg)
        assert tg.webhook_url == hook
        wait_http(base, "/readyz", 200)

        update_id = tg.inject_photo(401, small_image(401), caption="sepia")
        wait_results(tg, 401, 1, bot=bot)
        assert tg.calls("getUpdates") == []  # the update came by webhook, not by a long poll
        enqueued = wait_metric(base, counter("photobot_jobs_enqueued_total"), 1)

        # Someone who is not Telegram posts a photo update of their own to the webhook route.
        tg.open_chat(402)
        forged = copy.deepcopy(tg.update(update_id))
        forged["update_id"] = update_id + 1000
        message = forged["message"]
        message["message_id"] += 1000
        message["from"]["id"] = message["chat"]["id"] = 402
        body = json.dumps(forged).encode()
        downloads = len(tg.calls("getFile"))
        json_type = {"Content-Type": "application/json"}
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
            sent = {**json_type, **headers}
            refused = call(base, "/telegram/webhook", method="POST", body=body, headers=sent)
            assert refused.status == 403, refused
        time.sleep(1.0)  # nothing runs in the background after a refusal; give it time to show if it did
        assert total(scrape(base), "photobot_jobs_enqueued_total") == enqueued
        assert tg.visible_messages(402) == [] and len(tg.calls("getFile")) == downloads

        # The same update with the right secret is taken: the refusals were the secret's doing.
        accepted = call(
            base, "/telegram/webhook", method="POST", body=body, headers={**json_type, SECRET_HEADER: SECRET}
        )
        assert accepted.status == 200, accepted
        wait_results(tg, 402, 1, bot=bot)
        assert total(scrape(base), "photobot_jobs_enqueued_total") == enqueued + 1
        assert bot.stop() == 0, bot.log_tail()


def test_split_bot_and_worker_each_serve_http(clean_redis: str, tmp_path: Path) -> None:
    bot_base, worker_base = (f"http://127.0.0.1:{free_port()}" for _ in range(2))
    shared = {"storage_dir": str(tmp_path / "storage")}  # the originals, as a shared volume holds them
    with (
        FakeTelegram.run_in_thread() as tg,
        BotProcess(tg, clean_redis, tmp_path / "bot", mode="bot", **shared, **http_env(bot_base)) as bot,
        BotProcess(
            tg, clean_redis, tmp_path / "worker", mode="worker", **shared, **http_env(worker_base)
        ) as worker,
    ):
        bot.start(tg)
        # A bot-only process runs no worker, so its readiness does not ask for one.
        ready = wait_http(bot_base, "/readyz", 200)
        assert ready.json()["checks"] == {"redis": "ok", "storage": "ok", "telegram": "ok"}

        tg.inject_photo(501, small_image(501), caption="sepia")
        wait_metric(bot_base, pending_free, 1)  # waits: no worker yet
        assert total(scrape(bot_base), "photobot_jobs_enqueued_total", tier="free", operation="sepia") == 1
        assert any(text.startswith("⏳ Queued") for text in _captions(tg, 501))
        token = token_from(_ask(tg, 501, "/token"))

        worker.start(tg, wait_ready=False)
        ready = wait_http(worker_base, "/readyz", 200)
        assert ready.json()["checks"] == {"redis": "ok", "storage": "ok", "workers": "ok", "telegram": "ok"}
        wait_results(tg, 501, 1, bot=worker)
        wait_metric(worker_base, counter("photobot_jobs_finished_total"), 1)
        wait_metric(bot_base, pending_free, 0)
        # The token the bot issued opens the API on the worker's port too: one Redis behind both.
        jobs = call(worker_base, "/api/v1/jobs", token=token).json()
        assert [job["status"] for job in jobs["jobs"]] == ["completed"]
        assert worker.stop() == 0, worker.log_tail()
        assert bot.stop() == 0, bot.log_tail()


def _captions(tg: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text or "" for m in tg.visible_messages(chat_id)]


def _ask(tg: FakeTelegram, user: int, text: str) -> str:
    before = len(texts(tg, user))
    tg.inject_text(user, text)
    tg.wait_for_sync(lambda: len(texts(tg, user)) > before, 30)
    return texts(tg, user)[-1]


def test_token_and_logout_on_vk(clean_redis: str, tmp_path: Path) -> None:
    """The same commands on VK: a token in a private dialogue, none in a group chat, /logout."""
    base = f"http://127.0.0.1:{free_port()}"
    user, admin, chat = 108, 7001, 2_000_000_001
    with FakeVK.run_in_thread() as vk:
        process = PhotobotProcess(vk, clean_redis, tmp_path / "vk", vk_admin_ids=admin, **http_env(base))
        process.start(vk)
        try:
            wait_http(base, "/readyz", 200)
            for someone in (user, admin):
                vk.set_user(someone, lang_id=3)
            vk.inject_text(user, "/token", peer_id=chat)
            assert vk_wait_text(vk, chat, "A token is personal", bot=process) == t("token_private_only", "en")
            assert not any(TOKEN_IN_TEXT.search(text) for text in vk_texts(vk, chat))

            vk.inject_text(user, "/token")
            token = token_from(vk_wait_text(vk, user, "Your token", bot=process))
            me = call(base, "/api/v1/me", token=token).json()
            assert (me["user_key"], me["scope"]) == (f"vk:{user}", "user")
            vk.inject_text(admin, "!token")
            admin_token = token_from(vk_wait_text(vk, admin, "Your token", bot=process))
            assert call(base, "/api/v1/me", token=admin_token).json()["scope"] == "admin"

            vk.inject_text(user, "/logout")
            vk_wait_text(vk, user, "Done: your API tokens no longer work (1 revoked)", bot=process)
            assert call(base, "/api/v1/me", token=token).status == 401
            assert call(base, "/api/v1/me", token=admin_token).status == 200
        finally:
            assert process.stop() == 0, process.log_tail()
