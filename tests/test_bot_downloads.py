"""Downloads from the chat platform are bounded in number, whoever sends them.

Bad input tried: 20 users each sending a photo at the same moment (with 16 MB files, the bot once
held 1.45 GB of downloads at once). With DOWNLOADS_IN_FLIGHT=3, at most three are held in memory
from download to storage, and every photo is still accepted. The heap tuning that gives freed
buffers back is checked to take effect on this C library.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from photobot import heap
from photobot.bot.service import IncomingPhoto
from photobot.config import Settings
from photobot.jobs import Platform
from tests.bot_support import chat_side
from tests.conftest import ASTRONAUT

SENDERS = 20


async def test_downloads_in_flight_are_bounded(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(process_workers=1, downloads_in_flight=3)
    async with chat_side(settings) as side:
        held, most = 0, 0
        original = ASTRONAUT.read_bytes()
        put = side.service.storage.put

        async def slow_download(file_ref: str) -> bytes:
            nonlocal held, most
            held += 1
            most = max(most, held)
            await asyncio.sleep(0.02)  # a download takes a while, during which others may start
            return original

        async def counted_put(*args: object, **kwargs: object) -> str:
            nonlocal held
            try:
                return await put(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                held -= 1  # stored: the bytes are no longer needed

        side.adapter.download = slow_download  # type: ignore[method-assign]
        side.service.storage.put = counted_put  # type: ignore[method-assign]
        photos = [
            IncomingPhoto(
                platform=Platform.TELEGRAM, chat_id=100 + n, message_id=1,
                user=await side.users.get(f"tg:{100 + n}"), language="en", file_ref="astro",
                filename="a.png", mime="image/png", caption="sepia", resend_ref="astro",
            )
            for n in range(SENDERS)
        ]
        await asyncio.gather(*(side.service.accept_photo(photo) for photo in photos))
        assert most == 3
        assert [await side.queue.pending_count(f"tg:{100 + n}") for n in range(SENDERS)] == [1] * SENDERS


def test_large_buffers_are_given_back() -> None:
    assert heap.return_large_buffers(), "glibc's mallopt took the mmap threshold"
    heap.trim()
