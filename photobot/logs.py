"""structlog set-up: JSON or console lines on stderr and in a rotating file, secrets redacted.

Standard output is left to what commands answer, so scripts can read it. Bind job_id / user_id with
`structlog.contextvars.bound_contextvars(...)` and every line inside carries them.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Literal

import structlog

SECRET_KEYS = re.compile(r"(token|secret|password|passwd|authorization|api[_-]?key|credential|cookie)", re.I)
SECRET_VALUES = [
    # Telegram bot tokens, also inside URLs such as /bot<token>/getMe.
    re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}"),
    # Bearer tokens and the like.
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    # VK access tokens in query strings, and any access_token= / token= parameter.
    re.compile(r"(?i)((?:access_)?token=)[^&\s\"']+"),
    # VK community and user tokens wherever they appear ("vk1.a.…").
    re.compile(r"\bvk1\.a\.[A-Za-z0-9_-]{16,}"),
    # PEM private keys (service-account JSON).
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    # photobot's own API session tokens (photobot.sessions: 43 URL-safe characters). Redacted by
    # their shape, so no list of issued tokens grows with every /token; a longer run is redacted
    # whole, since a token glued to other characters (a path such as /jobs/<token>x) is still one.
    # Lowercase hex (a token's digest, a checksum) is not a token's shape and stays readable.
    re.compile(r"(?<![A-Za-z0-9_-])(?![0-9a-f]+(?![A-Za-z0-9_-]))[A-Za-z0-9_-]{43,}(?![A-Za-z0-9_-])"),
]
REDACTED = "[redacted]"
MAX_REGISTERED = 64  # configured secrets only: a handful; a runaway caller cannot grow the scan
_extra_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact this exact value wherever it appears: a configured secret (the bot token, the VK
    token), whatever its shape. Session tokens are redacted by their shape and not registered."""
    if value and len(value) >= 6 and len(_extra_secrets) < MAX_REGISTERED:
        _extra_secrets.add(value)


def redact_text(text: str) -> str:
    for secret in _extra_secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in SECRET_VALUES:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if SECRET_KEYS.search(key) and value not in (None, "", False) and not isinstance(value, int | float):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


def redact_secrets(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no token, password or key reaches any log line."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact_value(key, value)
    return event_dict


class _RedactingFormatter(logging.Formatter):
    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


def configure_logging(
    level: str = "INFO",
    fmt: Literal["auto", "json", "console"] = "auto",
    log_file: Path | None = None,
    to_stderr: bool = True,
) -> None:
    """Route structlog and the standard library's logging (aiogram, redis, ...) to stderr and a file.

    Safe to call more than once (tests and CLI commands do): handlers are replaced, not added.
    """
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

    def formatter(json_lines: bool) -> logging.Formatter:
        renderer: Any = (
            structlog.processors.JSONRenderer()
            if json_lines
            else structlog.dev.ConsoleRenderer(colors=False)
        )
        inner = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info if json_lines else _identity,
                renderer,
            ],
        )
        return _RedactingFormatter(inner)

    handlers: list[logging.Handler] = []
    if to_stderr:
        stderr = logging.StreamHandler(sys.stderr)
        console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
        stderr.setFormatter(formatter(json_lines=not console))
        handlers.append(stderr)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        rotating = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        rotating.setFormatter(formatter(json_lines=True))
        handlers.append(rotating)
    if not handlers:
        handlers.append(logging.NullHandler())

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiohttp.access", "googleapiclient.discovery_cache", "httplib2"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    adopt_library_logger("vkbottle", level)


def adopt_library_logger(name: str, level: str = "INFO") -> None:
    """Route a library that installs its own console handler (vkbottle does, at import) through
    photobot's handlers, so its lines are redacted and formatted like the rest; its INFO lines
    (request data) are too chatty for photobot's INFO."""
    library = logging.getLogger(name)
    for own in list(library.handlers):
        library.removeHandler(own)
    library.propagate = True
    library.setLevel(max(logging.WARNING, logging.getLevelName(level)))


def _identity(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    return event_dict


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
