"""Every operation on a real photo (the astronaut, one face), and the face detectors' selection."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from photobot.locales import error_text
from photobot.processing import (
    FaceModelUnavailable,
    Limits,
    NoFaces,
    OperationResult,
    list_operations,
    run_operation,
)
from photobot.processing import faces as faces_module
from photobot.processing.centerface import CenterFaceDetector
from photobot.processing.faces import Box, HaarDetector, YuNetDetector, load_detector, merge_boxes
from tests.conftest import ASTRONAUT

PHOTO = ASTRONAUT.read_bytes()
LIMITS = Limits()
ORIGINAL = np.asarray(Image.open(ASTRONAUT).convert("RGB")).astype(int)
# Where the astronaut's face is in the 512x512 picture (checked by eye): x 160-280, y 20-160.
FACE = (slice(20, 160), slice(160, 280))


def pixels(result: OperationResult, index: int = 0) -> np.ndarray:
    image = Image.open(io.BytesIO(result.images[index].data))
    assert image.format == "JPEG" and not image.getexif()
    return np.asarray(image.convert("RGB")).astype(int)


@pytest.mark.parametrize("operation", [op.name for op in list_operations()])
def test_every_operation_on_the_photo(operation: str) -> None:
    result = run_operation(PHOTO, operation, {}, LIMITS)
    assert result.images and result.summary["operation"] == operation
    assert result.summary["input"] == {
        "format": "PNG",
        "width": 512,
        "height": 512,
        "bytes": len(PHOTO),
        "decoded_width": 512,
        "decoded_height": 512,
    }
    assert set(result.summary["timings_ms"]) == {"decode", "operation", "encode", "total"}
    for image, described in zip(result.images, result.summary["outputs"], strict=True):
        assert image.mime == "image/jpeg" and image.extension == ".jpg"
        assert (described["width"], described["height"]) == (image.width, image.height)
        assert Image.open(io.BytesIO(image.data)).size == (image.width, image.height)
    if operation not in ("resize", "faces_crop"):
        assert (result.images[0].width, result.images[0].height) == (512, 512)


def test_grayscale_has_equal_channels() -> None:
    image = Image.open(io.BytesIO(run_operation(PHOTO, "grayscale", {}, LIMITS).images[0].data))
    assert image.mode == "L"


def test_sepia_colour_relations() -> None:
    out = pixels(run_operation(PHOTO, "sepia", {}, LIMITS))
    red, green, blue = (out[:, :, channel].mean() for channel in range(3))
    assert red > green > blue
    share = ((out[:, :, 0] >= out[:, :, 1] - 3) & (out[:, :, 1] >= out[:, :, 2] - 3)).mean()
    assert share > 0.97


def test_invert_and_blur_and_pixelate() -> None:
    inverted = pixels(run_operation(PHOTO, "invert", {}, LIMITS))
    assert abs((255 - inverted).mean() - ORIGINAL.mean()) < 3
    sharp_edges = np.abs(np.diff(ORIGINAL, axis=1)).mean()
    blurred = pixels(run_operation(PHOTO, "blur", {"radius": 6}, LIMITS))
    assert np.abs(np.diff(blurred, axis=1)).mean() < sharp_edges / 2
    blocky = pixels(run_operation(PHOTO, "pixelate", {"block": 32}, LIMITS))
    assert np.abs(blocky[5:27, 5:27] - blocky[16, 16]).mean() < 6, "one 32 px block is one colour"


def test_posterize_keeps_few_levels() -> None:
    result = run_operation(PHOTO, "posterize", {"bits": 1}, Limits(jpeg_quality=100))
    out = pixels(result)
    near = np.minimum(np.abs(out - 0), np.abs(out - 128))
    assert (near < 24).mean() > 0.95


def test_enhance_stretches_a_dull_photo() -> None:
    dull = (ORIGINAL * 0.4 + 60).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(dull).save(buffer, "PNG")
    out = pixels(run_operation(buffer.getvalue(), "enhance", {}, LIMITS))
    assert out.std() > dull.std() * 1.8
    assert out.min() < 20 and out.max() > 235


def test_resize_fit_and_exact() -> None:
    small = run_operation(PHOTO, "resize", {"max_side": 100}, LIMITS).images[0]
    assert (small.width, small.height) == (100, 100)
    same = run_operation(PHOTO, "resize", {"max_side": 800}, LIMITS).images[0]
    assert (same.width, same.height) == (512, 512), "fit never enlarges"
    bigger = run_operation(PHOTO, "resize", {"max_side": 800, "mode": "exact"}, LIMITS).images[0]
    assert (bigger.width, bigger.height) == (800, 800)
    capped = run_operation(PHOTO, "resize", {"max_side": 5000, "mode": "exact"}, Limits(result_max_side=640))
    assert (capped.images[0].width, capped.images[0].height) == (640, 640)


def test_results_are_capped_at_result_max_side() -> None:
    result = run_operation(PHOTO, "sepia", {}, Limits(result_max_side=200))
    assert (result.images[0].width, result.images[0].height) == (200, 200)


def test_alpha_survives_as_png() -> None:
    rgba = Image.open(ASTRONAUT).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgba.size))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    result = run_operation(buffer.getvalue(), "sepia", {}, LIMITS)
    image = Image.open(io.BytesIO(result.images[0].data))
    assert result.images[0].mime == "image/png" and image.mode == "RGBA"
    assert np.array_equal(np.asarray(image)[:, :, 3], np.asarray(rgba)[:, :, 3])


def test_faces_detect_finds_the_astronaut() -> None:
    result = run_operation(PHOTO, "faces_detect", {}, LIMITS)
    assert result.summary["faces"] == 1
    out = pixels(result)
    drawn = (np.abs(out - ORIGINAL).max(axis=2) > 60) & (out[:, :, 1] > 170) & (out[:, :, 0] < 90)
    ys, xs = np.nonzero(drawn)
    assert len(ys) > 200, "a green box is drawn"
    assert FACE[1].start - 30 < xs.min() and xs.max() < FACE[1].stop + 30
    assert FACE[0].start - 30 < ys.min() and ys.max() < FACE[0].stop + 30


def test_faces_detect_on_a_photo_without_faces_reports_zero() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (90, 140, 200)).save(buffer, "PNG")
    result = run_operation(buffer.getvalue(), "faces_detect", {}, LIMITS)
    assert result.summary["faces"] == 0 and len(result.images) == 1


@pytest.mark.parametrize("operation", ["faces_crop", "faces_blur"])
def test_crop_and_blur_without_faces_raise_no_faces(operation: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (90, 140, 200)).save(buffer, "PNG")
    with pytest.raises(NoFaces) as caught:
        run_operation(buffer.getvalue(), operation, {}, LIMITS)
    assert caught.value.code == "no_faces" and "лиц" in error_text(caught.value, "ru")


def test_faces_crop_returns_the_face() -> None:
    result = run_operation(PHOTO, "faces_crop", {"padding": 0}, LIMITS)
    assert result.summary["faces"] == 1 and len(result.images) == 1
    crop = result.images[0]
    assert 60 <= crop.width <= 200 and 60 <= crop.height <= 200


@pytest.mark.parametrize("mode", ["blur", "pixelate"])
def test_faces_blur_changes_the_face_and_little_else(mode: str) -> None:
    out = pixels(run_operation(PHOTO, "faces_blur", {"mode": mode}, Limits(jpeg_quality=95)))
    difference = np.abs(out - ORIGINAL).mean(axis=2)
    inside = np.zeros(difference.shape, bool)
    inside[FACE] = True
    face_change = difference[60:120, 190:250].mean()
    outside = difference[~inside]
    assert face_change > 12
    assert np.median(outside) < 3 and (outside > 25).mean() < 0.05


def test_merge_boxes_joins_overlaps_and_keeps_apart_ones() -> None:
    boxes = [Box(10, 10, 50, 50), Box(15, 12, 50, 52), Box(200, 200, 40, 40), Box(20, 20, 20, 20)]
    assert merge_boxes(boxes) == [Box(10, 10, 55, 54), Box(200, 200, 40, 40)]


def test_haar_finds_a_face_turned_aside_via_the_mirror() -> None:
    """The profile cascade knows faces looking one way; the mirror pass finds the other way."""
    detector = HaarDetector()
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    assert len(detector.detect(rgb)) == 1
    assert len(detector.detect(np.ascontiguousarray(rgb[:, ::-1]))) == 1


def test_face_model_path_selects_yunet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With FACE_MODEL_PATH set the YuNet detector is built; cv2's factory is the unit seam here,
    since no model can be downloaded in tests."""
    model = tmp_path / "face_detection_yunet.onnx"
    model.write_bytes(b"onnx")
    calls: list[str] = []

    class FakeYN:
        def setInputSize(self, size: tuple[int, int]) -> None:
            self.size = size

        def detect(self, image: np.ndarray) -> tuple[int, np.ndarray]:
            return 1, np.array([[10, 20, 30, 40] + [0] * 10 + [0.9]], dtype=np.float32)

    def create(path: str, *args: object) -> FakeYN:
        calls.append(path)
        return FakeYN()

    monkeypatch.setattr(cv2.FaceDetectorYN, "create", create)
    load_detector.cache_clear()
    try:
        detector = load_detector(str(model))
        assert isinstance(detector, YuNetDetector) and calls == [str(model)]
        assert detector.detect(np.zeros((100, 200, 3), np.uint8)) == [Box(10, 20, 30, 40)]
        assert isinstance(load_detector(None), CenterFaceDetector)
    finally:
        load_detector.cache_clear()


def test_missing_face_model_is_a_clear_error(tmp_path: Path) -> None:
    limits = Limits(face_model_path=str(tmp_path / "absent.onnx"))
    with pytest.raises(FaceModelUnavailable) as caught:
        run_operation(PHOTO, "faces_detect", {}, limits)
    assert caught.value.code == "face_model" and "absent.onnx" in caught.value.detail
    assert "absent.onnx" not in error_text(caught.value, "en"), "paths are for the log, not the user"


def test_bad_face_model_file_is_a_clear_error(tmp_path: Path) -> None:
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"this is not an onnx model")
    with pytest.raises(FaceModelUnavailable) as caught:
        run_operation(PHOTO, "faces_blur", {}, Limits(face_model_path=str(model)))
    assert "unreadable" in caught.value.detail


def test_cascades_are_not_loaded_at_import() -> None:
    assert vars(faces_module)["cv2"] is cv2
    assert not hasattr(faces_module, "FRONTAL")
