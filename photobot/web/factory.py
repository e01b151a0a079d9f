"""Builds the aiohttp application from WebDeps and serves it; the composition root only wires.

Layout: the root application has /healthz, /readyz, /metrics, the API's reference page
/api/v1/docs and whatever `add_routes` adds (the Telegram webhook); the JSON API is a sub-application
at /api/v1 with its own middlewares (JSON errors, then the per-token request budget, then Bearer
authentication), so neither reaches the operator or webhook routes.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from photobot.web import api
from photobot.web.auth import SESSION_KEY, require_session
from photobot.web.deps import DEPS_KEY, WebDeps
from photobot.web.docs import add_docs_routes
from photobot.web.errors import json_errors
from photobot.web.openapi import build_document
from photobot.web.ops import add_ops_routes
from photobot.web.ratelimit import RATE_LIMIT_KEY, TokenRateLimit, limit_per_token

API_PREFIX = "/api/v1"
DOCUMENT_KEY: web.AppKey[dict[str, Any]] = web.AppKey("photobot_openapi", dict)


def api_version() -> str:
    try:
        return version("photobot")
    except PackageNotFoundError:
        return "0.1.0"


async def openapi_document(request: web.Request) -> web.Response:
    return web.Response(
        text=json.dumps(request.app[DOCUMENT_KEY], indent=1), content_type="application/json"
    )


def build_api_app(deps: WebDeps) -> web.Application:
    app = web.Application(
        middlewares=[json_errors, limit_per_token, require_session], client_max_size=64 * 1024
    )
    app[DEPS_KEY] = deps
    settings = deps.settings
    if settings.api_rate_limit > 0:
        window = settings.api_rate_window_seconds
        limit = TokenRateLimit(deps.sessions.redis, settings.key_prefix, settings.api_rate_limit, window)
        app[RATE_LIMIT_KEY] = limit
    app[SESSION_KEY] = deps.sessions
    app[DOCUMENT_KEY] = build_document(api.OPERATIONS, api_version())
    app.router.add_get("/openapi.json", openapi_document)
    api.register(app)
    return app


def build_web_app(deps: WebDeps) -> web.Application:
    """The whole HTTP side of one photobot process."""
    app = web.Application()
    app[DEPS_KEY] = deps
    add_ops_routes(app)
    add_docs_routes(app)
    if deps.add_routes is not None:
        deps.add_routes(app)
    app.add_subapp(API_PREFIX, build_api_app(deps))
    return app


async def serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Start serving `app`; stop with `await runner.cleanup()`. Port 0 picks a free one
    (`bound_port(runner)` tells which)."""
    runner = web.AppRunner(app, access_log_format='%a "%r" %s %b %Tfs', shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the runner is not listening on a TCP port")
