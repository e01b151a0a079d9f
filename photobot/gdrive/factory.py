"""Choose the storage backend from STORAGE_BACKEND."""

from __future__ import annotations

from photobot.config import Settings
from photobot.gdrive.base import Storage
from photobot.gdrive.google_drive import GoogleDriveStorage
from photobot.gdrive.local import LocalStorage
from photobot.metrics import Metrics


def build_storage(settings: Settings, metrics: Metrics | None = None) -> Storage:
    """LocalStorage under STORAGE_DIR (the default) or GoogleDriveStorage.

    Nothing is contacted here; `check()` says what is wrong with the configuration.
    """
    if settings.storage_backend == "gdrive":
        return GoogleDriveStorage(settings, metrics)
    return LocalStorage(settings.resolved_storage_dir, metrics)
