"""photobot as a real process in tests: its output read on a thread, its JSON log lines waited for,
its children found and its pids watched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from photobot.config import Settings
from tests.waiting import wait_until

SETTINGS_ENV = {name.upper() for name in Settings.model_fields}
REPO = Path(__file__).resolve().parent.parent


def child_env(redis_url: str, workdir: Path, **values: Any) -> dict[str, str]:
    """The environment of a `python -m photobot` child of a test: only what it is given (nothing of
    the test's own photobot settings), JSON logs, no HTTP server, one pool process, English;
    `values` (names upper-cased) are added or override."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "DATA_DIR": str(workdir / "data"),
        "STORAGE_DIR": str(workdir / "storage"),
        "LOG_FORMAT": "json",
        "HTTP_ENABLED": "false",
        "PROCESS_WORKERS": "1",
        "DEFAULT_LANGUAGE": "en",
    }
    env.update({key.upper(): str(value) for key, value in values.items()})
    return env


def clean_env(**values: str) -> dict[str, str]:
    """The test's environment without any photobot setting, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in SETTINGS_ENV}
    env.update(values)
    return env


class Output:
    """Every line a process writes to one pipe, collected on a thread so the pipe never fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines (photobot logs JSON when its stderr is not a terminal)."""
        found = []
        with self._changed:
            lines = list(self.lines)
        for line in lines:
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def wait_event(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if predicate(event):
                    return event
            with self._changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no such log line within {timeout} s; output:\n{self.text()}")
                self._changed.wait(min(remaining, 0.2))


def start(args: list[str], cwd: Path, env: Mapping[str, str]) -> tuple[subprocess.Popen[str], Output]:
    process = subprocess.Popen(
        args, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    return process, Output(process)


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float) -> bool:
    try:
        wait_until(lambda: not alive(pid), timeout, f"process {pid} to end")
    except AssertionError:
        return False
    return True


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def is_embedded_redis_event(event: dict[str, Any]) -> bool:
    return "embedded redis-server" in str(event.get("event", "")) and "pid" in event


def layered_venv(path: Path) -> Path:
    """A new virtualenv whose site-packages include the running one's: `make run VENV=...` then
    finds every requirement installed, without writing into the shared environment."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(path), "platbase": str(path)}))
    (purelib / "photobot-test-shared.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return path
