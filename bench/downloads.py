"""Downloads benchmark: prints one JSON object.

N users send a 16 MB file each at the same moment (caption "sepia"), through photobot's chat side
(BotService with the real queue on a redis-server, local storage, a stand-in adapter whose download
returns a fresh 16 MB buffer after a network-like pause). It reports the bot process's peak
resident memory while the photos are taken in, what it still holds after they are stored and
queued, and how many downloads were held at once, with DOWNLOADS_IN_FLIGHT as set and unbounded.

    .venv/bin/python -m bench.downloads [--users 80] [--megabytes 16]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from photobot import heap  # noqa: E402
from photobot.bot.service import IncomingPhoto  # noqa: E402
from photobot.config import Settings  # noqa: E402
from photobot.jobs import Platform  # noqa: E402
from photobot.logs import configure_logging  # noqa: E402
from tests.bot_support import chat_side  # noqa: E402
from tests.fixtures.redis_server import RedisServer  # noqa: E402


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


async def run_once(url: str, data_dir: Path, users: int, size: int, in_flight: int) -> dict[str, object]:
    settings = Settings(
        _env_file=None, redis_url=url, data_dir=data_dir, log_file="none", process_workers=1,
        downloads_in_flight=in_flight, max_download_bytes=size + 1, user_storage_mb=0,
        max_pending_per_user=1000, tier_quotas="",
    )
    peak, held, most = rss_mb(), 0, 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.005):
            peak = max(peak, rss_mb())

    async with chat_side(settings) as side:
        async def download(file_ref: str) -> bytes:
            nonlocal held, most
            held += 1
            most = max(most, held)
            await asyncio.sleep(0.05)
            data = bytes(os.urandom(1024)) * (size // 1024)  # a new buffer, as a download is
            held -= 1
            return data

        side.adapter.download = download  # type: ignore[method-assign]
        photos = [
            IncomingPhoto(
                platform=Platform.TELEGRAM, chat_id=1000 + n, message_id=1,
                user=await side.users.get(f"tg:{1000 + n}"), language="en", file_ref="f",
                filename="big.png", mime="image/png", caption="sepia", resend_ref="f",
            )
            for n in range(users)
        ]
        gc.collect()
        heap.trim()
        before = rss_mb()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        await asyncio.gather(*(side.service.accept_photo(photo) for photo in photos))
        stop.set()
        sampler.join()
        del photos
        gc.collect()
        after = rss_mb()
        await side.redis.flushdb()
    return {
        "downloads_in_flight": in_flight, "most_held_at_once": most, "rss_before_mb": before,
        "rss_peak_mb": peak, "rss_after_mb": after,
    }


async def main_async(users: int, megabytes: int) -> dict[str, object]:
    configure_logging("WARNING", "json", None)
    heap.return_large_buffers()  # as photobot.app.run does
    size = megabytes * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis").start()
        try:
            default = Settings.model_fields["downloads_in_flight"].default
            bounded = await run_once(server.url, Path(tmp) / "a", users, size, default)
            unbounded = await run_once(server.url, Path(tmp) / "b", users, size, users)
        finally:
            server.stop()
    return {"benchmark": "downloads", "users": users, "file_mb": megabytes, "runs": [bounded, unbounded]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=80)
    parser.add_argument("--megabytes", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.users, args.megabytes)), indent=2))


if __name__ == "__main__":
    main()
