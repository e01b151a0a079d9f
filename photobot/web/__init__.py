"""photobot's HTTP side: /healthz, /readyz, /metrics, the token-guarded JSON API under /api/v1
with its OpenAPI document, and room for the Telegram webhook route.

    deps = WebDeps(settings, queue, storage, sessions, users, metrics, workers_alive=..., add_routes=...)
    runner = await serve(build_web_app(deps), settings.http_host, settings.http_port)
    ...
    await runner.cleanup()
"""

from photobot.web.deps import JobSource, ResultStorage, UserDirectory, WebDeps
from photobot.web.factory import bound_port, build_web_app, serve

__all__ = [
    "JobSource",
    "ResultStorage",
    "UserDirectory",
    "WebDeps",
    "bound_port",
    "build_web_app",
    "serve",
]
