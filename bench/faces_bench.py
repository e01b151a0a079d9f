"""Face detection benchmark: the old detector (Haar cascades) and the new (CenterFace) side by side.

Prints one JSON object. On the labelled group photos (tests/faces_corpus.py: 18 faces, at three
sizes), each photo is encoded as a JPEG and goes the way a job's photo goes: decoded at the size the
face operation asks for, reduced, searched. Reported per detector and size: recall (a labelled face
is found when a box overlaps it with IoU >= 0.4), false faces per photo (boxes on no labelled face
and on none of the few unlabelled background faces listed in the corpus), and milliseconds per
12 MP photo (the four framed photos, 4000x3000 JPEGs) for faces_detect and faces_blur through
`run_operation`, as a chat photo result (1280 px).

Timings are of this machine as it is: wall clock and CPU time per photo, the load average before and
after, and the OpenCV thread count (a pool process gets cores / PROCESS_WORKERS threads: 1 by
default on 2 cores).

    .venv/bin/python -m bench.faces_bench [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from photobot.logs import configure_logging
from photobot.processing import Limits, NoFaces, face_ops, run_operation
from photobot.processing.decode import decode_image
from photobot.processing.face_model import LICENCE
from photobot.processing.faces import Box, FaceDetector, HaarDetector, load_detector
from photobot.processing.pixels import fit
from photobot.processing.registry import get_operation
from tests import faces_corpus


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@contextlib.contextmanager
def detector_in_use(detector: FaceDetector, detect_side: int) -> Iterator[None]:
    """The face operations with `detector`, decoding at `detect_side` (the old design: the result's
    size, so 0 here) instead of the defaults."""
    with (mock.patch.object(face_ops, "load_detector", lambda _path: detector),
          mock.patch.object(face_ops, "DETECT_SIDE", detect_side)):
        yield


def boxes_as_the_job_finds(data: bytes, limits: Limits) -> tuple[list[Box], float]:
    """Decode and reduce as faces_blur does, search, and map the boxes back to the photo's pixels."""
    operation = get_operation("faces_blur")
    side = operation.output_side(operation.params_model(), limits)
    decoded = decode_image(data, limits, max_side=side)
    pixels = fit(decoded.pixels, side)
    factor = decoded.source_width / pixels.shape[1]
    return [box.scaled(factor) for box in face_ops.find_faces(pixels, limits)], factor


def accuracy(photos: dict[str, list[tuple[faces_corpus.Case, bytes]]], limits: Limits) -> dict[str, object]:
    result: dict[str, object] = {}
    for size, cases in photos.items():
        found = total = false = 0
        for case, data in cases:
            boxes, _ = boxes_as_the_job_finds(data, limits)
            hits, wrong = faces_corpus.score(boxes, case.faces, case.unlabelled)
            found, total, false = found + hits, total + len(case.faces), false + wrong
        result[size] = {
            "recall": round(found / total, 3),
            "found": f"{found}/{total}",
            "false_faces_per_photo": round(false / len(cases), 2),
        }
    return result


def timings(cases: list[tuple[faces_corpus.Case, bytes]], limits: Limits, repeat: int) -> dict[str, object]:
    """Wall-clock and CPU milliseconds per photo: on a shared machine the CPU time is what a job
    costs, the wall clock what its sender waited."""
    result: dict[str, object] = {}
    for name in ("faces_detect", "faces_blur"):
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat):
            for _case, data in cases:
                started, started_cpu = time.perf_counter(), time.process_time()
                with contextlib.suppress(NoFaces):  # the old detector finds none in the framed photos
                    run_operation(data, name, {}, limits)
                wall.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
        result[name] = {
            "wall_median_ms": round(statistics.median(wall), 1),
            "wall_min_ms": round(min(wall), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each 12 MP photo per operation")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (a pool process's share)")
    args = parser.parse_args(argv)
    configure_logging("WARNING", "console")
    cv2.setNumThreads(args.threads)
    if not faces_corpus.available():
        print(json.dumps({"error": f"no labelled photos at {faces_corpus.FACES_DIR}"}))
        return 1
    load_before = os.getloadavg()
    photos = {
        size: [(case, jpeg(case.rgb)) for case in faces_corpus.cases(size)] for size in faces_corpus.SIZES
    }
    limits = Limits().for_photo()
    detectors: dict[str, tuple[Callable[[], FaceDetector], int]] = {
        "haar (old)": (HaarDetector, 0),
        "centerface (new)": (lambda: load_detector(None), face_ops.DETECT_SIDE),
    }
    report: dict[str, object] = {}
    for label, (build, side) in detectors.items():
        detector = build()
        with detector_in_use(detector, side):
            run_operation(photos["as_taken"][0][1], "faces_detect", {}, limits)  # load, warm up
            report[label] = {
                "accuracy": accuracy(photos, limits),
                "ms_per_12mp_photo": timings(photos["in_12mp_frame"], limits, args.repeat),
            }
    print(json.dumps({
        "benchmark": "faces",
        "photos": "../shared/testdata/faces: 4 group photos, 18 labelled faces; sizes: as taken "
                  "(500 px), scaled 3x, inside a 4000x3000 textured frame; JPEG q92; results as chat photos",
        "match": f"IoU >= {faces_corpus.MATCH_IOU}",
        "detectors": report,
        "new_detector_licence": LICENCE,
        "opencv": cv2.__version__,
        "opencv_threads": args.threads,
        "cpus": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
    }, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
