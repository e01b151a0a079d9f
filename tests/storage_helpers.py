"""Shared set-up of the Drive storage tests: Settings pointed at a FakeDrive, fast backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from photobot.config import Settings
from photobot.gdrive import Backoff, GoogleDriveStorage
from photobot.metrics import Metrics
from tests.fakes.drive import FakeDrive

FAST = Backoff(base=0.01, cap=0.05)
META = {"job_id": "job1", "user_id": "tg:42", "kind": "original"}


def drive_settings(drive: FakeDrive, tmp_path: Path, **overrides: Any) -> Settings:
    """gdrive settings with a trusted service account and a shared-drive folder, unless overridden."""
    values: dict[str, Any] = {
        "storage_backend": "gdrive",
        "data_dir": tmp_path / "data",
        "log_file": "none",
        "gdrive_api_url": drive.url,
        "gdrive_resumable_threshold": 512 * 1024,
        "gdrive_chunk_bytes": 256 * 1024,
    }
    if "gdrive_credentials_file" not in overrides and "gdrive_token_file" not in overrides:
        values["gdrive_credentials_file"] = drive.write_service_account(tmp_path / "sa.json")
    if "gdrive_folder_id" not in overrides:
        values["gdrive_folder_id"] = drive.create_folder("photobot", shared_drive=True)
    values.update(overrides)
    return Settings(_env_file=None, **values)


def drive_storage(
    settings: Settings, metrics: Metrics | None = None, backoff: Backoff = FAST
) -> GoogleDriveStorage:
    return GoogleDriveStorage(settings, metrics, backoff=backoff, http_timeout=10)
