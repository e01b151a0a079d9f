"""Reading a Bot API request the way Telegram does: query string, form-encoded body, JSON body or
multipart/form-data (where files travel), all into one ``Params``.

aiogram sends form data: strings as they are, numbers and booleans JSON-encoded ("12", "true"),
lists and objects as JSON text, and each upload as its own part named by a random key that another
field points to with ``attach://key``. Other clients send JSON bodies with native values. ``Params``
accepts both, so each handler reads a parameter once, typed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import MultipartReader
from multidict import CIMultiDict

from .model import ApiError, bad_request

N = TypeVar("N", int, float)

MAX_UPLOAD = 50 * 1024 * 1024  # Telegram's limit for files a bot uploads


@dataclass(frozen=True)
class Upload:
    """A file that came in a multipart part."""

    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class Params:
    values: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.values or name in self.files

    def string(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def required_str(self, name: str, empty_message: str | None = None) -> str:
        value = self.string(name)
        if not value:
            raise bad_request(empty_message or f"{name} is empty")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        return self._number(name, default, int)

    def integer_or_none(self, name: str) -> int | None:
        """An integer if the parameter holds one; never raises (for the call log)."""
        try:
            return self.integer(name)
        except ApiError:
            return None

    def number(self, name: str, default: float | None = None) -> float | None:
        return self._number(name, default, float)

    def _number(self, name: str, default: N | None, kind: Callable[[Any], N]) -> N | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return kind(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"true", "1", "yes", "on"}

    def obj(self, name: str) -> Any:
        """An object or list parameter: JSON text (form) or a native value (JSON body)."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        return value

    def chat_id(self) -> int | str:
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None

    def loggable(self) -> dict[str, Any]:
        """The parameters for the call log: scalars kept, uploads summarised by size."""
        out = dict(self.values)
        for name, upload in self.files.items():
            out[name] = f"<{len(upload.data)} bytes>"
        return out


async def read_params(
    headers: Mapping[str, str], content: Any, query: Mapping[str, str] | None = None
) -> Params:
    """Parse a request or webhook-reply body. ``content`` is an aiohttp StreamReader."""
    params = Params(values=dict(query or {}))
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        await _read_multipart(CIMultiDict(headers), content, params)
        return params
    body = await content.read()
    if not body:
        return params
    if ctype == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON encoded request body") from None
        if not isinstance(decoded, dict):
            raise bad_request("request body must be a JSON object")
        params.values.update(decoded)
    else:
        params.values.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


async def _read_multipart(headers: CIMultiDict[str], content: Any, params: Params) -> None:
    reader = MultipartReader(headers, content)
    total = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, MultipartReader):  # nested multipart is not a thing the Bot API takes
            raise bad_request("unsupported nested multipart body")
        name = part.name
        data = bytearray()
        while chunk := await part.read_chunk(1 << 20):
            data.extend(chunk)
            total += len(chunk)
            if total > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
        if not name:
            continue
        if part.filename is not None:
            params.files[name] = Upload(bytes(data), part.filename, part.headers.get("Content-Type"))
        else:
            params.values[name] = bytes(data).decode("utf-8", "replace")
