"""schemathesis against /api/v1/openapi.json of a served app on a real queue and redis-server:
no 5xx, every answer's status, content type and body as the document says, invalid input refused,
and auth never ignored. The document is the one the app serves, fetched over HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation.case import Case

from photobot.config import Settings
from photobot.sessions import Scope
from photobot.web import api
from photobot.web.factory import api_version
from photobot.web.openapi import build_document
from tests.fixtures.redis_server import RedisServer
from tests.web_support import web_stack

MAX_EXAMPLES = 25


@dataclass
class Served:
    base: str
    admin: str
    user: str
    job_ids: list[str]


@pytest.fixture(scope="module")
def served(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on its own event loop in a thread, since schemathesis calls it with blocking requests."""
    tmp = tmp_path_factory.mktemp("openapi")
    config = Settings(
        _env_file=None, redis_url=redis_server.url.replace("/0", "/5"), data_dir=tmp / "data",
        log_file="none",
        api_rate_limit=0,  # hundreds of generated requests share two tokens (the budget has its own test)
    )
    ready = threading.Event()
    stop = threading.Event()
    box: dict[str, object] = {}

    async def run() -> None:
        async with web_stack(config, tmp) as stack:
            await stack.queue.redis.flushdb()
            admin = await stack.token("tg:99", Scope.ADMIN)
            user = await stack.token("tg:1")
            await stack.enqueue("tg:1")
            done = await stack.run_one()
            await stack.enqueue("tg:1")
            failed = await stack.run_one(fail=True)
            pending = await stack.enqueue("tg:1")
            box["served"] = Served(stack.base, admin, user, [done.job_id, failed.job_id, pending.job_id])
            ready.set()
            await asyncio.to_thread(stop.wait)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    assert ready.wait(30), "the app did not start"
    yield box["served"]  # type: ignore[misc]
    stop.set()
    thread.join(30)


# The same document the app serves (test_served_document_is_the_built_one checks that), built
# without a server so that the cases can be collected before the app starts.
DOCUMENT = build_document(api.OPERATIONS, api_version())
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_document(case: Case[Any], served: Served) -> None:
    """As an admin, so every route is reached; random ids mostly give documented 404s, hence no
    positive_data_acceptance check."""
    case.call_and_validate(
        base_url=served.base + "/api/v1",
        headers={"Authorization": f"Bearer {served.admin}"},
        excluded_checks=[positive_data_acceptance],
    )


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_for_a_plain_user(case: Case[Any], served: Served) -> None:
    case.call_and_validate(
        base_url=served.base + "/api/v1",
        headers={"Authorization": f"Bearer {served.user}"},
        excluded_checks=[positive_data_acceptance],
    )


def test_document_describes_every_route_with_its_errors(served: Served) -> None:
    document = requests.get(served.base + "/api/v1/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    operations = {
        (method.upper(), path): op for path, item in document["paths"].items() for method, op in item.items()
    }
    assert set(operations) == {
        ("GET", "/me"), ("GET", "/jobs"), ("GET", "/jobs/{job_id}"), ("GET", "/jobs/{job_id}/result"),
        ("POST", "/jobs/{job_id}/cancel"), ("GET", "/queue/stats"), ("POST", "/jobs/{job_id}/requeue"),
        ("POST", "/users/{user_key}/tier"),
    }
    for (_, path), op in operations.items():
        assert {"200", "401"} <= set(op["responses"]), path
        if "{job_id}" in path:
            assert {"403", "404", "422"} <= set(op["responses"]), path
    assert "image/jpeg" in operations[("GET", "/jobs/{job_id}/result")]["responses"]["200"]["content"]
    schemas = set(document["components"]["schemas"])
    assert {"JobOut", "JobPage", "QueueStats", "ErrorBody", "TierChange"} <= schemas


def test_served_document_is_the_built_one_and_needs_no_token(served: Served) -> None:
    response = requests.get(served.base + "/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.json() == DOCUMENT
