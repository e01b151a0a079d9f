"""The API's request budget per token (API_RATE_LIMIT per API_RATE_WINDOW_SECONDS).

Bad inputs tried: one token past its budget (429 with Retry-After, in the API's JSON error shape),
another token meanwhile (its own budget), made-up tokens (counted too: guessing is bounded), and
no token at all (401 as before, nothing counted).
"""

from __future__ import annotations

from pathlib import Path

from photobot.config import Settings
from tests.web_support import web_stack


async def test_a_token_past_its_budget_gets_429_others_do_not(settings: Settings, tmp_path: Path) -> None:
    limited = settings.model_copy(update={"api_rate_limit": 5, "api_rate_window_seconds": 60})
    async with web_stack(limited, tmp_path) as stack:
        busy, calm = await stack.token("tg:1"), await stack.token("tg:2")
        statuses = [(await stack.call("GET", "/api/v1/jobs?status=failed", busy))[0] for _ in range(7)]
        assert statuses == [200] * 5 + [429] * 2
        async with stack.http.get(
            stack.base + "/api/v1/me", headers={"Authorization": f"Bearer {busy}"}
        ) as response:
            body = await response.json()
            assert response.status == 429 and 1 <= int(response.headers["Retry-After"]) <= 60
            assert body["error"]["code"] == "rate_limited"
        assert (await stack.call("GET", "/api/v1/me", calm))[0] == 200
        guesses = [(await stack.call("GET", "/api/v1/me", "guess"))[0] for _ in range(7)]
        assert guesses == [401] * 5 + [429] * 2
        assert [(await stack.call("GET", "/api/v1/me"))[0] for _ in range(7)] == [401] * 7
