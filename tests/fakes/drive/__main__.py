"""`python -m tests.fakes.drive`: the fake Drive on 127.0.0.1, its address printed as JSON."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path

from .server import FakeDrive


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake Google Drive on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--write-credentials", type=Path, help="write a service-account JSON here")
    parser.add_argument("--folder", help="create a shared-drive folder of this name")
    args = parser.parse_args()

    async def serve() -> None:
        drive = await FakeDrive(args.host, args.port).start()
        info: dict[str, str] = {"url": drive.url, "token_uri": drive.token_uri}
        if args.write_credentials:
            info["credentials"] = str(drive.write_service_account(args.write_credentials))
        if args.folder:
            info["folder_id"] = drive.create_folder(args.folder, shared_drive=True)
        print(json.dumps(info), flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
