"""CenterFace on OpenCV's DNN module, run over tiles and two scales so that small faces in large photos
are found as surely as a face that fills the frame.

The photo is first reduced to a working copy of at most WORK_SIDE px (a 32 px face in a 4000 px photo
is ~13 px there, and CenterFace finds faces from ~12 px). The working copy is cut into TILE x TILE
tiles that overlap by OVERLAP px; faces larger than the overlap may be cut by a tile's edge, so a
second pass sees the whole photo reduced to one tile, where any face that large is >= 12 px again.
Boxes that touch a tile's inner edge are dropped (the neighbouring tile or the whole-photo pass sees
that face whole), and the rest are merged across tiles and scales by non-maximum suppression.

Every input has the same shape (one tile): OpenCV's DNN module gives wrong answers when one network
is fed inputs of different sizes, and a network per shape would cost a model load and hundreds of MB
per photo size. Tiles that are one flat colour (a frame, a wall) hold no face and are skipped.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from photobot.processing.errors import FaceModelUnavailable
from photobot.processing.faces import Box, reduced

WORK_SIDE = 1600
TILE = 640
OVERLAP = 96
THRESHOLD = 0.4
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
        self.net = CenterFaceNet(model_path, threshold)
        self.work_side = work_side

    def detect_scored(self, rgb: np.ndarray) -> Detections:
        """x, y, w, h, score of each face, in `rgb`'s pixel coordinates."""
        work, factor = reduced(rgb, self.work_side)
        height, width = work.shape[:2]
        if max(height, width) <= TILE:
            found = self.net.run(work)
        else:
            found = np.concatenate([self._tiles(work), self._whole(work)])
        kept = suppress(found)
        kept[:, :4] *= factor
        return kept

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

    def _whole(self, work: np.ndarray) -> Detections:
        small, factor = reduced(work, TILE)
        found = self.net.run(small)
        found[:, :4] *= factor
        return found


def _starts(length: int) -> list[int]:
    """Tile origins along one side: a stride of TILE - OVERLAP, the last tile flush with the edge."""
    if length <= TILE:
        return [0]
    starts = list(range(0, length - TILE, TILE - OVERLAP))
    return [*starts, length - TILE]


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
