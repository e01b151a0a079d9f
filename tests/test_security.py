"""The security pass, one test per point.

Most points run against one real `python -m photobot bot` in webhook mode (HTTP server on, the
fake Bot API posting updates with its secret header, the fake VK long poll, Google Drive storage on
the fake Drive with a service-account key, LOG_LEVEL=DEBUG), so what is checked is what an operator
would run. The worker is not started there, so jobs stay pending for the cross-user checks.

Covered elsewhere, and not repeated here:
- the API's auth matrix (no token, malformed, unknown, expired, revoked, another user, admin, for
  every endpoint): tests/test_web_api.py::test_endpoint_under_every_caller, which also shows a user
  cannot read or cancel another user's job through the API (403);
- hostile files: tests/test_processing_hostile.py runs the corpus of tests/processing_corpus.py
  (decompression bombs, truncated and polyglot files, wrong magic, huge dimensions, fuzzed JPEG and
  PNG) through the process pool within time and memory caps;
- ids that try to leave the storage folder: tests/test_storage_local.py (get/delete of hostile ids).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from photobot.config import Settings
from photobot.gdrive.local import LocalStorage
from photobot.jobs import Job, JobStatus
from photobot.processing import ImageProcessor, list_operations
from photobot.queue import JobQueue
from photobot.sessions import SessionStore
from tests.chaos.support import Photobot, base_env, tiny_jpeg
from tests.conftest import ASTRONAUT
from tests.fakes.drive import FakeDrive
from tests.fakes.telegram import FakeTelegram
from tests.fakes.vk import FakeVK
from tests.fixtures.redis_server import RedisServer, free_port, reply

ADMIN, ALICE, BOB, FORGER = 900, 901, 902, 903
SECRET = "webhook-secret-" + "s3cr3t" * 4

pytestmark = pytest.mark.timeout(180)


@dataclass
class Deployment:
    tg: FakeTelegram
    vk: FakeVK
    drive: FakeDrive
    bot: Photobot
    redis_url: str
    hook_url: str
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def deployment(
    module_tg: FakeTelegram,
    module_vk: FakeVK,
    module_drive: FakeDrive,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Deployment]:
    tg, vk, drive = module_tg, module_vk, module_drive
    tmp = tmp_path_factory.mktemp("security")
    redis_server = RedisServer(tmp / "redis").start()  # its own: other tests flush the shared one
    port = free_port()
    key_file = drive.write_service_account(tmp / "sa.json")
    env = base_env(
        tg, redis_server.url, tmp,
        LOG_LEVEL="DEBUG", HTTP_ENABLED="true", HTTP_HOST="127.0.0.1", HTTP_PORT=port,
        WEBHOOK_URL=f"http://127.0.0.1:{port}", WEBHOOK_SECRET=SECRET, ADMIN_IDS=str(ADMIN),
        VK_TOKEN=vk.token, VK_GROUP_ID=vk.group_id, VK_API_URL=vk.api_url,
        STORAGE_BACKEND="gdrive", GDRIVE_API_URL=drive.url, GDRIVE_CREDENTIALS_FILE=key_file,
        GDRIVE_FOLDER_ID=drive.create_folder("photobot", shared_drive=True),
    )
    bot = Photobot(env, tmp, mode="bot").start()
    try:
        tg.wait_for_sync(lambda: tg.webhook_url is not None or not bot.running, 90)
        assert bot.running, bot.tail()
        private_key = json.loads(key_file.read_text())["private_key"]
        secrets = {"BOT_TOKEN": tg.token, "VK_TOKEN": vk.token, "WEBHOOK_SECRET": SECRET,
                   "Drive private key": _key_body(private_key)}
        yield Deployment(tg, vk, drive, bot, redis_server.url, str(tg.webhook_url), secrets)
    finally:
        bot.stop()
        bot.clean_up()
        redis_server.stop()


def _key_body(pem: str) -> str:
    """A long line from the middle of the PEM: what a leaked key would show."""
    lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return lines[len(lines) // 2]


def _jobs_of(redis_url: str, user_key: str) -> list[Job]:
    """The user's jobs, read through the queue's own history (what /jobs shows)."""

    async def read() -> list[Job]:
        settings = Settings(_env_file=None, redis_url=redis_url, log_file="none")
        queue = JobQueue.from_settings(settings)
        try:
            return (await queue.user_jobs(user_key, limit=50))[0]
        finally:
            await queue.close()

    return asyncio.run(read())


def _reply_to(tg: FakeTelegram, chat_id: int, before: int, timeout: float = 30) -> str:
    tg.wait_for_sync(lambda: len(tg.visible_messages(chat_id)) > before, timeout)
    return tg.visible_messages(chat_id)[-1].text or ""


def _post(url: str, body: dict[str, Any], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.slow
def test_admin_commands_are_refused_for_non_admins(deployment: Deployment) -> None:
    tg, target = deployment.tg, 999
    for command in ("/stats", f"/ban {target}", f"/tier {target} premium", "/requeue failed",
                    f"/job {'0' * 32}", f"/unban {target}"):
        before = len(tg.visible_messages(BOB))
        tg.inject_text(BOB, command)
        assert _reply_to(tg, BOB, before).startswith("Sorry, this command is for admins"), command
    client = redis.Redis.from_url(deployment.redis_url, decode_responses=True)
    assert client.hgetall(f"{{photobot}}:user:tg:{target}") == {}, "a refused command changed the user"
    before = len(tg.visible_messages(ADMIN))
    tg.inject_text(ADMIN, "/stats")  # the same command works for an admin: the refusal is not a bug
    assert not _reply_to(tg, ADMIN, before).startswith("Sorry")


@pytest.mark.slow
def test_one_user_cannot_status_or_cancel_another_users_job(deployment: Deployment) -> None:
    tg = deployment.tg
    tg.inject_photo(ALICE, tiny_jpeg(1), "sepia")
    tg.wait_for_sync(lambda: bool(_jobs_of(deployment.redis_url, f"tg:{ALICE}")), 60)
    [job] = _jobs_of(deployment.redis_url, f"tg:{ALICE}")
    job_id = job.job_id
    for command in (f"/status {job_id}", f"/cancel {job_id}"):
        before = len(tg.visible_messages(BOB))
        tg.inject_text(BOB, command)
        answer = _reply_to(tg, BOB, before)
        assert answer.startswith("No job") and "sepia" not in answer.lower(), answer
    [still] = _jobs_of(deployment.redis_url, f"tg:{ALICE}")
    assert still.status is JobStatus.PENDING
    before = len(tg.visible_messages(ALICE))
    tg.inject_text(ALICE, f"/cancel {job_id}")  # the owner can: Bob's refusal was about ownership
    _reply_to(tg, ALICE, before)
    [mine] = _jobs_of(deployment.redis_url, f"tg:{ALICE}")
    assert mine.status is JobStatus.CANCELLED


@pytest.mark.slow
def test_webhook_without_the_secret_is_refused_and_enqueues_nothing(deployment: Deployment) -> None:
    tg, url = deployment.tg, deployment.hook_url
    genuine = tg.update(tg.inject_photo(FORGER + 1000, tiny_jpeg(2), "invert"))
    forged = json.loads(json.dumps(genuine))
    forged["update_id"] += 1_000_000
    message = forged["message"]
    message["message_id"] += 1000
    message["from"]["id"] = message["chat"]["id"] = FORGER
    # The forger is a real Telegram user whose chat with the bot exists: what is refused is the
    # update without the secret, not a message to an unknown chat.
    tg.state.register_chat(tg.state.register_user(FORGER, None, None), None, "private")
    assert _post(url, forged, None) == 403
    assert _post(url, forged, "wrong-" + SECRET) == 403
    assert _post(url, forged, SECRET[:-1]) == 403
    time.sleep(1.0)  # time for a forged update to be taken, were it taken: it must not be
    assert _jobs_of(deployment.redis_url, f"tg:{FORGER}") == []
    assert tg.messages(FORGER) == []
    assert _post(url, forged, SECRET) == 200  # the right secret: the same update is taken
    assert len(_jobs_of(deployment.redis_url, f"tg:{FORGER}")) == 1


@pytest.mark.slow
def test_no_secret_reaches_the_logs(deployment: Deployment, tmp_path: Path) -> None:
    tg, vk = deployment.tg, deployment.vk
    tg.inject_photo(ALICE + 50, tiny_jpeg(3), "grayscale")  # stored on Drive: a service-account login
    vk.inject_text(ALICE, "/help")
    tg.wait_for_sync(lambda: bool(_jobs_of(deployment.redis_url, f"tg:{ALICE + 50}")), 60)
    vk.wait_for_sync(lambda: bool(vk.visible_messages(ALICE)), 60)
    issued = subprocess.run(
        [sys.executable, "-m", "photobot", "token", "issue", f"tg:{ALICE}"],
        env=deployment.bot.env, capture_output=True, text=True, timeout=60, check=True,
    )
    session_token = issued.stdout.strip().split()[-1]
    assert len(session_token) >= 43
    drive_tokens = list(deployment.drive.state.tokens)
    assert drive_tokens, "photobot never logged in to the Drive; the check would be empty"
    secrets = {**deployment.secrets, "session token": session_token,
               **{f"Drive access token {i}": t for i, t in enumerate(drive_tokens)}}
    log = Path(deployment.bot.env["LOG_FILE"]).read_text(errors="replace")
    log += deployment.bot.output.read_text(errors="replace") + issued.stderr
    assert log.count("\n") > 20, "the log is too short to prove anything"
    leaked = [name for name, value in secrets.items() if value in log]
    assert not leaked, f"in the logs: {leaked}"


def test_session_tokens_have_128_bits_or_more_and_redis_keeps_only_hashes(settings: Settings) -> None:
    async def draw() -> list[str]:
        store = SessionStore.from_settings(settings)
        try:
            return [await store.issue(f"tg:{i % 7}") for i in range(1000)]
        finally:
            await store.redis.aclose()

    tokens = asyncio.run(draw())
    raw = [base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)) for token in tokens]
    assert len(set(tokens)) == len(tokens)
    assert min(len(value) for value in raw) * 8 >= 128
    ones = sum(bin(byte).count("1") for value in raw for byte in value)
    assert abs(ones / (8 * sum(map(len, raw))) - 0.5) < 0.01, "token bits are not balanced"
    stored = _everything_in(redis.Redis.from_url(str(settings.redis_url), decode_responses=True))
    assert len(stored) > 1000, "nothing stored"
    assert not [t for t in tokens if t in stored], "a raw token is in Redis"


def _everything_in(client: redis.Redis) -> str:
    """Every key and every value in the database, as one text."""
    parts: list[str] = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        parts.append(key)
        if kind == "string":
            parts.append(str(client.get(key)))
        elif kind == "hash":
            parts += [f"{k}={v}" for k, v in reply(client.hgetall(key)).items()]
        elif kind == "set":
            parts += list(reply(client.smembers(key)))
        elif kind == "zset":
            parts += list(reply(client.zrange(key, 0, -1)))
        elif kind == "list":
            parts += list(reply(client.lrange(key, 0, -1)))
    client.close()
    return "\n".join(parts)


def _jpeg_with_gps() -> bytes:
    """The astronaut (one face, so the face operations have something to crop) as a JPEG with a
    camera make and model and a GPS position."""
    image = Image.open(ASTRONAUT).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0110] = "Model X"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (55.0, 45.0, 21.0), 3: "E", 4: (37.0, 37.0, 4.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_results_carry_no_exif_or_gps(settings: Settings) -> None:
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "the input must carry GPS"
    processor = ImageProcessor.from_settings(settings.model_copy(update={"process_workers": 1}))
    try:
        for operation in list_operations():
            outcome = await processor.run(original, operation.name, {})
            for result in outcome.images:
                shown = Image.open(io.BytesIO(result.data))
                exif = shown.getexif()
                assert not exif.get_ifd(0x8825) and 0x010F not in exif, operation.name
                assert b"SpyCam" not in result.data and b"Exif" not in result.data, operation.name
    finally:
        await processor.close()


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/shadow.jpg", "..\\..\\x.png",
                                  "a.j/../../pg", "x.\x00jpg", "%2e%2e%2fescape.jpg"])
async def test_local_storage_keeps_hostile_names_inside_its_folder(tmp_path: Path, name: str) -> None:
    root = tmp_path / "storage"
    storage = LocalStorage(root)
    file_id = await storage.put(b"data", name, "image/jpeg", {"user_id": "../../evil", "kind": "original"})
    assert "/" not in file_id and "\\" not in file_id and ".." not in file_id
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(root.resolve() in p.resolve().parents for p in written), written
    assert await storage.get(file_id) == b"data"
