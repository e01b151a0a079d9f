"""The colour and texture operations: each a pure function of an RGB(A) array and its typed params.

All run on the image already reduced to the result's size, so a radius or a block size means the same
on a 12 MP photo as on a thumbnail. Alpha is kept as it is (see `on_colour`).
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from photobot.processing.pixels import fit, on_colour, to_gray


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlurParams(NoParams):
    radius: float = Field(4.0, ge=0.5, le=50, description="Gaussian radius (sigma) in result pixels.")


class SharpenParams(NoParams):
    amount: float = Field(1.0, ge=0.1, le=5, description="Strength of the unsharp mask.")
    radius: float = Field(2.0, ge=0.5, le=20, description="Radius of the unsharp mask.")


class PosterizeParams(NoParams):
    bits: int = Field(3, ge=1, le=7, description="Bits kept per channel.")


class PixelateParams(NoParams):
    block: int = Field(16, ge=2, le=256, description="Block size in result pixels.")


class EnhanceParams(NoParams):
    strength: float = Field(1.0, ge=0, le=2, description="0 leaves the photo; 1 is the usual restoration.")


class ResizeParams(NoParams):
    max_side: int = Field(1024, ge=16, le=10000, description="Longest side of the result, in pixels.")
    mode: Literal["fit", "exact"] = Field(
        "fit", description="fit: only ever shrink; exact: scale up too (up to RESULT_MAX_SIDE)."
    )


SEPIA_MATRIX = np.array(
    [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], dtype=np.float32
)
# Pillow's CONTOUR and EMBOSS kernels, so results look like what people know from image editors.
CONTOUR_KERNEL = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float32)
EMBOSS_KERNEL = np.array([[-1, -1, 0], [-1, 0, 1], [0, 1, 1]], dtype=np.float32)


def grayscale(pixels: np.ndarray, params: NoParams) -> np.ndarray:
    if pixels.shape[2] == 4:
        return on_colour(pixels, to_gray)
    return to_gray(pixels)  # a one-channel JPEG: a third of the bytes


def sepia(pixels: np.ndarray, params: NoParams) -> np.ndarray:
    # cv2.transform saturates to 0..255, which is what the classic sepia matrix expects.
    return on_colour(pixels, lambda rgb: cv2.transform(rgb, SEPIA_MATRIX))


def blur(pixels: np.ndarray, params: BlurParams) -> np.ndarray:
    return on_colour(pixels, lambda rgb: cv2.GaussianBlur(rgb, (0, 0), params.radius))


def unsharp(rgb: np.ndarray, amount: float, radius: float) -> np.ndarray:
    soft = cv2.GaussianBlur(rgb, (0, 0), radius)
    return cv2.addWeighted(rgb, 1 + amount, soft, -amount, 0)


def sharpen(pixels: np.ndarray, params: SharpenParams) -> np.ndarray:
    return on_colour(pixels, lambda rgb: unsharp(rgb, params.amount, params.radius))


def contour(pixels: np.ndarray, params: NoParams) -> np.ndarray:
    return on_colour(pixels, lambda rgb: cv2.filter2D(rgb, -1, CONTOUR_KERNEL, delta=255))


def emboss(pixels: np.ndarray, params: NoParams) -> np.ndarray:
    def relief(rgb: np.ndarray) -> np.ndarray:
        return cv2.filter2D(to_gray(rgb), -1, EMBOSS_KERNEL, delta=128)

    if pixels.shape[2] == 4:
        return on_colour(pixels, relief)
    return relief(pixels)


def invert(pixels: np.ndarray, params: NoParams) -> np.ndarray:
    return on_colour(pixels, cv2.bitwise_not)


def posterize(pixels: np.ndarray, params: PosterizeParams) -> np.ndarray:
    mask = np.uint8((0xFF << (8 - params.bits)) & 0xFF)
    return on_colour(pixels, lambda rgb: np.bitwise_and(rgb, mask))


def pixelate(pixels: np.ndarray, params: PixelateParams) -> np.ndarray:
    return on_colour(pixels, lambda rgb: pixelate_region(rgb, params.block))


def pixelate_region(rgb: np.ndarray, block: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    small = cv2.resize(
        rgb, (max(1, width // block), max(1, height // block)), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def enhance(pixels: np.ndarray, params: EnhanceParams) -> np.ndarray:
    """Restoration of a dull, noisy photo: autocontrast, then an edge-keeping denoise, then sharpen."""
    if params.strength == 0:
        return pixels

    def restore(rgb: np.ndarray) -> np.ndarray:
        stretched = autocontrast(rgb, cutoff=0.5 * params.strength)
        sigma = 20 * params.strength
        denoised = cv2.bilateralFilter(stretched, 5, sigma, sigma)
        return unsharp(denoised, 0.6 * params.strength, 1.5)

    return on_colour(pixels, restore)


def autocontrast(rgb: np.ndarray, cutoff: float) -> np.ndarray:
    """Stretch each channel so `cutoff` percent of pixels clip at each end (as ImageOps.autocontrast)."""
    sample = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)].reshape(-1, 3)
    low = np.percentile(sample, cutoff, axis=0)
    high = np.percentile(sample, 100 - cutoff, axis=0)
    lut = np.empty((256, 1, 3), dtype=np.uint8)
    levels = np.arange(256, dtype=np.float32)
    for channel in range(3):
        span = max(float(high[channel] - low[channel]), 1.0)
        lut[:, 0, channel] = np.clip((levels - low[channel]) * 255.0 / span, 0, 255)
    return cv2.LUT(rgb, lut)


def resize(pixels: np.ndarray, params: ResizeParams, result_max_side: int) -> np.ndarray:
    return fit(pixels, min(params.max_side, result_max_side), upscale=params.mode == "exact")
