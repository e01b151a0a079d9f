"""`python -m tests.fakes.vk --port N`: serve the fake VK until SIGINT or SIGTERM.

Prints one JSON line first ({"base_url", "api_url", "token", "group_id"}) so that a parent process
can read where it listens; the side door is then at <base_url>/_fake/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from .limits import COMMUNITY_RATE
from .server import FakeVK


async def serve(args: argparse.Namespace) -> None:
    rate = args.rate_limit or None
    fake = FakeVK(token=args.token, group_id=args.group_id, port=args.port, rate_limit=rate)
    await fake.start()
    print(
        json.dumps(
            {
                "base_url": fake.base_url,
                "api_url": fake.api_url,
                "token": fake.token,
                "group_id": fake.group_id,
            }
        ),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.vk", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="the group token to accept (random if not given)")
    parser.add_argument("--group-id", type=int, default=224466001)
    parser.add_argument(
        "--rate-limit", type=int, default=COMMUNITY_RATE, help="API calls per second before error 6 (0: none)"
    )
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
