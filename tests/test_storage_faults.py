"""Drive's bad days, injected by the fake: 429/503 bursts, rate-limit 403s, a full drive, connections
dropped mid-upload, expired tokens, an outage, and a 30% error rate."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from photobot.gdrive import Backoff, StorageError, StorageQuotaError
from photobot.locales import error_text
from photobot.metrics import Metrics
from tests.fakes.drive import FakeDrive
from tests.storage_helpers import META, drive_settings, drive_storage


def retries(metrics: Metrics, operation: str) -> float:
    labels = {"backend": "gdrive", "operation": operation, "outcome": "retry"}
    return metrics.registry.get_sample_value("photobot_storage_calls_total", labels) or 0.0


async def test_burst_of_429_is_ridden_out(async_drive: FakeDrive, tmp_path: Path) -> None:
    metrics = Metrics()
    storage = drive_storage(drive_settings(async_drive, tmp_path), metrics)
    try:
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        async_drive.fail_next(5, 429)
        assert await storage.get(file_id) == b"photo"
    finally:
        await storage.close()
    assert retries(metrics, "get") == 5


@pytest.mark.parametrize("reason", ["rateLimitExceeded", "userRateLimitExceeded"])
async def test_403_rate_limits_are_retried(async_drive: FakeDrive, tmp_path: Path, reason: str) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path))
    try:
        async_drive.fail_next(2, 403, reason)
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        assert await storage.get(file_id) == b"photo"
    finally:
        await storage.close()


async def test_503_longer_than_the_retry_budget_is_a_transient_storage_error(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path, gdrive_max_retries=2))
    try:
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        async_drive.fail_next(10, 503)
        before = len(async_drive.calls)
        with pytest.raises(StorageError) as caught:
            await storage.get(file_id)
    finally:
        await storage.close()
    assert len(async_drive.calls) - before == 3  # the first try and two retries
    error = caught.value
    assert error.code == "storage_unavailable" and error.transient
    assert "503" in error.detail
    for language in ("en", "ru"):
        assert "503" not in error_text(error, language) and "Drive" not in error_text(error, language)


async def test_storage_quota_exceeded_is_typed_and_not_retried(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path))
    try:
        await storage.put(b"warm up the folder cache", "a.jpg", "image/jpeg", META)
        async_drive.quota_exceeded = True
        before = len(async_drive.calls)
        with pytest.raises(StorageQuotaError) as caught:
            await storage.put(b"photo", "b.jpg", "image/jpeg", META)
    finally:
        await storage.close()
    assert len(async_drive.calls) - before == 1
    error = caught.value
    assert error.code == "storage_full"
    assert "shared drive" in error.detail  # the operator learns what to do
    assert "заполнено" in error_text(error, "ru") and "full" in error_text(error, "en")
    assert "storageQuotaExceeded" not in error_text(error, "en")


async def test_service_account_outside_a_shared_drive_hits_the_quota(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    my_drive_folder = async_drive.create_folder("in my drive", shared_drive=False)
    storage = drive_storage(drive_settings(async_drive, tmp_path, gdrive_folder_id=my_drive_folder))
    try:
        with pytest.raises(StorageQuotaError):
            await storage.put(b"photo", "a.jpg", "image/jpeg", META)
    finally:
        await storage.close()


async def test_connection_dropped_mid_resumable_upload_resumes(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    data = os.urandom(6 * 256 * 1024 + 99)
    storage = drive_storage(drive_settings(async_drive, tmp_path))
    try:
        async_drive.drop_chunks = 3
        file_id = await storage.put(data, "big.jpg", "image/jpeg", META)
        assert await storage.get(file_id) == data
    finally:
        await storage.close()
    assert async_drive.dropped == 3
    assert async_drive.status_queries >= 1  # the client asked how much had arrived, then went on from there
    assert len([f for f in async_drive.state.files.values() if f.name == "big.jpg"]) == 1


async def test_expired_token_is_refreshed(async_drive: FakeDrive, tmp_path: Path) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path))
    try:
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        tokens_before = sum(1 for c in async_drive.calls if c[1] == "/token")
        async_drive.expire_tokens()
        assert await storage.get(file_id) == b"photo"
        await storage.put(os.urandom(700_000), "big.jpg", "image/jpeg", META)
    finally:
        await storage.close()
    assert sum(1 for c in async_drive.calls if c[1] == "/token") == tokens_before + 1


async def test_expired_oauth_user_token_is_refreshed(async_drive: FakeDrive, tmp_path: Path) -> None:
    token_file = async_drive.write_user_token(tmp_path / "token.json")
    folder = async_drive.create_folder("mine")
    storage = drive_storage(
        drive_settings(async_drive, tmp_path, gdrive_token_file=token_file, gdrive_folder_id=folder)
    )
    try:
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        async_drive.expire_tokens()
        assert await storage.get(file_id) == b"photo"
    finally:
        await storage.close()


async def test_short_outage_is_waited_out(async_drive: FakeDrive, tmp_path: Path) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path), backoff=Backoff(base=0.1, cap=0.4))
    try:
        file_id = await storage.put(b"photo", "a.jpg", "image/jpeg", META)
        async_drive.go_down(0.6)
        assert await storage.get(file_id) == b"photo"
    finally:
        await storage.close()


async def test_thirty_percent_errors_lose_nothing(async_drive: FakeDrive, tmp_path: Path) -> None:
    storage = drive_storage(drive_settings(async_drive, tmp_path, gdrive_max_retries=10))
    payloads = [os.urandom(2000 + i) for i in range(12)]
    try:
        async_drive.fail_ratio = 0.3
        ids = await asyncio.gather(
            *(
                storage.put(p, f"{i}.jpg", "image/jpeg", {**META, "user_id": f"u{i % 3}"})
                for i, p in enumerate(payloads)
            )
        )
        assert [await storage.get(i) for i in ids] == payloads
    finally:
        await storage.close()
    for user in ("u0", "u1", "u2"):
        assert len([f for f in async_drive.state.files.values() if f.name == user]) == 1


async def test_event_loop_stays_free_while_drive_is_slow(async_drive: FakeDrive, tmp_path: Path) -> None:
    """Calls run in threads and backoff sleeps on the loop: other tasks keep running meanwhile."""
    storage = drive_storage(drive_settings(async_drive, tmp_path), backoff=Backoff(base=0.1, cap=0.2))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)  # counts how often the loop is free to run it
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        async_drive.fail_next(4, 503)
        await storage.put(b"photo", "a.jpg", "image/jpeg", META)
    finally:
        task.cancel()
        await storage.close()
    assert ticks >= 5
