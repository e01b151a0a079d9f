"""Start-up problems an operator can fix, as one line naming the setting: what a mode needs and is
not set, the port HTTP cannot listen on, a Telegram that cannot be reached. photobot.cli prints a
SettingsError as that line and exits with code 2, instead of a traceback."""

from __future__ import annotations

import errno
import socket
from typing import Literal

from photobot.backoff import Backoff
from photobot.config import Settings, SettingsError

# How long start-up keeps trying a Telegram it cannot connect to before it gives up with one line.
# A process manager (Docker's restart policy, systemd) starts photobot again; a person at a terminal
# learns at once that the network, not photobot, is in the way.
TELEGRAM_START_PATIENCE = 10.0
# Between two tries to reach a chat platform at start: 1, 2, 4... up to 30 seconds, no jitter (one
# process waits, nobody competes with it).
START_BACKOFF = Backoff(1.0, 30.0, jitter=0)

# What one process runs: everything, the chat side only, or the workers only.
Mode = Literal["all", "bot", "worker"]


def check_settings(settings: Settings, mode: Mode) -> None:
    """What this mode needs, checked before anything starts: one line per problem."""
    if mode in ("all", "bot") and not settings.vk_enabled:
        settings.require_bot_token()  # one chat platform at least: Telegram, VK or both
    if settings.vk_enabled:
        settings.require_vk_group_id()
    if settings.webhook_url and mode in ("all", "bot") and settings.telegram_enabled:
        if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value().strip():
            raise SettingsError("WEBHOOK_SECRET: is required with WEBHOOK_URL (Telegram sends it back)")
        if not settings.http_enabled:
            raise SettingsError("HTTP_ENABLED: the webhook needs the HTTP server")


def listen_error(host: str, port: int, error: OSError, name: str = "HTTP_PORT") -> SettingsError:
    """Why HTTP cannot listen on host:port, naming the setting (or flag) that chose it."""
    if error.errno == errno.EADDRINUSE:
        return SettingsError(
            f"{name}: port {port} on {host} is already in use (another photobot, or another program); "
            f"choose a free one with {name}" + (", or set HTTP_ENABLED=false" if name == "HTTP_PORT" else "")
        )
    if error.errno == errno.EACCES:
        return SettingsError(f"{name}: port {port} needs privileges this user lacks; choose one above 1023")
    return SettingsError(f"HTTP_HOST / {name}: cannot listen on {host}:{port}: {error.strerror or error}")


def check_port_free(host: str, port: int, name: str) -> None:
    """Raise listen_error now, before anything starts, when host:port cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself binds
        try:
            probe.bind((host, port))
        except OSError as error:
            raise listen_error(host, port, error, name) from None


def telegram_unreachable(settings: Settings, error: BaseException, seconds: float) -> SettingsError:
    """Telegram did not answer at start: where photobot looked, and what to check."""
    reason = str(error) or type(error).__name__
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    if token:
        reason = reason.replace(token, "***")
    return SettingsError(
        f"TELEGRAM_API_URL: cannot reach {settings.telegram_api_url} "
        f"(tried for {seconds:.0f} s: {reason[:200]}); check this machine's network and DNS, "
        "or set TELEGRAM_PROXY when Telegram is reached through a proxy"
    )
