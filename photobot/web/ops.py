"""Operator endpoints: /healthz (the process answers), /readyz (it can do work), /metrics.

/readyz is what a load balancer or Kubernetes asks before sending traffic: Redis must answer, the
storage backend must report no problem, the workers must be alive and the chat platforms (Telegram,
VK) must answer. Each probe has a time cap, so
a hung dependency makes the answer 503 with a reason instead of making the probe itself hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from photobot.logs import get_logger
from photobot.web.deps import DEPS_KEY, WebDeps

log = get_logger(__name__)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _probe(name: str, check: Awaitable[Any], seconds: float) -> tuple[str, str | None]:
    """Run one check; the reason it failed, or None."""
    try:
        result = await asyncio.wait_for(check, seconds)
    except TimeoutError:
        return name, f"{name}: no answer within {seconds:g} s"
    except Exception as error:
        return name, f"{name}: {type(error).__name__}: {error}"[:300]
    if result is False:
        return name, f"{name}: not reachable" if name != "workers" else "workers: none alive"
    if isinstance(result, list) and result:
        return name, f"{name}: " + "; ".join(str(problem) for problem in result)[:300]
    return name, None


async def readyz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    probes = [
        _probe("redis", deps.queue.ping(), deps.check_timeout),
        _probe("storage", deps.storage.check(), deps.check_timeout),
    ]
    if deps.workers_alive is not None:
        probes.append(_probe("workers", deps.workers_alive(), deps.check_timeout))
    probes += [_probe(name, reachable(), deps.check_timeout) for name, reachable in deps.platforms.items()]
    results = await asyncio.gather(*probes)
    checks = {name: ("ok" if reason is None else "fail") for name, reason in results}
    reasons = [reason for _, reason in results if reason is not None]
    if reasons:
        log.warning("readyz.not_ready", reasons=reasons)
        return web.json_response({"status": "unavailable", "checks": checks, "reasons": reasons}, status=503)
    return web.json_response({"status": "ok", "checks": checks})


async def refresh_queue_gauges(deps: WebDeps) -> bool:
    """Set photobot_queue_depth and photobot_workers_alive from one queue snapshot.

    Pending jobs are split by tier; the queue counts the other states across tiers, so those carry
    tier="all". Every replica reports the same figures: the dashboard takes max(), not sum().
    """
    try:
        stats: Any = await asyncio.wait_for(deps.queue.stats(), deps.check_timeout)
    except Exception as error:
        log.warning("metrics.stats_unavailable", error=f"{type(error).__name__}: {error}"[:300])
        return False
    gauge = deps.metrics.queue_depth
    for tier, depth in stats.tiers.items():
        gauge.labels(tier, "pending").set(depth)
    for status, count in stats.counts.items():
        if status != "pending":
            gauge.labels("all", status).set(count)
    deps.metrics.workers_alive.set(stats.workers_alive)
    return True


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    started = time.perf_counter()
    await refresh_queue_gauges(deps)
    # Content negotiation as prometheus_client's own server does it: OpenMetrics when the scraper
    # asks for it, the classic text format (0.0.4) otherwise.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(deps.metrics.registry)
    log.debug("metrics.scraped", seconds=round(time.perf_counter() - started, 4))
    response = web.Response(body=body)
    response.headers["Content-Type"] = content_type
    return response


def add_ops_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
    app.router.add_get("/metrics", metrics)
