"""Small array helpers the operations share: fitting into a box, and keeping alpha out of filters."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np


def fit(pixels: np.ndarray, max_side: int, upscale: bool = False) -> np.ndarray:
    """Scale so the longest side is at most `max_side` (exactly, with upscale=True); area filter down."""
    height, width = pixels.shape[:2]
    longest = max(width, height)
    if longest == max_side or (longest < max_side and not upscale):
        return pixels
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(pixels, size, interpolation=interpolation)


def on_colour(pixels: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply `transform` to the RGB channels; an alpha channel passes through untouched."""
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        colour = np.ascontiguousarray(pixels[:, :, :3])
        result = transform(colour)
        if result.ndim == 2:
            result = cv2.cvtColor(result, cv2.COLOR_GRAY2RGB)
        return np.dstack((result, pixels[:, :, 3]))
    return transform(pixels)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
