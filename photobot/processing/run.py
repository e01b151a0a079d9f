"""`run_operation`: the one function a pool process runs. Synchronous, pure, and typed in its failures.

bytes -> decode (reduced to the result's size where the format allows) -> fit -> operation -> encode.
Whatever goes wrong leaves as a ProcessingError; an unexpected bug in an operation is reported as a
generic ProcessingError (logged with its traceback here, in the worker process) rather than as a raw
exception the chat would have to guess about.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2

from photobot import heap
from photobot.logs import get_logger
from photobot.processing.decode import decode_image
from photobot.processing.encode import EncodedImage, encode
from photobot.processing.errors import ProcessingError, TooLarge
from photobot.processing.limits import Limits
from photobot.processing.pixels import fit
from photobot.processing.registry import get_operation, validate_params

log = get_logger(__name__)


@dataclass(frozen=True)
class OperationResult:
    """The result images and a JSON-ready summary: operation, sizes, timings in ms, faces found."""

    images: list[EncodedImage]
    summary: dict[str, Any]


def run_operation(data: bytes, name: str, params: Mapping[str, Any], limits: Limits) -> OperationResult:
    started = time.perf_counter()
    operation = get_operation(name)
    typed = validate_params(operation, params)
    side = operation.output_side(typed, limits)
    decoded = decode_image(data, limits, max_side=side)
    decoded_at = time.perf_counter()
    try:
        pixels = fit(decoded.pixels, side)
        arrays, faces = operation.apply(pixels, typed, limits)
        applied_at = time.perf_counter()
        images = [encode(fit(array, limits.result_max_side), limits.jpeg_quality) for array in arrays]
    except ProcessingError:
        raise
    except MemoryError:
        raise TooLarge("out of memory", what="?", limit=f"{limits.max_pixels / 1e6:g} MP") from None
    except cv2.error as error:
        if "memory" in str(error).lower() or "allocate" in str(error).lower():
            # OpenCV's own allocator failing under the process's memory cap.
            raise TooLarge("out of memory", what="?", limit=f"{limits.max_pixels / 1e6:g} MP") from None
        log.exception("operation_failed", operation=name, params=dict(params))
        raise ProcessingError(f"{name}: {type(error).__name__}: {error}"[:300]) from None
    except Exception as error:
        log.exception("operation_failed", operation=name, params=dict(params))
        raise ProcessingError(f"{name}: {type(error).__name__}: {error}"[:300]) from None
    finished = time.perf_counter()
    height, width = decoded.pixels.shape[:2]
    summary: dict[str, Any] = {
        "operation": name,
        "params": typed.model_dump(mode="json"),
        "input": {
            "format": decoded.source_format,
            "width": decoded.source_width,
            "height": decoded.source_height,
            "bytes": len(data),
            "decoded_width": width,
            "decoded_height": height,
        },
        "outputs": [
            {"width": image.width, "height": image.height, "bytes": len(image.data), "mime": image.mime}
            for image in images
        ],
        "timings_ms": {
            "decode": _ms(decoded_at - started),
            "operation": _ms(applied_at - decoded_at),
            "encode": _ms(finished - applied_at),
            "total": _ms(finished - started),
        },
    }
    if operation.is_faces:
        summary["faces"] = faces or 0
    return OperationResult(images=images, summary=summary)


def run_in_worker(data: bytes, name: str, params: Mapping[str, Any], limits: Limits) -> OperationResult:
    """`run_operation` as a pool process runs it: afterwards the freed heap goes back to the system.

    glibc keeps freed memory of large images in the process's heap (its mmap threshold grows with
    each large free), so an idle worker would otherwise stay at the size of its largest job.
    """
    try:
        return run_operation(data, name, params, limits)
    finally:
        heap.trim()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
