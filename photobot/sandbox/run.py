"""`photobot sandbox`: the whole bot on one machine, without Telegram and without a token.

The local Bot API stand-in (photobot.sandbox.botapi) listens on a free port of 127.0.0.1 and the
real photobot (`photobot.app.run`, mode "all") talks to it through TELEGRAM_API_URL, so every part
a Telegram deployment runs is the one that runs here: aiogram, the update inbox, the queue, the
workers, the process pool, storage. Redis is the embedded one and storage is local, both in a
temporary folder removed on exit, so a sandbox never meets the data of a real bot (nor of an
earlier sandbox, whose chats the new stand-in would not know). The chat page is served by
photobot's own HTTP app; HTTP listens on 127.0.0.1 only, since the page acts as any person.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from photobot.config import Settings
from photobot.logs import configure_logging, get_logger
from photobot.sandbox.botapi import FakeTelegram
from photobot.sandbox.chat import Person, add_chat_routes
from photobot.startup import check_port_free

log = get_logger(__name__)

PEOPLE = [Person(1001, "Alice", "user"), Person(1, "Admin", "admin")]
DEFAULT_PORT = 8088


def sandbox_settings(settings: Settings, data_dir: Path, api_url: str, token: str, port: int) -> Settings:
    """The operator's settings with everything that would reach outside replaced: the stand-in's
    address and token, no VK, no webhook, embedded Redis and local storage under data_dir."""
    return settings.model_copy(update={
        "bot_token": SecretStr(token),
        "telegram_api_url": api_url,
        "admin_ids": [p.user_id for p in PEOPLE if p.role == "admin"],
        "vk_token": None,
        "vk_group_id": None,
        "webhook_url": None,
        "redis_url": None,
        "redis_cluster": False,
        "storage_backend": "local",
        "storage_dir": None,
        "data_dir": data_dir,
        "log_file": None,
        "http_enabled": True,
        "http_host": "127.0.0.1",
        "http_port": port,
        "public_url": f"http://127.0.0.1:{port}",
    })


async def run_sandbox(settings: Settings, port: int = DEFAULT_PORT, log_level: str | None = None) -> None:
    """Run photobot against the stand-in until SIGINT or SIGTERM, with the chat page on `port`."""
    from photobot.app import run

    check_port_free("127.0.0.1", port, "--port")
    with tempfile.TemporaryDirectory(prefix="photobot-sandbox-") as folder:
        async with FakeTelegram(bot_username="photobot_sandbox_bot") as fake:
            local = sandbox_settings(settings, Path(folder), fake.base_url, fake.token, port)
            configure_logging(log_level or local.log_level, local.log_format, local.resolved_log_file,
                              to_stderr=False)

            def add_routes(app: web.Application) -> None:
                add_chat_routes(app, fake, PEOPLE)

            announce = asyncio.ensure_future(_announce_when_polling(fake, port, local))
            try:
                await run(local, "all", add_routes)
            finally:
                announce.cancel()


async def _announce_when_polling(fake: FakeTelegram, port: int, settings: Settings) -> None:
    """One line once the bot polls the stand-in, so the page answers from the first message."""
    await fake.wait_for(lambda: bool(fake.calls("getUpdates")), timeout=3600)
    print(f"photobot sandbox: open http://127.0.0.1:{port}/ (Ctrl-C stops it; "
          f"log: {settings.resolved_log_file})", flush=True)
