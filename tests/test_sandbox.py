"""`photobot sandbox` as a newcomer uses it: a real photobot process against the built-in Bot API
stand-in, driven through the chat page's API and through the page itself in headless Chromium.

Bad input tried on the page's API: a body that is not JSON, a person who is not one of the
sandbox's, an empty upload, an upload with no file, a text over 4096 characters, a press on a
message that does not exist, a file id nobody issued, a file that is no image (it goes as a
document, as Telegram sends it). None is a 500, and the bot goes on answering afterwards.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photobot.bot.i18n import t
from tests.fixtures.redis_server import free_port
from tests.process_support import REPO, clean_env, start, wait_gone
from tests.waiting import wait_until

CHROMIUM = "/usr/bin/chromium"
USER, ADMIN = 1001, 1
pytestmark = pytest.mark.timeout(240)


class Sandbox:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, path: str, body: bytes | None = None, content_type: str = "application/json") -> Any:
        request = urllib.request.Request(self.base + path, data=body, headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def post(self, path: str, payload: Any) -> Any:
        return self.request(path, json.dumps(payload).encode())

    def upload(self, person: int, name: str, data: bytes, caption: str = "") -> Any:
        boundary = "sandboxtestboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="person"\r\n\r\n{person}\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n{caption}\r\n'.encode(),
            (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
             "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        form = f"multipart/form-data; boundary={boundary}"
        return self.request("/sandbox/api/upload", b"".join(parts), form)

    def chat(self, person: int) -> list[dict[str, Any]]:
        status, body = self.request(f"/sandbox/api/chat?person={person}")
        assert status == 200
        return list(body["messages"])

    def wait(self, person: int, predicate: Any, timeout: float = 60) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []

        def shown() -> list[dict[str, Any]] | None:
            nonlocal messages
            messages = self.chat(person)
            return messages if predicate(messages) else None

        return wait_until(shown, timeout, lambda: f"the chat of {person}; it shows {messages}", step=0.2)


def jpeg(width: int = 320, height: int = 240) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (180, 120, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """`python -m photobot sandbox` in an empty folder (no .env, no token), until its one line."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("sandbox")
    process, output = start([sys.executable, "-m", "photobot", "sandbox", "--port", str(port)], workdir,
                            clean_env(PYTHONPATH=str(REPO)))
    try:
        def opened() -> bool:
            assert process.poll() is None, output.text()
            return any(line.startswith("photobot sandbox: open") for line in output.lines)

        wait_until(opened, 90, output.text)
        assert f"http://127.0.0.1:{port}/" in output.text()
        yield Sandbox(f"http://127.0.0.1:{port}")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            assert process.wait(timeout=45) == 0, output.text()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    assert wait_gone(process.pid, 5)
    assert "Traceback" not in output.text(), output.text()
    log_file = Path(output.text().split("log: ", 1)[1].split(")", 1)[0])
    assert log_file.name == "photobot.log" and not log_file.parent.parent.exists()  # removed on exit


@pytest.mark.slow
def test_the_page_and_its_api_run_the_real_bot(sandbox: Sandbox) -> None:
    with urllib.request.urlopen(sandbox.base + "/", timeout=10) as page:
        html = page.read().decode()
    assert "/sandbox/static/sandbox.js" in html and "http" not in html.replace("http-equiv", "")

    assert sandbox.post("/sandbox/api/text", {"person": USER, "text": "/start"})[0] == 200
    sandbox.wait(USER, lambda ms: any(m["from"] == "bot" and m["text"] == t("start", "en") for m in ms))

    status, _ = sandbox.upload(USER, "photo.jpg", jpeg(), caption="sepia")
    assert status == 200
    caption = t("done", "en", operation="Sepia")
    done = sandbox.wait(USER, lambda ms: any(m["text"] == caption for m in ms if m["from"] == "bot"))
    result = next(m for m in done if m["from"] == "bot" and m["text"] == caption)
    with urllib.request.urlopen(sandbox.base + result["image"], timeout=10) as image:
        assert Image.open(io.BytesIO(image.read())).size == (320, 240)

    assert sandbox.post("/sandbox/api/text", {"person": ADMIN, "text": "/stats"})[0] == 200
    sandbox.wait(ADMIN, lambda ms: any(m["from"] == "bot" and "workers alive" in (m["text"] or "")
                                       for m in ms))


@pytest.mark.slow
def test_bad_input_gets_a_reason_not_a_crash(sandbox: Sandbox) -> None:
    assert sandbox.request("/sandbox/api/text", b"{not json")[0] == 400
    stranger = {"person": 77, "text": "/start"}
    assert sandbox.post("/sandbox/api/text", stranger) == (400, {"error": "unknown person"})
    assert sandbox.post("/sandbox/api/text", {"person": USER, "text": "x" * 4097})[0] == 400
    assert sandbox.upload(USER, "empty.jpg", b"")[0] == 400
    gone = {"person": USER, "message_id": 99999, "data": "op:sepia"}
    assert sandbox.post("/sandbox/api/press", gone)[0] == 404
    assert sandbox.request("/sandbox/api/file/nothing-here")[0] == 404
    status, body = sandbox.upload(USER, "notes.txt", b"just some text")
    assert (status, body["sent_as"]) == (200, "document")
    before = len(sandbox.chat(USER))
    sandbox.wait(USER, lambda ms: len(ms) >= before + 1 and ms[-1]["from"] == "bot")
    count = len(sandbox.chat(USER))
    assert sandbox.post("/sandbox/api/text", {"person": USER, "text": "/tier"})[0] == 200
    sandbox.wait(USER, lambda ms: len(ms) == count + 2 and ms[-1]["from"] == "bot")


@pytest.mark.slow
def test_ops_lists_parameters_and_an_unknown_command_points_to_help(sandbox: Sandbox) -> None:
    """The real bot's answers through the stand-in: /ops names each operation's parameters, and a
    command it does not know gets "unknown command, see /help" rather than the photo hint."""
    person = ADMIN
    count = len(sandbox.chat(person))
    assert sandbox.post("/sandbox/api/text", {"person": person, "text": "/ops"})[0] == 200
    ops = sandbox.wait(person, lambda ms: len(ms) >= count + 2 and ms[-1]["from"] == "bot")[-1]["text"]
    assert "radius=4.0 (0.5–50)" in ops and "mode=blur (blur|pixelate)" in ops
    assert sandbox.post("/sandbox/api/text", {"person": person, "text": "/frobnicate now"})[0] == 200
    answer = sandbox.wait(person, lambda ms: len(ms) >= count + 4 and ms[-1]["from"] == "bot")[-1]["text"]
    assert answer == t("unknown_command", "en", command="/frobnicate")


def browser_or_skip() -> Any:
    """Headless Chromium from Debian's package, driven by Playwright (which downloads nothing).
    .ci/run installs both, so in CI a missing one fails the test instead of skipping it."""
    if importlib.util.find_spec("playwright") is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("playwright or /usr/bin/chromium is missing (.ci/run installs them)")
        pytest.skip("playwright or /usr/bin/chromium is missing")
    from playwright.sync_api import sync_playwright

    return sync_playwright


@pytest.mark.slow
def test_a_person_uses_the_chat_page_in_a_browser(sandbox: Sandbox, tmp_path: Path) -> None:
    sync_playwright = browser_or_skip()
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(jpeg(400, 300))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.goto(sandbox.base + "/")
            page.select_option("#person", str(USER))
            page.fill("#text", "/start")
            page.click("#send")
            greeting = t("start", "en")[:20]
            page.wait_for_selector(f'.msg[data-from="bot"]:has-text("{greeting}")', timeout=30_000)

            page.set_input_files("#file", str(photo))
            page.click("#send")
            status = page.locator('.msg[data-from="bot"]:has(.keyboard)').last
            status.wait_for(timeout=30_000)
            message_id = status.get_attribute("data-id")
            status.get_by_role("button", name="Sepia").click()
            # The status message itself turns into the result: edited, the keyboard gone.
            done = t("done", "en", operation="Sepia")
            result = page.locator(f'.msg[data-id="{message_id}"]:has(.edited):not(:has(.keyboard))')
            result.filter(has_text=done).wait_for(timeout=60_000)
            assert result.get_attribute("data-kind") == "photo"
            image = result.locator("img")
            page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
            assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [400, 300]

            page.select_option("#person", str(ADMIN))
            page.fill("#text", "/stats")
            page.click("#send")
            page.wait_for_selector('.msg[data-from="bot"]:has-text("workers alive")', timeout=30_000)
            assert page.locator('.msg[data-kind="photo"]').count() == 0  # the admin's own chat, not Alice's
        finally:
            browser.close()


def test_the_page_needs_nothing_from_elsewhere() -> None:
    """No CDN, no build step: every file the page loads ships in the package."""
    static = REPO / "photobot" / "sandbox" / "static"
    for name in ("index.html", "sandbox.js", "sandbox.css"):
        text = (static / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
