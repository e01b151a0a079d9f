"""Storage of originals and results: the Storage protocol, Google Drive, and local disk."""

from photobot.backoff import Backoff
from photobot.gdrive.base import Storage
from photobot.gdrive.errors import FileMissing, InvalidFileId, StorageError, StorageQuotaError
from photobot.gdrive.factory import build_storage
from photobot.gdrive.google_drive import GoogleDriveStorage
from photobot.gdrive.local import LocalStorage

__all__ = [
    "Backoff",
    "FileMissing",
    "GoogleDriveStorage",
    "InvalidFileId",
    "LocalStorage",
    "Storage",
    "StorageError",
    "StorageQuotaError",
    "build_storage",
]
