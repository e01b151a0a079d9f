"""The default face detector (CenterFace over tiles and two scales) on real group photos and on the
astronaut arranged as a new user would try it; what the three face operations make of the boxes.

Floors, never timings: recall (IoU >= 0.4 with a labelled face) and false faces per photo at each
of the three sizes of tests/faces_corpus.py. Bad inputs tried: a 1x1 image, a 1x3000 strip, a flat
grey photo, a grey-scale photo, a photo with transparency, the model file missing from the
environment and a model file altered by one byte.
"""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from photobot.config import Settings
from photobot.locales import error_text
from photobot.processing import (
    FaceModelUnavailable,
    ImageProcessor,
    Limits,
    NoFaces,
    centerface,
    face_model,
    run_operation,
)
from photobot.processing.face_ops import DETECT_SIDE, MAX_CROPS
from photobot.processing.faces import Box, load_detector
from tests import faces_corpus
from tests.conftest import ASTRONAUT

SHARED_ASTRONAUT = faces_corpus.FACES_DIR.parent / "astronaut.png"
ASTRONAUTS = [ASTRONAUT, *([SHARED_ASTRONAUT] if SHARED_ASTRONAUT.is_file() else [])]
ASTRONAUT_FACE = Box(160, 20, 120, 140)  # in the 512x512 picture, hair to chin (checked by eye)
needs_corpus = pytest.mark.skipif(not faces_corpus.available(), reason="../shared/testdata/faces absent")


def astronaut(path: Path = ASTRONAUT) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def detect(rgb: np.ndarray) -> list[Box]:
    return faces_corpus.as_the_operation_sees(rgb, DETECT_SIDE, load_detector(None).detect)


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def overlaps(found: list[Box], face: Box) -> bool:
    return any(faces_corpus.iou(box, face) >= faces_corpus.MATCH_IOU for box in found)


@needs_corpus
@pytest.mark.slow
@pytest.mark.parametrize("size", faces_corpus.SIZES)
def test_group_photos_recall_and_false_faces(size: str) -> None:
    """18 labelled faces at each size: at least 17 found, at most one false face per photo on average
    (18/18 and none were measured: see bench/faces_bench.py)."""
    found = total = false = 0
    for case in faces_corpus.cases(size):
        hits, wrong = faces_corpus.score(detect(case.rgb), case.faces, case.unlabelled)
        found, total, false = found + hits, total + len(case.faces), false + wrong
    assert total == 18
    assert found >= 17, f"{size}: {found}/{total} faces found"
    assert false / len(faces_corpus.cases(size)) <= 1.0, f"{size}: {false} false faces"


@pytest.mark.parametrize("path", ASTRONAUTS, ids=lambda p: p.parent.name)
def test_two_astronauts_side_by_side(path: Path) -> None:
    one = astronaut(path)
    found = detect(np.hstack([one, one]))
    assert len(found) == 2
    assert overlaps(found, ASTRONAUT_FACE) or any(faces_corpus.iou(b, ASTRONAUT_FACE) > 0.3 for b in found)


@pytest.mark.parametrize("path", ASTRONAUTS, ids=lambda p: p.parent.name)
def test_astronauts_in_a_2x2_grid(path: Path) -> None:
    one = astronaut(path)
    row = np.hstack([one, one])
    found = detect(np.vstack([row, row]))
    assert len(found) == 4
    centres = sorted(((b.x + b.w // 2) // 512, (b.y + b.h // 2) // 512) for b in found)
    assert centres == [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize("angle", [-90, -45, -30, -15, 15, 30, 45, 90])
def test_tilted_face_is_found(angle: int) -> None:
    one = astronaut()
    turn = cv2.getRotationMatrix2D((220, 90), angle, 1.0)
    tilted = cv2.warpAffine(one, turn, (512, 512), borderMode=cv2.BORDER_REFLECT)
    found = detect(tilted)
    assert any(abs(b.x + b.w / 2 - 220) < 50 and abs(b.y + b.h / 2 - 100) < 60 for b in found), found


def test_face_turned_either_way_is_found() -> None:
    one = astronaut()
    assert len(detect(one)) == 1
    assert len(detect(np.ascontiguousarray(one[:, ::-1]))) == 1


@pytest.mark.slow
@pytest.mark.parametrize("side, corner", [(150, (3700, 2500)), (200, (1013, 597))])
def test_small_astronaut_in_a_12mp_photo(side: int, corner: tuple[int, int]) -> None:
    """The astronaut at 150 or 200 px (its face 26 or 34 px wide) in a 4000x3000 photo, through the
    whole operation."""
    frame = faces_corpus.texture(4000, 3000)
    left, top = corner
    small = cv2.resize(astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    frame[top : top + side, left : left + side] = small
    result = run_operation(jpeg(frame), "faces_detect", {}, Limits())
    assert result.summary["faces"] == 1


@needs_corpus
def test_faces_blur_hides_every_face_of_a_group() -> None:
    """Every labelled face of a group photo (3x) loses its detail (its box less a 15% rim: the labels
    are hand-drawn squares, a few px off the face here and there)."""
    case = faces_corpus.cases("scaled_3x")[0]
    result = run_operation(jpeg(case.rgb), "faces_blur", {}, Limits(result_max_side=4000, jpeg_quality=95))
    assert result.summary["faces"] >= len(case.faces)
    out = np.asarray(Image.open(io.BytesIO(result.images[0].data)).convert("RGB")).astype(int)
    for face in case.faces:
        rim = round(face.w * 0.15)
        window = (slice(face.y + rim, face.y + face.h - rim), slice(face.x + rim, face.x + face.w - rim))
        detail_before = cv2.Laplacian(case.rgb[window], cv2.CV_64F).var()
        detail_after = cv2.Laplacian(out[window].astype(np.uint8), cv2.CV_64F).var()
        assert detail_after < detail_before * 0.25, f"{face} still sharp"


def test_faces_crop_keeps_the_ten_largest() -> None:
    """Twelve faces of two sizes: ten crops, the two smallest faces left out, the count says 12."""
    canvas = faces_corpus.texture(2048, 1536)
    one = astronaut()
    big = cv2.resize(one, (384, 384), interpolation=cv2.INTER_AREA)
    small = cv2.resize(one, (256, 256), interpolation=cv2.INTER_AREA)
    spots = [(x, y) for y in (0, 512, 1024) for x in (0, 512, 1024, 1536)]
    for index, (x, y) in enumerate(spots):
        picture = small if index in (5, 10) else big
        canvas[y : y + picture.shape[0], x : x + picture.shape[1]] = picture
    result = run_operation(jpeg(canvas), "faces_crop", {}, Limits(result_max_side=2048))
    assert result.summary["faces"] == 12
    assert len(result.images) == MAX_CROPS
    smallest = min(image.width * image.height for image in result.images)
    assert smallest > (256 * 0.3) ** 2


def test_faces_detect_draws_the_boxes_and_says_the_count() -> None:
    one = astronaut()
    data = jpeg(np.hstack([one, one]), quality=95)
    result = run_operation(data, "faces_detect", {}, Limits())
    assert result.summary["faces"] == 2
    out = np.asarray(Image.open(io.BytesIO(result.images[0].data)).convert("RGB")).astype(int)
    green = (out[:, :, 1] > 180) & (out[:, :, 0] < 80) & (out[:, :, 2] < 160)
    assert green[:, :512].sum() > 200 and green[:, 512:].sum() > 200


@pytest.mark.parametrize(
    "name, rgb",
    [
        ("one pixel", np.full((1, 1, 3), 128, np.uint8)),
        ("strip", np.full((1, 3000, 3), 90, np.uint8)),
        ("flat", np.full((3000, 4000, 3), 128, np.uint8)),
    ],
)
def test_odd_photos_have_no_faces_and_break_nothing(name: str, rgb: np.ndarray) -> None:
    data = jpeg(rgb)
    assert run_operation(data, "faces_detect", {}, Limits()).summary["faces"] == 0
    with pytest.raises(NoFaces):
        run_operation(data, "faces_blur", {}, Limits())


def test_grey_and_transparent_photos_are_searched_too() -> None:
    grey = Image.open(ASTRONAUT).convert("L")
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    assert run_operation(buffer.getvalue(), "faces_detect", {}, Limits()).summary["faces"] == 1
    rgba = Image.open(ASTRONAUT).convert("RGBA")
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    result = run_operation(buffer.getvalue(), "faces_blur", {}, Limits())
    assert result.summary["faces"] == 1 and result.images[0].mime == "image/png"


def test_missing_default_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(face_model, "default_model_path", lambda: tmp_path / "centerface.onnx")
    load_detector.cache_clear()
    try:
        with pytest.raises(FaceModelUnavailable) as caught:
            run_operation(ASTRONAUT.read_bytes(), "faces_detect", {}, Limits())
        assert "photobot.processing.face_model" in caught.value.detail
        assert "centerface" not in error_text(caught.value, "en")
    finally:
        load_detector.cache_clear()


def test_installed_model_is_checked_by_its_hash(tmp_path: Path) -> None:
    assert face_model.is_installed(), "run `python -m photobot.processing.face_model`"
    copy = tmp_path / "centerface.onnx"
    shutil.copyfile(face_model.default_model_path(), copy)
    assert face_model.is_installed(copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 1]))
    assert not face_model.is_installed(copy)
    assert face_model.main(["--check", "--path", str(copy)]) == 1


@pytest.mark.slow
async def test_the_model_loads_in_the_pool_only(settings: Settings) -> None:
    load_detector.cache_clear()
    processor = ImageProcessor.from_settings(settings.model_copy(update={"process_workers": 1}))
    try:
        result = await asyncio.wait_for(processor.run(ASTRONAUT.read_bytes(), "faces_detect", {}), 60)
        assert result.summary["faces"] == 1
        assert load_detector.cache_info().currsize == 0, "the bot's process built a detector"
    finally:
        await processor.close()


def test_small_candidates_are_looked_at_again_at_most_max_zooms_times() -> None:
    """Scattered small candidates: each of the first MAX_ZOOMS gets its own enlarged window; the
    rest stand on their own score. The network is the unit seam here (a stub that confirms none)."""
    detector = load_detector(None)
    assert isinstance(detector, centerface.CenterFaceDetector)
    windows: list[tuple[int, int]] = []

    class Unconvinced:
        def run(self, tile: np.ndarray) -> np.ndarray:
            windows.append(tile.shape[:2])
            return np.zeros((0, 5), np.float32)

    rgb = np.zeros((1600, 1600, 3), np.uint8)
    scores = [0.9, 0.3] * 5  # ten candidates 400 px apart: none shares a window
    candidates = np.array(
        [[(i % 4) * 400 + 100, (i // 4) * 400 + 100, 12, 15, score] for i, score in enumerate(scores)],
        np.float32,
    )
    real = detector.net
    detector.net = Unconvinced()  # type: ignore[assignment]
    try:
        kept = detector._zoomed(rgb, candidates, 1.0)
    finally:
        detector.net = real
    assert len(windows) == centerface.MAX_ZOOMS
    assert len(kept) == 5 and bool((kept[:, 4] > 0.8).all())
