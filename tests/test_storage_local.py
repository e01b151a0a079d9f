"""LocalStorage: round trips, concurrent writes, atomicity, and ids that try to escape the folder."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photobot.config import Settings
from photobot.gdrive import (
    FileMissing,
    InvalidFileId,
    LocalStorage,
    StorageError,
    StorageQuotaError,
    build_storage,
)
from photobot.locales import error_text
from photobot.metrics import Metrics

META = {"job_id": "job1", "user_id": "tg:42", "kind": "original"}


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "storage")


def leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".tmp-*"))


async def test_round_trip_keeps_bytes_and_extension(storage: LocalStorage) -> None:
    data = bytes(range(256)) * 100
    file_id = await storage.put(data, "photo.JPG", "image/jpeg", META)
    assert file_id.endswith(".jpg")
    assert await storage.get(file_id) == data
    assert await storage.link(file_id) is None
    assert (storage.path_for(file_id)).is_file()


async def test_empty_file_and_unknown_type_round_trip(storage: LocalStorage) -> None:
    file_id = await storage.put(b"", "no extension", "application/x-unknown", META)
    assert "." not in file_id
    assert await storage.get(file_id) == b""


async def test_sidecar_records_name_mime_and_meta(storage: LocalStorage) -> None:
    file_id = await storage.put(b"abc", "Фото.png", "image/png", META)
    sidecar = storage.path_for(file_id).with_name(file_id + ".meta.json")
    text = sidecar.read_text(encoding="utf-8")
    assert "Фото.png" in text and "tg:42" in text and "original" in text


async def test_concurrent_writes_are_all_intact(storage: LocalStorage) -> None:
    payloads = [os.urandom(10_000 + i) for i in range(60)]
    ids = await asyncio.gather(
        *(storage.put(p, f"{i}.png", "image/png", META) for i, p in enumerate(payloads))
    )
    assert len(set(ids)) == len(ids)
    fetched = await asyncio.gather(*(storage.get(i) for i in ids))
    assert fetched == payloads
    assert leftovers(storage.root) == []


async def test_delete_removes_file_and_is_idempotent(storage: LocalStorage) -> None:
    file_id = await storage.put(b"x", "a.png", "image/png", META)
    await storage.delete(file_id)
    with pytest.raises(FileMissing) as caught:
        await storage.get(file_id)
    assert caught.value.code == "file_missing"
    assert "ещё раз" in error_text(caught.value, "ru")
    await storage.delete(file_id)  # already gone: no error
    assert list(storage.root.rglob("*.json")) == []


async def test_get_of_well_formed_unknown_id_is_file_missing(storage: LocalStorage) -> None:
    with pytest.raises(FileMissing):
        await storage.get("0" * 32 + ".jpg")


ESCAPING_IDS = [
    "../../etc/passwd",
    "..",
    "/etc/passwd",
    "ab/../../secret",
    "0123456789abcdef0123456789abcdef/../../x",
    "0123456789abcdef0123456789abcdef.jpg/..",
    "..\\..\\windows",
    "%2e%2e%2fsecret",
    "0123456789abcdef0123456789abcdef\x00.jpg",
    "0123456789ABCDEF0123456789ABCDEF",
    "0123456789abcdef0123456789abcdef.toolong",
    "",
    " ",
    "a" * 300,
]


@pytest.mark.parametrize("bad_id", ESCAPING_IDS)
async def test_ids_that_try_to_escape_the_folder_are_refused(storage: LocalStorage, bad_id: str) -> None:
    for call in (storage.get, storage.delete, storage.link):
        with pytest.raises(InvalidFileId) as caught:
            await call(bad_id)
        assert caught.value.code == "bad_file_id"
        assert not caught.value.transient
        english = error_text(caught.value, "en")
        assert english and error_text(caught.value, "ru") != english


async def test_failed_write_leaves_no_partial_file(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing and renaming leaves neither the file nor its temporary behind."""

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StorageError) as caught:
        await storage.put(b"data", "a.png", "image/png", META)
    assert caught.value.transient and caught.value.code == "storage_unavailable"
    assert leftovers(storage.root) == []
    assert [p for p in storage.root.rglob("*") if p.is_file()] == []


async def test_failed_sidecar_write_removes_the_file_too(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    calls: list[str] = []

    def second_replace_fails(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "I/O error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_replace_fails)
    with pytest.raises(StorageError):
        await storage.put(b"data", "a.png", "image/png", META)
    assert len(calls) == 2
    assert [p for p in storage.root.rglob("*") if p.is_file()] == []


async def test_full_disk_is_a_quota_error(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageQuotaError) as caught:
        await storage.put(b"data", "a.png", "image/png", META)
    assert caught.value.code == "storage_full"
    assert "No space" not in error_text(caught.value, "en")
    assert leftovers(storage.root) == []


async def test_check_is_empty_when_healthy(storage: LocalStorage) -> None:
    assert await storage.check() == []
    assert leftovers(storage.root) == [] and list(storage.root.iterdir()) == []


async def test_check_reports_storage_dir_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    problems = await LocalStorage(blocker).check()
    assert len(problems) == 1 and problems[0].startswith("STORAGE_DIR:")
    problems = await LocalStorage(blocker / "inside").check()
    assert len(problems) == 1 and "cannot create" in problems[0]


async def test_metrics_count_calls_and_bytes(tmp_path: Path) -> None:
    metrics = Metrics()
    storage = LocalStorage(tmp_path, metrics)
    file_id = await storage.put(b"12345", "a.png", "image/png", {"kind": "result"})
    await storage.get(file_id)
    with pytest.raises(FileMissing):
        await storage.get("f" * 32)
    sample = metrics.registry.get_sample_value
    assert sample("photobot_bytes_stored_total", {"backend": "local", "kind": "result"}) == 5
    assert (
        sample("photobot_storage_calls_total", {"backend": "local", "operation": "put", "outcome": "ok"}) == 1
    )
    assert (
        sample("photobot_storage_calls_total", {"backend": "local", "operation": "get", "outcome": "missing"})
        == 1
    )


def test_build_storage_defaults_to_local_under_data_dir(tmp_path: Path) -> None:
    config = Settings(_env_file=None, data_dir=tmp_path, log_file="none")
    storage = build_storage(config)
    assert isinstance(storage, LocalStorage)
    assert storage.backend == "local"
    assert storage.root == tmp_path / "storage"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(candidate=st.text(min_size=0, max_size=80))
def test_any_text_is_either_a_path_inside_the_folder_or_refused(tmp_path: Path, candidate: str) -> None:
    storage = LocalStorage(tmp_path / "storage")
    try:
        path = storage.path_for(candidate)
    except InvalidFileId:
        return
    assert path.resolve().is_relative_to((tmp_path / "storage").resolve())
    assert path.name == candidate and "/" not in candidate and ".." not in candidate
