"""``python -m photobot.sandbox.botapi --port N``: the fake as its own process, for smoke tests of
``make run``; drive it through the HTTP side door under /_fake/. Prints one JSON line with
base_url and token once it listens, then serves until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys

from .server import FakeTelegram


async def _serve(port: int, token: str | None) -> None:
    async with FakeTelegram(token=token, port=port) as fake:
        print(json.dumps({"base_url": fake.base_url, "token": fake.token}), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m photobot.sandbox.botapi", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--token", default=None, help="bot token to accept (default: a random one)")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port, args.token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
