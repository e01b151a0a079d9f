"""Group photos with every face boxed (../shared/testdata/faces, read in place), at three sizes.

- "as_taken": the photos as they are (500 px, faces 37-90 px);
- "scaled_3x": enlarged 3x, like a close phone photo (faces 110-270 px);
- "in_12mp_frame": the photo at its own size inside a 4000x3000 frame, like a group at a distance in
  a 12 MP photo. The frame is a smooth random texture (seeded), not a flat colour, so that every part
  of it costs the detector what a real photo costs and can tempt it into false faces.

A labelled face counts as found when a detected box overlaps it with IoU >= 0.4. A few real faces
are not labelled in boxes.xml (people far in the background, 8-13 px wide in the 500 px photo);
UNLABELLED lists them, checked by eye, and a box on one counts neither as found nor as false.
Tests and bench/faces_bench.py share this module.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photobot.processing.faces import Box
from photobot.processing.pixels import fit

FACES_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "faces"
SIZES = ("as_taken", "scaled_3x", "in_12mp_frame")
FRAME = (4000, 3000)
FRAME_ORIGIN = (1733, 1211)  # off centre, so that tile edges cross the group
MATCH_IOU = 0.4
UNLABELLED = {  # in the photos' own pixels: x, y, w, h
    "2008_002079.jpg": (
        Box(474, 74, 10, 13),  # two people at the window, far right
        Box(461, 76, 9, 12),
        Box(278, 38, 13, 16),  # the barman behind the counter
        Box(420, 83, 8, 11),  # a head by the window
    ),
}


@dataclass(frozen=True)
class Case:
    name: str
    size: str
    rgb: np.ndarray
    faces: list[Box]
    unlabelled: list[Box]


def available() -> bool:
    return (FACES_DIR / "boxes.xml").is_file()


@functools.cache
def _labelled() -> list[tuple[str, np.ndarray, list[Box]]]:
    root = ET.parse(FACES_DIR / "boxes.xml").getroot()
    photos = []
    for image in root.iter("image"):
        name = str(image.get("file"))
        bgr = cv2.imread(str(FACES_DIR / name))
        assert bgr is not None, name
        boxes = [
            Box(int(b.get("left", 0)), int(b.get("top", 0)), int(b.get("width", 0)), int(b.get("height", 0)))
            for b in image.iter("box")
        ]
        photos.append((name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), boxes))
    return photos


def texture(width: int, height: int, seed: int = 7) -> np.ndarray:
    """A smooth random colour field with fine grain: no faces, nothing flat."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 216, (height // 100 + 2, width // 100 + 2, 3)).astype(np.uint8)
    field = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    grain = rng.integers(-10, 11, (height, width, 1), dtype=np.int16)
    textured: np.ndarray = np.clip(field + grain, 0, 255).astype(np.uint8)
    return textured


@functools.cache
def cases(size: str) -> tuple[Case, ...]:
    built = []
    for name, rgb, boxes in _labelled():
        extra = list(UNLABELLED.get(name, ()))
        if size == "as_taken":
            built.append(Case(name, size, rgb, boxes, extra))
        elif size == "scaled_3x":
            big = cv2.resize(rgb, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            built.append(Case(name, size, big, [b.scaled(3) for b in boxes], [b.scaled(3) for b in extra]))
        elif size == "in_12mp_frame":
            frame = texture(*FRAME)
            left, top = FRAME_ORIGIN
            height, width = rgb.shape[:2]
            frame[top : top + height, left : left + width] = rgb
            moved = [[Box(b.x + left, b.y + top, b.w, b.h) for b in group] for group in (boxes, extra)]
            built.append(Case(name, size, frame, moved[0], moved[1]))
        else:
            raise ValueError(size)
    return tuple(built)


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union else 0.0


def score(found: Sequence[Box], faces: Sequence[Box], unlabelled: Sequence[Box] = ()) -> tuple[int, int]:
    """(labelled faces found, detected boxes that match no labelled and no unlabelled face)."""
    hits = sum(any(iou(box, face) >= MATCH_IOU for box in found) for face in faces)
    matched = [
        any(iou(box, face) >= MATCH_IOU for face in faces) or any(_on(box, face) for face in unlabelled)
        for box in found
    ]
    false = matched.count(False)
    return hits, false


def _on(box: Box, face: Box) -> bool:
    """`box` is centred on `face` (an unlabelled face: its box is too rough for an IoU)."""
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return face.x <= cx <= face.x + face.w and face.y <= cy <= face.y + face.h


def as_the_operation_sees(rgb: np.ndarray, side: int, detect: Callable[[np.ndarray], list[Box]]) -> list[Box]:
    """Detect on the copy a face operation receives (at most `side` px), boxes mapped back to `rgb`."""
    seen = fit(rgb, side)
    factor = max(rgb.shape[:2]) / max(seen.shape[:2])
    return [box.scaled(factor) for box in detect(seen)]
