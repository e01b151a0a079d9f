"""Files as Telegram keeps them: every photo becomes a few PhotoSize entries, every document one
Document, each with a file_id the bot may send again and a file_path that getFile hands out.

Sizes come from the real image bytes (Pillow). The largest PhotoSize is the exact bytes that were
sent, not a recompressed copy as on Telegram, so a test can compare what the bot processed or
produced byte for byte; the smaller sizes are real JPEG thumbnails (90, 320 and 800 px sides).
"""

from __future__ import annotations

import functools
import io
import itertools
import mimetypes
import threading
from typing import Any

from PIL import Image

from .model import StoredFile, bad_request

THUMB_SIDES = (90, 320, 800)
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # sendPhoto refuses larger photos
MAX_PHOTO_SIDES = 10_000  # width + height of a photo
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses larger files


class NotAnImage(ValueError):
    """Bytes Pillow cannot read as an image."""


def image_size(data: bytes) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception as exc:
        raise NotAnImage(str(exc)) from exc


def thumbnails(data: bytes) -> list[tuple[int, int, bytes]]:
    """(width, height, jpeg bytes) for each thumbnail side smaller than the image.

    Cached by content: Telegram makes these on its own servers, so a benchmark that sends the same
    photo many times should not charge the fake's Pillow work to the bot's two cores every time.
    """
    return list(_thumbnails(data))


@functools.lru_cache(maxsize=64)
def _thumbnails(data: bytes) -> tuple[tuple[int, int, bytes], ...]:
    out: list[tuple[int, int, bytes]] = []
    try:
        with Image.open(io.BytesIO(data)) as image:
            sides = [side for side in THUMB_SIDES if side < max(image.size)]
            if not sides:
                return ()
            if image.format == "JPEG":
                image.draft("RGB", (sides[-1], sides[-1]))  # decode once, at the scale needed
            base = image.convert("RGB")
        for side in sides:
            thumb = base.copy()
            thumb.thumbnail((side, side))
            buffer = io.BytesIO()
            thumb.save(buffer, "JPEG", quality=80)
            out.append((thumb.width, thumb.height, buffer.getvalue()))
    except Exception as exc:
        raise NotAnImage(str(exc)) from exc
    return tuple(out)


def check_photo_upload(data: bytes) -> None:
    """Telegram's refusals for a photo the bot uploads."""
    if not data:
        raise bad_request("file must be non-empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    try:
        width, height = image_size(data)
    except NotAnImage:
        raise bad_request("IMAGE_PROCESS_FAILED") from None
    if width + height > MAX_PHOTO_SIDES or max(width, height) > 20 * min(width, height):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")


class FileStore:
    """Every file the fake knows, by file_id and by file_path. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._photos: dict[str, list[StoredFile]] = {}  # group -> sizes, smallest first
        self._counter = itertools.count(1)

    def clear(self) -> None:
        with self._lock:
            self._by_id.clear()
            self._by_path.clear()
            self._photos.clear()

    def _next(self) -> int:
        return next(self._counter)

    def add_photo(self, data: bytes) -> list[StoredFile]:
        """Register a photo; returns its sizes, smallest first (the last is the original bytes)."""
        width, height = image_size(data)
        thumbs = thumbnails(data)
        with self._lock:
            number = self._next()
            group = f"AQAD{number:06d}"
            sizes: list[StoredFile] = []
            for index, (w, h, blob) in enumerate([*thumbs, (width, height, data)]):
                unique = f"{group}-{index}"
                sizes.append(
                    StoredFile(
                        file_id=f"AgACphoto{number:06d}x{index}",
                        file_unique_id=unique,
                        kind="photo",
                        data=blob,
                        file_path=f"photos/file_{number}_{index}.jpg",
                        width=w,
                        height=h,
                        group=group,
                    )
                )
            for stored in sizes:
                self._by_id[stored.file_id] = stored
                self._by_path[stored.file_path] = stored
            self._photos[group] = sizes
            return sizes

    def add_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> StoredFile:
        with self._lock:
            number = self._next()
            name = file_name or f"file_{number}"
            mime = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            suffix = name.rsplit(".", 1)[-1] if "." in name else "bin"
            stored = StoredFile(
                file_id=f"BQACdoc{number:06d}",
                file_unique_id=f"AgAD{number:06d}",
                kind="document",
                data=data,
                file_path=f"documents/file_{number}.{suffix}",
                file_name=name,
                mime_type=mime,
                group=f"AgAD{number:06d}",
            )
            self._by_id[stored.file_id] = stored
            self._by_path[stored.file_path] = stored
            return stored

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        with self._lock:
            return self._by_path.get(file_path)

    def photo_sizes(self, file_id: str) -> list[StoredFile] | None:
        """All sizes of the photo that ``file_id`` (any of its sizes) belongs to."""
        with self._lock:
            stored = self._by_id.get(file_id)
            if stored is None or stored.kind != "photo":
                return None
            return list(self._photos[stored.group])


def _fields(stored: StoredFile, *names: str) -> dict[str, Any]:
    """The stored file as a Bot API object of these fields (each named as the attribute)."""
    return {name: getattr(stored, name) for name in ("file_id", "file_unique_id", *names, "file_size")}


def photo_size_payload(stored: StoredFile) -> dict[str, Any]:
    return _fields(stored, "width", "height")


def document_payload(stored: StoredFile) -> dict[str, Any]:
    return _fields(stored, "file_name", "mime_type")


def file_payload(stored: StoredFile) -> dict[str, Any]:
    """The File object of getFile; refuses what Telegram refuses to hand to a bot."""
    if stored.file_size > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return _fields(stored) | {"file_path": stored.file_path}
