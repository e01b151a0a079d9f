"""The caps one operation runs under, as a small picklable value sent to each pool process."""

from __future__ import annotations

from dataclasses import dataclass, replace

from photobot.config import Settings


@dataclass(frozen=True)
class Limits:
    """Byte, pixel, scan and memory caps of the input, the result's size and quality, the face model.

    `max_image_memory` is the budget of one image: its decode as Pillow holds it plus the working
    arrays of the operation (see `photobot.processing.cost`), checked before a pixel is decoded.

    `face_model_path` is a string (not a Path) so the value pickles cheaply and hashes, which the
    per-process detector cache relies on.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    max_image_memory: int = 512 * 1024 * 1024
    max_jpeg_scans: int = 100
    result_max_side: int = 2560
    photo_result_max_side: int = 1280
    jpeg_quality: int = 85
    face_model_path: str | None = None

    def for_photo(self) -> Limits:
        """The limits of a result delivered as a photo: no larger than a chat shows it.

        Telegram displays photos at most 1280 px and recompresses larger ones, so more pixels only
        cost decode (a deeper JPEG draft), the operation, the encode and the upload.
        """
        side = min(self.result_max_side, self.photo_result_max_side)
        return replace(self, result_max_side=side)

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            max_image_memory=settings.max_image_memory_mb * 1024 * 1024,
            max_jpeg_scans=settings.max_jpeg_scans,
            result_max_side=settings.result_max_side,
            photo_result_max_side=settings.photo_result_max_side,
            jpeg_quality=settings.jpeg_quality,
            face_model_path=str(settings.face_model_path) if settings.face_model_path else None,
        )
