"""`python -m photobot storage check | put | get` as subprocesses, against the fake Drive, as
docs/google-drive.md shows it. Bad input covered: a file id that names a path, an unknown id, a
missing input file, an unwritable output, and a folder the service account cannot see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.drive import FakeDrive

REPO = Path(__file__).resolve().parent.parent


def photobot(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photobot", *args],
        check=False,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(REPO), "DATA_DIR": str(tmp_path / "data"), "LOG_FILE": "none"})
    return env


@pytest.fixture
def drive_env(drive: FakeDrive, tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path)
    env.update(
        {
            "STORAGE_BACKEND": "gdrive",
            "GDRIVE_API_URL": drive.url,
            "GDRIVE_CREDENTIALS_FILE": str(drive.write_service_account(tmp_path / "sa.json")),
            "GDRIVE_FOLDER_ID": drive.create_folder("photobot", shared_drive=True),
        }
    )
    return env


def test_check_put_get_round_trip_on_drive(
    drive_env: dict[str, str], drive: FakeDrive, tmp_path: Path
) -> None:
    folder = drive_env["GDRIVE_FOLDER_ID"]
    checked = photobot(drive_env, tmp_path, "storage", "check")
    assert (checked.returncode, checked.stdout) == (0, f"ok: gdrive storage, folder {folder}\n")

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(os.urandom(40_000))
    put = photobot(drive_env, tmp_path, "storage", "put", str(photo))
    assert put.returncode == 0, put.stderr
    file_id = put.stdout.strip()
    stored = drive.state.files[file_id]
    assert stored.mime_type == "image/jpeg" and stored.app_properties["kind"] == "original"
    assert drive.state.files[stored.parents[0]].name == "cli"

    out = tmp_path / "copy.jpg"
    got = photobot(drive_env, tmp_path, "storage", "get", file_id, "-o", str(out))
    assert (got.returncode, got.stdout, got.stderr) == (0, "", "")
    assert out.read_bytes() == photo.read_bytes()


def test_check_reports_an_invisible_folder_in_one_line(drive_env: dict[str, str], tmp_path: Path) -> None:
    drive_env["GDRIVE_FOLDER_ID"] = "1NotSharedWithUs" + "x" * 17
    result = photobot(drive_env, tmp_path, "storage", "check")
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1 and "not found, or not shared with photobot@" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("file_id", "message"),
    [("../../etc/passwd", "not a Drive file id"), ("1UnknownFileId" + "z" * 19, "Drive has no file")],
)
def test_get_of_bad_or_unknown_id_is_one_line(
    drive_env: dict[str, str], tmp_path: Path, file_id: str, message: str
) -> None:
    result = photobot(drive_env, tmp_path, "storage", "get", file_id, "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("photobot: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_put_of_missing_file_is_one_line(tmp_path: Path) -> None:
    result = photobot(base_env(tmp_path), tmp_path, "storage", "put", "nowhere.jpg")
    assert (result.returncode, result.stderr) == (2, "photobot: error: nowhere.jpg: no such file\n")


@pytest.mark.slow
def test_local_round_trip_and_unwritable_output(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    checked = photobot(env, tmp_path, "storage", "check")
    assert (checked.returncode, checked.stdout) == (
        0,
        f"ok: local storage, {tmp_path / 'data' / 'storage'}\n",
    )
    source = tmp_path / "a.png"
    source.write_bytes(b"PNG-ish fake bytes")
    file_id = photobot(env, tmp_path, "storage", "put", str(source)).stdout.strip()
    assert file_id.endswith(".png")
    got = photobot(env, tmp_path, "storage", "get", file_id, "-o", "-")
    assert got.returncode == 0 and got.stdout == "PNG-ish fake bytes"
    bad = photobot(env, tmp_path, "storage", "get", file_id, "-o", str(tmp_path / "missing-dir" / "x"))
    assert bad.returncode == 2 and "cannot write" in bad.stderr


def test_standalone_fake_drive_serves_the_cli(tmp_path: Path) -> None:
    """`python -m tests.fakes.drive` as docs/google-drive.md shows it, then `storage check` against it."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.drive",
            "--port",
            "0",
            "--folder",
            "photos",
            "--write-credentials",
            str(tmp_path / "sa.json"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        env = base_env(tmp_path)
        env.update(
            {
                "STORAGE_BACKEND": "gdrive",
                "GDRIVE_API_URL": info["url"],
                "GDRIVE_CREDENTIALS_FILE": info["credentials"],
                "GDRIVE_FOLDER_ID": info["folder_id"],
            }
        )
        result = photobot(env, tmp_path, "storage", "check")
        assert (result.returncode, result.stdout) == (0, f"ok: gdrive storage, folder {info['folder_id']}\n")
    finally:
        server.terminate()
        server.wait(10)
