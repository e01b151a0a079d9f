"""/healthz, /readyz and /metrics of a served app, with a real queue on a real redis-server."""

from __future__ import annotations

import logging
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from photobot.config import Settings
from photobot.logs import configure_logging
from photobot.sessions import Scope
from tests.fixtures.redis_server import RedisServer
from tests.web_support import Stack, web_stack


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with stack.http.get(stack.base + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return samples(await response.text())


async def test_healthz_answers_without_a_token(settings: Settings, tmp_path: Path) -> None:
    async with web_stack(settings, tmp_path) as stack:
        assert await stack.call("GET", "/healthz") == (200, {"status": "ok"})
        async with stack.http.head(stack.base + "/healthz") as response:
            assert response.status == 200


async def test_readyz_follows_redis_down_and_back(settings: Settings, tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "own-redis").start()
    try:
        own = settings.model_copy(update={"redis_url": server.url})
        async with web_stack(own, tmp_path) as stack:
            status, body = await stack.call("GET", "/readyz")
            assert status == 200 and body["checks"] == {"redis": "ok", "storage": "ok", "workers": "ok"}
            server.stop()
            status, body = await stack.call("GET", "/readyz")
            assert status == 503 and body["checks"]["redis"] == "fail"
            assert any(reason.startswith("redis:") for reason in body["reasons"])
            # /metrics still answers while the queue is away; /healthz is unaffected.
            assert (await stack.call("GET", "/healthz"))[0] == 200
            async with stack.http.get(stack.base + "/metrics") as response:
                assert response.status == 200
            server.start()
            status, body = await stack.call("GET", "/readyz")
            assert status == 200, body
    finally:
        server.stop()


async def test_readyz_reports_dead_workers_and_broken_storage(settings: Settings, tmp_path: Path) -> None:
    async with web_stack(settings, tmp_path) as stack:
        stack.workers[0] = False
        status, body = await stack.call("GET", "/readyz")
        assert status == 503 and body["reasons"] == ["workers: none alive"]
        stack.workers[0] = True
        stack.storage.root.rmdir()
        stack.storage.root.write_bytes(b"a file where the folder should be")
        status, body = await stack.call("GET", "/readyz")
        assert status == 503 and body["checks"]["storage"] == "fail"
        assert body["reasons"][0].startswith("storage: STORAGE_DIR:")


async def test_readyz_times_out_a_hung_check(settings: Settings, tmp_path: Path) -> None:
    import asyncio

    async with web_stack(settings, tmp_path, check_timeout=0.2) as stack:
        async def hang() -> list[str]:
            await asyncio.sleep(30)  # the hung check
            return []

        stack.storage.check = hang  # type: ignore[method-assign]
        status, body = await stack.call("GET", "/readyz")
        assert status == 503 and "no answer within 0.2 s" in body["reasons"][0]


async def test_metrics_move_when_a_job_runs(settings: Settings, tmp_path: Path) -> None:
    async with web_stack(settings, tmp_path) as stack:
        before = await scrape(stack)
        finished = ("photobot_jobs_finished_total", (("operation", "grayscale"), ("status", "completed")))
        duration = ("photobot_job_duration_seconds_count", (("operation", "grayscale"), ("tier", "premium")))
        assert before.get(finished, 0) == 0
        await stack.enqueue("tg:1", tier="premium")
        await stack.enqueue("tg:1", tier="free")
        queued = await scrape(stack)
        assert queued[("photobot_queue_depth", (("status", "pending"), ("tier", "premium")))] == 1
        assert queued[("photobot_queue_depth", (("status", "pending"), ("tier", "free")))] == 1
        job = await stack.run_one()
        assert job.tier == "premium"
        after = await scrape(stack)
        assert after[finished] == 1
        assert after[duration] == 1
        wait = ("photobot_queue_wait_seconds_count", (("operation", "grayscale"), ("tier", "premium")))
        assert after[wait] == 1
        assert after[("photobot_queue_depth", (("status", "pending"), ("tier", "premium")))] == 0
        assert after[("photobot_queue_depth", (("status", "completed"), ("tier", "all")))] == 1


async def test_no_token_reaches_the_logs_through_http(settings: Settings, tmp_path: Path) -> None:
    log_file = tmp_path / "photobot.log"
    configure_logging("DEBUG", "json", log_file, to_stderr=False)
    logging.getLogger("aiohttp.access").setLevel(logging.DEBUG)
    try:
        async with web_stack(settings, tmp_path) as stack:
            token = await stack.token("tg:5", Scope.ADMIN)
            assert (await stack.call("GET", "/api/v1/me", token))[0] == 200
            assert (await stack.call("GET", f"/api/v1/jobs?status={token}", token))[0] == 422
            assert (await stack.call("GET", f"/api/v1/jobs/{token}x", token))[0] == 404
            await stack.sessions.revoke_all("tg:5")
            assert (await stack.call("GET", "/api/v1/me", token))[0] == 401
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = log_file.read_text()
        assert "session.issued" in text and "GET /api/v1/me" in text
        assert token not in text
    finally:
        configure_logging("INFO", "json", None, to_stderr=False)


def test_dashboard_uses_only_exposed_metrics() -> None:
    """Every photobot_ series the Grafana dashboard queries is one /metrics can serve."""
    import json
    import re

    from prometheus_client import generate_latest

    from photobot.metrics import Metrics

    exposed = {family.name for family in text_string_to_metric_families(generate_latest(Metrics().registry)
                                                                        .decode())}
    dashboard = json.loads((Path(__file__).parent.parent / "deploy/grafana/photobot.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", []))
    used = set(re.findall(r"photobot_[a-z_]+", exprs))
    assert used
    for name in used:
        family = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert family in exposed, f"the dashboard queries {name}, which /metrics does not expose"
    # Queue-wide gauges are reported alike by every replica: summing them would multiply.
    summed = r"sum\s*(by\s*\([^)]*\))?\s*\(\s*(photobot_queue_depth|photobot_workers_alive)"
    assert not re.search(summed, exprs)


async def test_add_routes_hook_mounts_the_webhook_outside_the_api(settings: Settings, tmp_path: Path) -> None:
    """The Telegram webhook route comes in through add_routes and needs no Bearer token (aiogram's
    handler checks X-Telegram-Bot-Api-Secret-Token itself)."""
    from aiohttp import web

    seen: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""))
        return web.json_response({"ok": True})

    def add_routes(app: web.Application) -> None:
        app.router.add_post(settings.webhook_path, webhook)

    async with web_stack(settings, tmp_path, add_routes=add_routes) as stack:
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"}
        status, body = await stack.call("POST", settings.webhook_path, json={"update_id": 1}, headers=headers)
        assert (status, body, seen) == (200, {"ok": True}, ["s3cret-value"])
        assert (await stack.call("GET", "/api/v1/me"))[0] == 401
