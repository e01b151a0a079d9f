"""/api/v1/docs: the API's reference page, served by photobot from the swagger-ui-py package (no
CDN), rendered in headless Chromium; and the API's one time format, milliseconds since the epoch.

Bad input tried: a file name of the package that the page does not load (its editor bundle), a path
that climbs out (`..%2F`), the page with a trailing slash, and the page with a stale token header."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import Any

import pytest

from photobot.config import Settings
from photobot.sessions import Scope
from photobot.web.schemas import Me
from tests.web_support import web_stack

CHROMIUM = "/usr/bin/chromium"


async def test_the_page_and_its_files_are_served_locally(settings: Settings, tmp_path: Path) -> None:
    async with web_stack(settings, tmp_path) as stack:
        stale = {"Authorization": "Bearer stale"}
        async with stack.http.get(stack.base + "/api/v1/docs", headers=stale) as page:
            assert page.status == 200 and page.content_type == "text/html"
            html = await page.text()
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and not [s for s in sources if "//" in s], sources  # nothing from elsewhere
        for source in sources:
            async with stack.http.get(stack.base + "/api/v1/" + source) as asset:
                assert asset.status == 200 and len(await asset.read()) > 0, source
        for bad in ("swagger-editor-bundle.js", "..%2F..%2Fconfig.py", "index.html"):
            async with stack.http.get(stack.base + "/api/v1/docs/" + bad) as refused:
                assert refused.status == 404, bad
        async with stack.http.get(stack.base + "/api/v1/docs/", allow_redirects=False) as slash:
            assert slash.status == 308 and slash.headers["Location"] == "/api/v1/docs"


def test_times_are_milliseconds_and_the_seconds_fields_are_deprecated() -> None:
    me = Me.build("tg:1", Scope.USER, "free", 1_800_000_000_123, quota_next_at_ms=1_800_000_001_999)
    assert (me.expires_at_ms, me.expires_at) == (1_800_000_000_123, 1_800_000_000)
    assert (me.quota_next_at_ms, me.quota_next_at) == (1_800_000_001_999, 1_800_000_001)
    assert me.premium_until is None
    properties = Me.model_json_schema()["properties"]
    deprecated = sorted(name for name, schema in properties.items() if schema.get("deprecated"))
    assert deprecated == ["expires_at", "premium_until", "quota_next_at"]
    assert all(name.endswith("_ms") or name in deprecated for name in properties if "_at" in name
               or "until" in name)


@pytest.mark.slow
async def test_the_page_renders_the_operations_in_a_browser(settings: Settings, tmp_path: Path) -> None:
    if importlib.util.find_spec("playwright") is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("playwright or /usr/bin/chromium is missing (.ci/run installs them)")
        pytest.skip("playwright or /usr/bin/chromium is missing")
    from playwright.async_api import async_playwright

    async with web_stack(settings, tmp_path) as stack, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = await browser.new_page()
            requests: list[Any] = []
            page.on("request", lambda request: requests.append(request.url))
            await page.goto(stack.base + "/api/v1/docs")
            await page.wait_for_selector(".opblock", timeout=30_000)
            paths = await page.locator(".opblock-summary-path").all_inner_texts()
            assert any(p.strip().endswith("/me") for p in paths), paths
            assert any("/jobs/{job_id}/result" in p.replace("\u200b", "") for p in paths), paths
            assert all(url.startswith(stack.base) for url in requests), requests
        finally:
            await browser.close()
