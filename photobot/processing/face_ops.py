"""The face operations: detect (boxes drawn, count reported), crop (one image per face), blur.

faces_detect answers a question, and "none" is an answer: it returns the photo with faces=0.
faces_crop and faces_blur have nothing to do without a face and raise NoFaces.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from photobot.processing.centerface import WORK_SIDE
from photobot.processing.errors import NoFaces
from photobot.processing.faces import Box, load_detector
from photobot.processing.filters import NoParams, pixelate_region
from photobot.processing.limits import Limits
from photobot.processing.pixels import on_colour

MAX_CROPS = 10
DETECT_SIDE = WORK_SIDE  # pixels the face operations receive: see Operation.output_side
BOX_COLOUR = (0, 230, 118)


class FacesDetectParams(NoParams):
    pass


class FacesCropParams(NoParams):
    padding: float = Field(0.3, ge=0, le=1, description="Margin around each face, as a share of its size.")


class FacesBlurParams(NoParams):
    mode: Literal["blur", "pixelate"] = Field("blur", description="blur or pixelate each face.")
    padding: float = Field(
        0.2, ge=0, le=1, description="Margin around each face, as a share of its size (hair line, chin)."
    )


def find_faces(pixels: np.ndarray, limits: Limits) -> list[Box]:
    rgb = np.ascontiguousarray(pixels[:, :, :3]) if pixels.shape[2] == 4 else pixels
    return load_detector(limits.face_model_path).detect(rgb)


Applied = tuple[list[np.ndarray], int]


def faces_detect(pixels: np.ndarray, params: FacesDetectParams, limits: Limits) -> Applied:
    boxes = find_faces(pixels, limits)
    height, width = pixels.shape[:2]
    thickness = max(2, round(max(width, height) / 300))

    def draw(rgb: np.ndarray) -> np.ndarray:
        canvas = rgb.copy()
        for box in boxes:
            cv2.rectangle(canvas, (box.x, box.y), (box.x + box.w, box.y + box.h), BOX_COLOUR, thickness)
        return canvas

    return [on_colour(pixels, draw)], len(boxes)


def faces_crop(pixels: np.ndarray, params: FacesCropParams, limits: Limits) -> Applied:
    boxes = find_faces(pixels, limits)
    if not boxes:
        raise NoFaces
    height, width = pixels.shape[:2]
    largest = sorted(boxes, key=lambda b: b.area, reverse=True)[:MAX_CROPS]
    crops = []
    for box in sorted(largest, key=lambda b: (b.x, b.y)):
        area = box.padded(params.padding, width, height)
        crops.append(np.ascontiguousarray(pixels[area.y : area.y + area.h, area.x : area.x + area.w]))
    return crops, len(boxes)


def strong_blur(region: np.ndarray) -> np.ndarray:
    """A blur no face survives, at the cost of a small one: down to ~12 px, soften, back up."""
    height, width = region.shape[:2]
    factor = max(1.0, max(width, height) / 12)
    small = cv2.resize(
        region, (max(1, round(width / factor)), max(1, round(height / factor))), interpolation=cv2.INTER_AREA
    )
    small = cv2.GaussianBlur(small, (0, 0), 1.0)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def faces_blur(pixels: np.ndarray, params: FacesBlurParams, limits: Limits) -> Applied:
    boxes = find_faces(pixels, limits)
    if not boxes:
        raise NoFaces
    height, width = pixels.shape[:2]

    def hide(rgb: np.ndarray) -> np.ndarray:
        canvas = rgb.copy()
        for box in boxes:
            area = box.padded(params.padding, width, height)
            region = canvas[area.y : area.y + area.h, area.x : area.x + area.w]
            if params.mode == "pixelate":
                region[...] = pixelate_region(region, max(4, max(area.w, area.h) // 8))
            else:
                region[...] = strong_blur(region)
        return canvas

    return [on_colour(pixels, hide)], len(boxes)
