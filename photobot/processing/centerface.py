"""CenterFace on OpenCV's DNN module, run over tiles and two scales so that small faces in large photos
are found as surely as a face that fills the frame.

The photo is first reduced to a working copy of at most WORK_SIDE px (a 32 px face in a 4000 px photo
is ~13 px there, and CenterFace finds faces from ~12 px). The working copy is cut into TILE x TILE
tiles that overlap by OVERLAP px; faces larger than the overlap may be cut by a tile's edge, so a
second pass sees the whole photo reduced to one tile, where any face that large is >= 12 px again.
Boxes that touch a tile's inner edge are dropped (the neighbouring tile or the whole-photo pass sees
that face whole), and the rest are merged across tiles and scales by non-maximum suppression.
A small face (under SMALL px on the working copy) is uncertain at that size: candidates from CANDIDATE
up are looked at again in a window enlarged ZOOM times, where the network's score decides and its box
is drawn more precisely.

Every input has the same shape (one tile): OpenCV's DNN module gives wrong answers when one network
is fed inputs of different sizes, and a network per shape would cost a model load and hundreds of MB
per photo size. Tiles that are one flat colour (a frame, a wall) hold no face and are skipped.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from photobot.processing.errors import FaceModelUnavailable
from photobot.processing.faces import Box, reduced

WORK_SIDE = 1600
TILE = 640
OVERLAP = 80
THRESHOLD = 0.4
CANDIDATE = 0.2  # a small face (under SMALL px) scoring this much is looked at again, enlarged
SMALL = 24
ZOOM = 3
MAX_ZOOMS = 6
FLAT_STDDEV = 3.0
EDGE_MARGIN = 3
OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks

Detections = np.ndarray  # N x 5 float32: x, y, w, h, score


class CenterFaceNet:
    """One CenterFace network at a fixed input of TILE x TILE px (RGB, 0-255, no mean)."""

    def __init__(self, model_path: str, threshold: float = THRESHOLD) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FaceModelUnavailable(f"face model not found: {model_path}")
        try:
            self.net = cv2.dnn.readNetFromONNX(str(path))
        except cv2.error as error:
            raise FaceModelUnavailable(f"face model unreadable: {model_path}: {error}"[:300]) from None
        self.threshold = threshold

    def run(self, tile: np.ndarray) -> Detections:
        """Faces in one RGB tile (at most TILE x TILE; padded here), in the tile's coordinates."""
        height, width = tile.shape[:2]
        canvas = tile
        if (height, width) != (TILE, TILE):
            canvas = np.zeros((TILE, TILE, 3), np.uint8)
            canvas[:height, :width] = tile
        self.net.setInput(cv2.dnn.blobFromImage(canvas))
        heatmap, scale, offset, _ = self.net.forward(OUTPUTS)
        rows, cols = np.nonzero(heatmap[0, 0] > self.threshold)
        if rows.size == 0:
            return np.zeros((0, 5), np.float32)
        box_h = np.exp(scale[0, 0, rows, cols]) * 4
        box_w = np.exp(scale[0, 1, rows, cols]) * 4
        x0 = np.maximum(0, (cols + offset[0, 1, rows, cols] + 0.5) * 4 - box_w / 2)
        y0 = np.maximum(0, (rows + offset[0, 0, rows, cols] + 0.5) * 4 - box_h / 2)
        box_w = np.minimum(box_w, width - x0)
        box_h = np.minimum(box_h, height - y0)
        found = np.stack([x0, y0, box_w, box_h, heatmap[0, 0, rows, cols]], axis=1).astype(np.float32)
        return found[(found[:, 2] > 1) & (found[:, 3] > 1)]


class CenterFaceDetector:
    """The default detector (see the module's docstring)."""

    name = "centerface"

    def __init__(self, model_path: str, threshold: float = THRESHOLD, work_side: int = WORK_SIDE) -> None:
        self.net = CenterFaceNet(model_path, min(threshold, CANDIDATE))
        self.threshold = threshold
        self.work_side = work_side

    def detect_scored(self, rgb: np.ndarray) -> Detections:
        """x, y, w, h, score of each face, in `rgb`'s pixel coordinates."""
        work, factor = reduced(rgb, self.work_side)
        height, width = work.shape[:2]
        if max(height, width) <= TILE:
            found = self.net.run(work)
        else:
            found = np.concatenate([self._tiles(work), self._whole(work)])
        found = suppress(found)
        found[:, :4] *= factor
        small = found[:, 2] < SMALL * factor
        sure = found[~small]
        zoomed = self._zoomed(rgb, found[small], factor)
        return suppress(np.concatenate([sure[sure[:, 4] >= self.threshold], zoomed]))

    def detect(self, rgb: np.ndarray) -> list[Box]:
        found = self.detect_scored(rgb)
        boxes = [Box(round(x), round(y), round(w), round(h)) for x, y, w, h, _ in found.tolist()]
        return sorted(boxes, key=lambda b: (b.x, b.y))

    def _tiles(self, work: np.ndarray) -> Detections:
        height, width = work.shape[:2]
        parts = [np.zeros((0, 5), np.float32)]
        for top in _starts(height):
            for left in _starts(width):
                tile = work[top : top + TILE, left : left + TILE]
                if float(cv2.meanStdDev(tile)[1].max()) < FLAT_STDDEV:
                    continue
                found = self.net.run(tile)
                window = (left, top, tile.shape[1], tile.shape[0])
                found = found[_clear_of_inner_edges(found, window, (width, height))]
                found[:, 0] += left
                found[:, 1] += top
                parts.append(found)
        return np.concatenate(parts)

    def _zoomed(self, rgb: np.ndarray, candidates: Detections, factor: float) -> Detections:
        """Small candidates looked at again, enlarged ZOOM times: the face is then as large as the
        network likes them, so its score decides and its box is drawn more precisely. A window
        covers every candidate near the first; past MAX_ZOOMS windows, candidates stand on their
        own score."""
        height, width = rgb.shape[:2]
        side = round(TILE / ZOOM * factor)  # in `rgb`'s pixels: ZOOM times larger than on the work copy
        settled = np.zeros(len(candidates), bool)
        kept: list[Detections] = [np.zeros((0, 5), np.float32)]
        windows = 0
        for index in range(len(candidates)):
            if settled[index]:
                continue
            if windows == MAX_ZOOMS:
                rest = candidates[~settled]
                kept.append(rest[rest[:, 4] >= self.threshold])
                break
            windows += 1
            cx, cy = candidates[index, :2] + candidates[index, 2:4] / 2
            left = int(min(max(0, cx - side / 2), max(0, width - side)))
            top = int(min(max(0, cy - side / 2), max(0, height - side)))
            crop = rgb[top : top + side, left : left + side]
            scale = min(TILE / crop.shape[1], TILE / crop.shape[0])
            size = (min(TILE, round(crop.shape[1] * scale)), min(TILE, round(crop.shape[0] * scale)))
            interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
            found = self.net.run(cv2.resize(crop, size, interpolation=interpolation))
            found[:, :4] /= scale
            found[:, 0] += left
            found[:, 1] += top
            confirmed = found[found[:, 4] >= self.threshold]
            window = (left, top, crop.shape[1], crop.shape[0])
            inside = _centred_in(candidates, window, margin=round(SMALL * factor / 2))
            inside[index] = True
            for other in np.nonzero(inside & ~settled)[0]:
                box = candidates[other]
                match = confirmed[_ious(box, confirmed) > 0.2]
                if len(match):
                    kept.append(match[np.argmax(match[:, 4])][None])
                elif box[4] >= self.threshold:
                    kept.append(box[None])
            settled |= inside
        return np.concatenate(kept)

    def _whole(self, work: np.ndarray) -> Detections:
        small, factor = reduced(work, TILE)
        found = self.net.run(small)
        found[:, :4] *= factor
        return found


def _starts(length: int) -> list[int]:
    """Tile origins along one side: as few tiles as overlap by at least OVERLAP, spread evenly."""
    if length <= TILE:
        return [0]
    count = math.ceil((length - OVERLAP) / (TILE - OVERLAP))
    return [round(index * (length - TILE) / (count - 1)) for index in range(count)]


def _clear_of_inner_edges(
    found: Detections, window: tuple[int, int, int, int], size: tuple[int, int]
) -> np.ndarray:
    """Which boxes of the tile at `window` (left, top, width, height) in a photo of `size` stay clear
    of the tile's inner edges (edges on the photo's border do not count)."""
    left, top, tile_w, tile_h = window
    width, height = size
    x0, y0 = found[:, 0], found[:, 1]
    x1, y1 = x0 + found[:, 2], y0 + found[:, 3]
    keep = np.ones(len(found), bool)
    if left > 0:
        keep &= x0 > EDGE_MARGIN
    if top > 0:
        keep &= y0 > EDGE_MARGIN
    if left + tile_w < width:
        keep &= x1 < tile_w - EDGE_MARGIN
    if top + tile_h < height:
        keep &= y1 < tile_h - EDGE_MARGIN
    return keep


def _centred_in(found: Detections, window: tuple[int, int, int, int], margin: int) -> np.ndarray:
    left, top, width, height = window
    cx, cy = found[:, 0] + found[:, 2] / 2, found[:, 1] + found[:, 3] / 2
    across = (cx >= left + margin) & (cx < left + width - margin)
    return across & (cy >= top + margin) & (cy < top + height - margin)


def _ious(box: np.ndarray, others: Detections) -> np.ndarray:
    x1, y1 = others[:, 0] + others[:, 2], others[:, 1] + others[:, 3]
    ix = np.clip(np.minimum(box[0] + box[2], x1) - np.maximum(box[0], others[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[1] + box[3], y1) - np.maximum(box[1], others[:, 1]), 0, None)
    inter = ix * iy
    ious: np.ndarray = inter / (box[2] * box[3] + others[:, 2] * others[:, 3] - inter)
    return ious


def suppress(found: Detections, overlap: float = 0.3, contained: float = 0.6) -> Detections:
    """Non-maximum suppression: the best-scored box of each overlapping group stays.

    A box also goes when most of it lies inside a better one (a face seen at two scales gives a
    smaller box inside a larger one, whose IoU alone can be low).
    """
    if len(found) == 0:
        return found.copy()
    order = np.argsort(-found[:, 4])
    boxes = found[order]
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    areas = boxes[:, 2] * boxes[:, 3]
    alive = np.ones(len(boxes), bool)
    for index in range(len(boxes)):
        if not alive[index]:
            continue
        ix = np.clip(np.minimum(x1[index], x1) - np.maximum(x0[index], x0), 0, None)
        iy = np.clip(np.minimum(y1[index], y1) - np.maximum(y0[index], y0), 0, None)
        inter = ix * iy
        iou = inter / (areas[index] + areas - inter)
        inside = inter / np.minimum(areas[index], areas)
        beaten = (iou > overlap) | (inside > contained)
        beaten[: index + 1] = False
        alive &= ~beaten
    return boxes[alive]
