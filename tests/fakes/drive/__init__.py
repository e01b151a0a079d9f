"""A local fake of the part of Google Drive v3 photobot uses, with an OAuth token endpoint and faults.

Speaks: files.create (metadata only, multipart and resumable uploads), files.get (metadata and
alt=media), files.list with q, files.delete, and POST /token for service-account JWTs and OAuth
refresh tokens. Like Drive, items of a shared drive are invisible without supportsAllDrives, and a
service account has no storage of its own (uploads outside a shared drive hit storageQuotaExceeded).

Fault switches: `fail_next(count, status, reason)`, `fail_ratio`, `go_down(seconds)`,
`quota_exceeded`, `drop_chunks` (connections dropped mid resumable upload), `expire_tokens()`.

Three ways to run it:
    async with FakeDrive() as drive: ...            # in a test's event loop
    with FakeDrive.run_in_thread() as drive: ...    # for subprocess tests
    python -m tests.fakes.drive --port 8765 --write-credentials sa.json --folder photos
"""

from .server import FakeDrive

__all__ = ["FakeDrive"]
