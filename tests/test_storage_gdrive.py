"""GoogleDriveStorage against the fake Drive: real google-auth and google-api-python-client over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from photobot.gdrive import FileMissing, GoogleDriveStorage, InvalidFileId, build_storage
from photobot.metrics import Metrics
from tests.fakes.drive import FakeDrive
from tests.fakes.drive.state import FOLDER_MIME, Principal
from tests.storage_helpers import META, drive_settings, drive_storage


@pytest.fixture
async def storage(async_drive: FakeDrive, tmp_path: Path) -> AsyncIterator[GoogleDriveStorage]:
    store = drive_storage(drive_settings(async_drive, tmp_path))
    yield store
    await store.close()


def folders_named(drive: FakeDrive, name: str) -> list[str]:
    return [f.id for f in drive.state.files.values() if f.name == name and f.mime_type == FOLDER_MIME]


async def test_small_file_round_trip_with_app_properties(
    async_drive: FakeDrive, storage: GoogleDriveStorage
) -> None:
    data = b"\n\x00\r\n--boundary-like\r\n" + os.urandom(5000) + b"\n"
    file_id = await storage.put(data, "photo.jpg", "image/jpeg", META)
    assert await storage.get(file_id) == data
    stored = async_drive.state.files[file_id]
    assert stored.app_properties == META
    assert stored.mime_type == "image/jpeg" and stored.name == "photo.jpg"
    (user_folder,) = folders_named(async_drive, "tg:42")
    assert stored.parents == [user_folder]
    assert async_drive.state.files[user_folder].parents == [storage._settings.gdrive_folder_id]
    assert await storage.link(file_id) == f"https://drive.google.com/file/d/{file_id}/view"
    uploads = [c for c in async_drive.calls if c[1] == "/upload/drive/v3/files"]
    assert [c[2]["uploadType"] for c in uploads] == ["multipart"]


@pytest.mark.parametrize("tail", [b"\r", b"\n", b"\r\n", b"\n\r", b"--"])
async def test_a_payload_ending_in_line_break_bytes_round_trips(
    async_drive: FakeDrive, storage: GoogleDriveStorage, tail: bytes
) -> None:
    data = os.urandom(100) + tail
    file_id = await storage.put(data, "photo.jpg", "image/jpeg", META)
    assert await storage.get(file_id) == data


async def test_large_file_goes_resumable_in_aligned_chunks(
    async_drive: FakeDrive, storage: GoogleDriveStorage
) -> None:
    data = os.urandom(3 * 256 * 1024 + 1234)
    file_id = await storage.put(data, "big.png", "image/png", {**META, "kind": "result"})
    assert await storage.get(file_id) == data
    puts = [c for c in async_drive.calls if c[0] == "PUT"]
    assert len(puts) == 4  # three full 256 KiB chunks and the tail (the fake refuses unaligned chunks)
    assert async_drive.state.files[file_id].app_properties["kind"] == "result"


async def test_every_drive_call_passes_supports_all_drives(
    async_drive: FakeDrive, storage: GoogleDriveStorage
) -> None:
    file_id = await storage.put(b"x" * 700_000, "a.jpg", "image/jpeg", META)
    await storage.get(file_id)
    await storage.link(file_id)
    await storage.delete(file_id)
    calls = [
        c for c in async_drive.calls if c[1].startswith(("/drive/", "/upload/")) and "upload_id" not in c[2]
    ]
    assert calls and all(c[2].get("supportsAllDrives") == "true" for c in calls)


async def test_delete_then_get_is_file_missing_and_delete_is_idempotent(storage: GoogleDriveStorage) -> None:
    file_id = await storage.put(b"abc", "a.jpg", "image/jpeg", META)
    await storage.delete(file_id)
    with pytest.raises(FileMissing) as caught:
        await storage.get(file_id)
    assert caught.value.code == "file_missing" and not caught.value.transient
    await storage.delete(file_id)
    with pytest.raises(FileMissing):
        await storage.link(file_id)


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", "id with space", "x" * 200, "1abc?alt=media", "%2F"])
async def test_malformed_ids_are_refused_without_a_call(
    async_drive: FakeDrive, storage: GoogleDriveStorage, bad_id: str
) -> None:
    for call in (storage.get, storage.delete, storage.link):
        with pytest.raises(InvalidFileId):
            await call(bad_id)
    assert async_drive.calls == []


async def test_concurrent_puts_of_one_user_create_one_folder(
    async_drive: FakeDrive, storage: GoogleDriveStorage
) -> None:
    payloads = [os.urandom(1000 + i) for i in range(16)]
    metas = [{**META, "user_id": "tg:7" if i % 2 else "vk:9"} for i in range(16)]
    ids = await asyncio.gather(
        *(
            storage.put(p, f"{i}.jpg", "image/jpeg", m)
            for i, (p, m) in enumerate(zip(payloads, metas, strict=True))
        )
    )
    assert len(folders_named(async_drive, "tg:7")) == 1 and len(folders_named(async_drive, "vk:9")) == 1
    assert [await storage.get(i) for i in ids] == payloads
    creates = [c for c in async_drive.calls if c[:2] == ("POST", "/drive/v3/files")]
    assert len(creates) == 2


async def test_folder_made_by_another_process_is_reused(async_drive: FakeDrive, tmp_path: Path) -> None:
    settings = drive_settings(async_drive, tmp_path)
    first, second = drive_storage(settings), drive_storage(settings)
    try:
        await first.put(b"1", "a.jpg", "image/jpeg", {**META, "user_id": "o'brien \\ and 'x'"})
        await second.put(b"2", "b.jpg", "image/jpeg", {**META, "user_id": "o'brien \\ and 'x'"})
    finally:
        await first.close()
        await second.close()
    (folder,) = folders_named(async_drive, "o'brien \\ and 'x'")
    assert len(async_drive.children(folder)) == 2


async def test_shared_drive_items_are_invisible_without_supports_all_drives(async_drive: FakeDrive) -> None:
    """The fake enforces what makes supportsAllDrives necessary on a real shared drive."""
    import aiohttp

    folder = async_drive.create_folder("shared", shared_drive=True)
    robot = Principal("sa@example.iam.gserviceaccount.com", service_account=True)
    token = async_drive.state.issue_token(robot)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        async with session.get(f"{async_drive.url}/drive/v3/files/{folder}") as response:
            assert response.status == 404
        url = f"{async_drive.url}/drive/v3/files/{folder}?supportsAllDrives=true"
        async with session.get(url) as response:
            assert response.status == 200


async def test_oauth_user_credentials_without_folder_use_an_app_folder(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    settings = drive_settings(
        async_drive,
        tmp_path,
        gdrive_token_file=async_drive.write_user_token(tmp_path / "token.json"),
        gdrive_folder_id=None,
    )
    storage = drive_storage(settings)
    try:
        assert await storage.check() == []
        file_id = await storage.put(b"mine", "a.jpg", "image/jpeg", META)
        assert await storage.get(file_id) == b"mine"
    finally:
        await storage.close()
    (app_folder,) = folders_named(async_drive, "photobot")
    assert async_drive.state.files[app_folder].parents == ["root"]
    (user_folder,) = folders_named(async_drive, "tg:42")
    assert async_drive.state.files[user_folder].parents == [app_folder]


async def test_build_storage_and_metrics(async_drive: FakeDrive, tmp_path: Path) -> None:
    metrics = Metrics()
    storage = build_storage(drive_settings(async_drive, tmp_path), metrics)
    assert isinstance(storage, GoogleDriveStorage) and storage.backend == "gdrive"
    try:
        file_id = await storage.put(b"12345678", "a.jpg", "image/jpeg", META)
        await storage.get(file_id)
    finally:
        await storage.close()
    sample = metrics.registry.get_sample_value
    assert sample("photobot_bytes_stored_total", {"backend": "gdrive", "kind": "original"}) == 8
    for operation in ("put", "get"):
        labels = {"backend": "gdrive", "operation": operation, "outcome": "ok"}
        assert sample("photobot_storage_calls_total", labels) == 1
