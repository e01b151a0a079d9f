"""Storage throughput: puts and gets per second and MiB/s, on local disk and on the fake Drive.

    .venv/bin/python -m bench.storage_bench [--files 200] [--size 200000] [--concurrency 8]

Prints one JSON object. The fake Drive runs in this process's event loop, so its figures measure
photobot's client path (threads, google-api-python-client, httplib2), not Google's servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from photobot.config import Settings
from photobot.gdrive import Backoff, GoogleDriveStorage, LocalStorage, Storage
from photobot.logs import configure_logging
from tests.fakes.drive import FakeDrive


async def measure(storage: Storage, files: int, size: int, concurrency: int) -> dict[str, Any]:
    payloads = [os.urandom(size) for _ in range(min(files, 16))]
    gate = asyncio.Semaphore(concurrency)
    meta = {"job_id": "bench", "user_id": "bench", "kind": "original"}

    async def put(i: int) -> str:
        async with gate:
            return await storage.put(payloads[i % len(payloads)], f"{i}.jpg", "image/jpeg", meta)

    async def get(file_id: str) -> bytes:
        async with gate:
            return await storage.get(file_id)

    start = time.perf_counter()
    ids = await asyncio.gather(*(put(i) for i in range(files)))
    put_seconds = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*(get(i) for i in ids))
    get_seconds = time.perf_counter() - start
    mib = files * size / (1024 * 1024)
    return {
        "puts_per_second": round(files / put_seconds, 1),
        "gets_per_second": round(files / get_seconds, 1),
        "put_mib_per_second": round(mib / put_seconds, 2),
        "get_mib_per_second": round(mib / get_seconds, 2),
    }


async def main(files: int, size: int, concurrency: int) -> dict[str, Any]:
    results: dict[str, Any] = {"files": files, "size_bytes": size, "concurrency": concurrency}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        local = LocalStorage(tmp / "local")
        results["local"] = await measure(local, files, size, concurrency)
        async with FakeDrive() as drive:
            settings = Settings(
                _env_file=None,
                storage_backend="gdrive",
                data_dir=tmp,
                log_file="none",
                gdrive_api_url=drive.url,
                gdrive_credentials_file=drive.write_service_account(tmp / "sa.json"),
                gdrive_folder_id=drive.create_folder("bench", shared_drive=True),
                gdrive_threads=concurrency,
            )
            gdrive = GoogleDriveStorage(settings, backoff=Backoff(0.01, 0.1))
            try:
                results["gdrive_fake"] = await measure(gdrive, files, size, concurrency)
            finally:
                await gdrive.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    configure_logging("WARNING", "json", log_file=None)
    print(json.dumps(asyncio.run(main(args.files, args.size, args.concurrency))))
