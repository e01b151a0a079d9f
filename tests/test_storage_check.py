"""`Storage.check()` on Drive: one clear line per problem, [] when credentials, folder and writes work.

Bad configurations covered: no credentials, a missing / non-JSON / wrongly typed key file, a key the
token endpoint rejects, an unreachable token endpoint, a folder that does not exist, a file given as
the folder, a read-only folder, and a service account writing outside a shared drive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from photobot.gdrive import GoogleDriveStorage
from tests.fakes.drive import FakeDrive
from tests.storage_helpers import drive_settings, drive_storage

SA_EMAIL = "photobot@fake-project.iam.gserviceaccount.com"


async def check(drive: FakeDrive, tmp_path: Path, **overrides: Any) -> list[str]:
    storage: GoogleDriveStorage = drive_storage(drive_settings(drive, tmp_path, **overrides))
    try:
        return await storage.check()
    finally:
        await storage.close()


async def test_healthy_configuration_has_no_problems_and_leaves_no_probe(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    folder = async_drive.create_folder("photos", shared_drive=True)
    assert await check(async_drive, tmp_path, gdrive_folder_id=folder) == []
    assert async_drive.children(folder) == []


async def test_no_credentials(async_drive: FakeDrive, tmp_path: Path) -> None:
    (line,) = await check(async_drive, tmp_path, gdrive_credentials_file=None)
    assert line.startswith("GDRIVE_CREDENTIALS_FILE or GDRIVE_TOKEN_FILE: neither is set")


async def test_credentials_file_missing(async_drive: FakeDrive, tmp_path: Path) -> None:
    (line,) = await check(async_drive, tmp_path, gdrive_credentials_file=tmp_path / "nope.json")
    assert line == f"GDRIVE_CREDENTIALS_FILE: {tmp_path / 'nope.json'} does not exist"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json {", "is not JSON"),
        ("[1, 2]", "is not a credentials JSON object"),
        (json.dumps({"type": "external_account"}), "has type 'external_account'"),
        (json.dumps({"type": "service_account", "client_email": "x"}), "incomplete or malformed"),
    ],
)
async def test_unusable_credentials_file(
    async_drive: FakeDrive, tmp_path: Path, content: str, expected: str
) -> None:
    key = tmp_path / "key.json"
    key.write_text(content)
    (line,) = await check(async_drive, tmp_path, gdrive_credentials_file=key)
    assert line.startswith("GDRIVE_CREDENTIALS_FILE:") and expected in line
    assert "PRIVATE KEY" not in line


async def test_key_rejected_by_token_endpoint(async_drive: FakeDrive, tmp_path: Path) -> None:
    key = async_drive.write_service_account(tmp_path / "untrusted.json", trusted=False)
    (line,) = await check(async_drive, tmp_path, gdrive_credentials_file=key)
    assert line.startswith(f"Drive credentials of {SA_EMAIL} were rejected: invalid_grant")


async def test_revoked_oauth_user_token(async_drive: FakeDrive, tmp_path: Path) -> None:
    token_file = async_drive.write_user_token(tmp_path / "token.json")
    async_drive.state.refresh_tokens.clear()
    (line,) = await check(async_drive, tmp_path, gdrive_token_file=token_file)
    assert line.startswith("Drive credentials of the OAuth user were rejected") and "revoked" in line


async def test_token_endpoint_unreachable(async_drive: FakeDrive, tmp_path: Path) -> None:
    key = async_drive.state.write_service_account(tmp_path / "sa.json", "http://127.0.0.1:9/token")
    (line,) = await check(async_drive, tmp_path, gdrive_credentials_file=key)
    assert line.startswith("Drive token endpoint unreachable")


async def test_folder_not_found_or_not_shared(async_drive: FakeDrive, tmp_path: Path) -> None:
    missing = "1NoSuchFolder" + "X" * 20
    (line,) = await check(async_drive, tmp_path, gdrive_folder_id=missing)
    assert line == f"GDRIVE_FOLDER_ID: folder {missing} not found, or not shared with {SA_EMAIL}"


async def test_folder_id_that_is_not_an_id(async_drive: FakeDrive, tmp_path: Path) -> None:
    (line,) = await check(async_drive, tmp_path, gdrive_folder_id="https://drive.google.com/drive/folders/abc")
    assert line.startswith(
        "GDRIVE_FOLDER_ID: 'https://drive.google.com/drive/folders/abc' is not a Drive folder id"
    )


async def test_folder_that_is_a_file(async_drive: FakeDrive, tmp_path: Path) -> None:
    shared = async_drive.create_folder("shared", shared_drive=True)
    file = async_drive.state.add_file("photo.jpg", "image/jpeg", [shared], {}, b"x")
    (line,) = await check(async_drive, tmp_path, gdrive_folder_id=file.id)
    assert line == f"GDRIVE_FOLDER_ID: {file.id} is a file, not a folder"


async def test_read_only_folder(async_drive: FakeDrive, tmp_path: Path) -> None:
    folder = async_drive.create_folder("viewer only", shared_drive=True)
    async_drive.state.files[folder].read_only = True
    (line,) = await check(async_drive, tmp_path, gdrive_folder_id=folder)
    assert line.startswith(f"GDRIVE_FOLDER_ID: {SA_EMAIL} may not add files to folder {folder}")


async def test_service_account_in_my_drive_folder_is_told_about_shared_drives(
    async_drive: FakeDrive, tmp_path: Path
) -> None:
    folder = async_drive.create_folder("in my drive")
    (line,) = await check(async_drive, tmp_path, gdrive_folder_id=folder)
    assert line.startswith(f"Drive storage quota exceeded for {SA_EMAIL}")
    assert "shared drive" in line and "GDRIVE_TOKEN_FILE" in line
