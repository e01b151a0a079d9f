"""Photos held by the fake VK: the ones users send and the ones the bot uploads.

VK serves every photo in several sizes, each a letter type (s, m, x, y, z, w scale the longest side
to 75, 130, 604, 807, 1080, 2560 pixels; o, p, q, r are crops for small previews) and lists them in an
order that is not by size: a client has to pick the largest by its width and height, not take the
last entry. The fake lists them the same way (the small crops come after the largest), serves the
largest size as the exact bytes that were sent or uploaded, and smaller ones as real JPEG
reductions, so a test can tell whether the bot downloaded the right one.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

# Scaled sizes by the longest side, smallest first.
_SCALED: tuple[tuple[str, int], ...] = (
    ("s", 75),
    ("m", 130),
    ("x", 604),
    ("y", 807),
    ("z", 1080),
    ("w", 2560),
)
# Preview crops by width; VK lists them after the scaled ones.
_CROPS: tuple[tuple[str, int], ...] = (("o", 130), ("p", 200), ("q", 320), ("r", 510))


@dataclass
class PhotoSize:
    type: str
    width: int
    height: int
    original: bool  # True for the one size served as the stored bytes themselves


@dataclass
class StoredPhoto:
    owner_id: int
    id: int
    access_key: str
    data: bytes
    width: int
    height: int
    sizes: list[PhotoSize] = field(default_factory=list)
    album_id: int = -3  # VK's album id for photos in messages
    rendered: dict[str, bytes] = field(default_factory=dict)

    @property
    def attachment(self) -> str:
        """The attachment string without the key, as the owner may send it."""
        return f"photo{self.owner_id}_{self.id}"

    def size(self, size_type: str) -> PhotoSize | None:
        return next((s for s in self.sizes if s.type == size_type), None)

    def bytes_of(self, size_type: str) -> bytes | None:
        """The bytes served for a size: the original for the largest one, a JPEG reduction else."""
        size = self.size(size_type)
        if size is None:
            return None
        if size.original:
            return self.data
        if size_type not in self.rendered:
            self.rendered[size_type] = _reduce(self.data, size.width, size.height)
        return self.rendered[size_type]

    def to_vk(self, base_url: str, date: int) -> dict[str, Any]:
        """The photo object as VK puts it in attachments and in photos.saveMessagesPhoto."""
        return {
            "album_id": self.album_id,
            "date": date,
            "id": self.id,
            "owner_id": self.owner_id,
            "access_key": self.access_key,
            "has_tags": False,
            "text": "",
            "sizes": [
                {
                    "type": s.type,
                    "width": s.width,
                    "height": s.height,
                    "url": f"{base_url}/photo/{self.owner_id}_{self.id}_{s.type}.jpg?key={self.access_key}",
                }
                for s in self.sizes
            ],
        }


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height if the bytes are an image Pillow can read, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except Exception:  # any undecodable input is simply "not an image"
        return None


def make_photo(owner_id: int, photo_id: int, data: bytes, dims: tuple[int, int] | None) -> StoredPhoto:
    """A stored photo with VK's list of sizes; unreadable bytes get one 0x0 size holding them."""
    width, height = dims or (0, 0)
    photo = StoredPhoto(owner_id, photo_id, secrets.token_hex(9), data, width, height)
    photo.sizes = _sizes(width, height)
    return photo


def _sizes(width: int, height: int) -> list[PhotoSize]:
    longest = max(width, height)
    if longest == 0:
        return [PhotoSize("x", 0, 0, original=True)]
    scaled: list[PhotoSize] = []
    for size_type, limit in _SCALED:
        if limit >= longest:
            scaled.append(PhotoSize(size_type, width, height, original=True))
            break
        factor = limit / longest
        scaled.append(
            PhotoSize(
                size_type, max(1, round(width * factor)), max(1, round(height * factor)), original=False
            )
        )
    else:
        # Larger than the largest scaled type: VK still keeps the original under "w".
        scaled[-1] = PhotoSize("w", width, height, original=True)
    crops = [
        PhotoSize(size_type, limit, max(1, round(limit * height / width)), original=False)
        for size_type, limit in _CROPS
        if limit < width
    ]
    return scaled + crops


def _reduce(data: bytes, width: int, height: int) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        reduced = image.convert("RGB").resize((width, height))
    out = io.BytesIO()
    reduced.save(out, "JPEG", quality=80)
    return out.getvalue()
