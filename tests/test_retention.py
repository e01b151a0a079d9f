"""Retention: stored originals and results are deleted again, on local disk and on Drive.

Bad inputs tried: ten photos without a caption from a user whose pending cap is one (each used to
leave a stored original behind), photos whose choice is never made (orphans), a user past the
storage budget, `/forget` from a user and from an admin for a banned and for a not-banned user, a
non-admin naming someone else, and a sweep on Drive. Time passing is given to the sweep as `now`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from photobot import builders
from photobot.bot.service import IncomingPhoto
from photobot.config import Settings
from photobot.gdrive import LocalStorage
from photobot.gdrive.ledger import FileLedger
from photobot.jobs import Platform
from tests.bot_support import ChatSide, chat_side
from tests.conftest import ASTRONAUT
from tests.fakes.drive import FakeDrive
from tests.storage_helpers import drive_settings

HOUR_MS = 3600 * 1000
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def side(make_settings: Callable[..., Settings]) -> AsyncIterator[ChatSide]:
    settings = make_settings(process_workers=1, max_pending_per_user=1, admin_ids="7")
    async with chat_side(settings) as built:
        built.adapter.files["astro"] = ASTRONAUT.read_bytes()
        yield built


async def photo(
    side: ChatSide, message_id: int, caption: str | None = None, user: str = "tg:42"
) -> IncomingPhoto:
    return IncomingPhoto(
        platform=Platform.TELEGRAM,
        chat_id=int(user.split(":")[1]),
        message_id=message_id,
        user=await side.users.get(user),
        language="en",
        file_ref="astro",
        filename="a.png",
        mime="image/png",
        caption=caption,
        resend_ref="astro",
    )


def stored_files(settings: Settings) -> list[Path]:
    root = settings.resolved_storage_dir
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".meta.json")]


async def test_photos_waiting_for_a_choice_count_against_the_pending_cap(side: ChatSide) -> None:
    """MAX_PENDING_PER_USER=1: the first photo waits for its choice, the other nine are refused
    before they are downloaded, so one original is on disk, not ten."""
    for message_id in range(1, 11):
        await side.service.accept_photo(await photo(side, message_id))
    assert len(stored_files(side.settings)) == 1
    refusals = [sent for sent in side.adapter.log if sent.kind == "text"]
    assert len(refusals) == 9 and all("unfinished" in (sent.text or "") for sent in refusals)


async def test_an_orphan_goes_after_the_state_ttl_a_waiting_job_stays(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1))  # waits for a choice, never made
    await side.service.accept_photo(await photo(side, 2, "sepia", user="tg:43"))  # a waiting job
    assert len(stored_files(side.settings)) == 2
    now = int(time.time() * 1000)
    assert (await side.retention.sweep(now)).orphans == 0, "younger than STATE_TTL_SECONDS"
    later = now + side.settings.state_ttl_seconds * 1000 + HOUR_MS
    swept = await side.retention.sweep(later)
    assert (swept.orphans, swept.expired) == (1, 0)
    assert len(stored_files(side.settings)) == 1
    # Long past FILE_RETENTION_SECONDS, the waiting job's original is still kept.
    much_later = now + side.settings.file_retention_seconds * 1000 + HOUR_MS
    assert (await side.retention.sweep(much_later)).expired == 0
    assert len(stored_files(side.settings)) == 1


async def test_a_finished_jobs_files_expire_after_the_retention(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1, "sepia"))
    await side.run_one()
    assert len(stored_files(side.settings)) == 2  # the original and the result
    now = int(time.time() * 1000)
    assert await side.retention.sweep(now + HOUR_MS * 2) == type(await side.retention.sweep(now))()
    swept = await side.retention.sweep(now + side.settings.file_retention_seconds * 1000 + HOUR_MS)
    assert swept.expired == 2 and stored_files(side.settings) == []
    assert await FileLedger(side.redis, side.settings.key_prefix).count() == (0, 0)


async def test_forget_deletes_the_callers_files_and_cancels_their_waiting_jobs(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1, "sepia"))
    user = await side.users.get("tg:42")
    reply = await side.commands.run("forget", "", user, "en", private=True)
    assert reply is not None and "Deleted: 1" in reply.text
    assert stored_files(side.settings) == []
    assert await side.queue.pending_count("tg:42") == 0
    # The cap is free again: a new photo is accepted.
    await side.service.accept_photo(await photo(side, 2))
    assert len(stored_files(side.settings)) == 1


async def test_forget_for_a_banned_user_is_an_admins_command(side: ChatSide) -> None:
    await side.service.accept_photo(await photo(side, 1, user="tg:43"))
    admin, other = await side.users.get("tg:7"), await side.users.get("tg:42")
    refused = await side.commands.run("forget", "43", other, "en", private=True)
    assert refused is not None and stored_files(side.settings), "not an admin: nothing deleted"
    not_banned = await side.commands.run("forget", "43", admin, "en", private=True)
    assert not_banned is not None and "not banned" in not_banned.text and stored_files(side.settings)
    await side.users.ban("tg:43")
    done = await side.commands.run("forget", "43", admin, "en", private=True)
    assert done is not None and "Deleted 1" in done.text and stored_files(side.settings) == []


async def test_a_user_past_the_storage_budget_is_refused(make_settings: Callable[..., Settings]) -> None:
    size = len(ASTRONAUT.read_bytes())
    budget_mb = 1
    async with chat_side(make_settings(process_workers=1, user_storage_mb=budget_mb)) as side:
        side.adapter.files["astro"] = ASTRONAUT.read_bytes()
        count = budget_mb * 1024 * 1024 // size
        for message_id in range(1, count + 2):
            await side.service.accept_photo(await photo(side, message_id, "sepia"))
        assert len(stored_files(side.settings)) == count
        refusal = side.adapter.log[-1]
        text = refusal.text or ""
        assert refusal.kind == "text" and "of your 1 MB" in text and "/forget" in text


@pytest.mark.slow
async def test_storage_gc_command(side: ChatSide) -> None:
    """`photobot storage gc` as a subprocess: one sweep, its figures as JSON; `--adopt` records files
    stored before the ledger (then swept like any), `--forget USER` deletes one user's."""
    await side.service.accept_photo(await photo(side, 1))
    env = {
        **os.environ, "PYTHONPATH": str(REPO), "DATA_DIR": str(side.settings.data_dir),
        "REDIS_URL": side.settings.redis_url or "", "LOG_FILE": "none",
    }

    def gc(*args: str) -> dict[str, int]:
        done = subprocess.run(
            [sys.executable, "-m", "photobot", "storage", "gc", *args],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        report: dict[str, int] = json.loads(done.stdout)
        return report

    assert gc() == {"expired": 0, "orphans": 0, "failed": 0, "kept_files": 1,
                    "kept_bytes": ASTRONAUT.stat().st_size}
    # A file from before the ledger: unknown to it until adopted, then an orphan by its age.
    untracked = LocalStorage(side.settings.resolved_storage_dir)
    old_id = await untracked.put(b"old", "old.jpg", "image/jpeg", {"job_id": "gone", "user_id": "tg:5"})
    a_day_ago = time.time() - 86400
    os.utime(untracked.path_for(old_id), (a_day_ago, a_day_ago))
    assert gc()["kept_files"] == 1
    adopted = gc("--adopt")
    assert adopted["adopted"] == 1 and adopted["orphans"] == 1 and adopted["kept_files"] == 1
    assert not untracked.path_for(old_id).exists()
    assert gc("--forget", "tg:42")["forgotten"] == 1
    assert stored_files(side.settings) == []


async def test_drive_files_are_swept_alike(
    tmp_path: Path, redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    async with FakeDrive() as drive:
        settings = drive_settings(drive, tmp_path, redis_url=redis_url)
        async with builders.stores(settings) as core:
            file_id = await core.storage.put(b"\xff\xd8\xff" + b"x" * 100, "a.jpg", "image/jpeg",
                                             {"job_id": "nojob", "user_id": "tg:9", "kind": "original"})
            assert file_id in drive.state.files
            later = int(time.time() * 1000) + settings.state_ttl_seconds * 1000 + HOUR_MS
            swept = await core.retention.sweep(later)
            assert swept.orphans == 1 and file_id not in drive.state.files
            assert await core.storage.ledger.user_bytes("tg:9") == 0
