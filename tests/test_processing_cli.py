"""`photobot process` and `photobot ops`, run through the real CLI entry point and process pool.

Bad inputs: a text file, a missing file, a folder, an unknown operation, a bad --param, a file over
MAX_IMAGE_BYTES, a photo without faces for faces_crop; each exits 2 with one line on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

import photobot.cli
from photobot.cli import main
from tests.conftest import ASTRONAUT

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _only_processing_commands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI with this part's commands alone, logs off the terminal and out of the developer's tree."""
    monkeypatch.setattr(photobot.cli, "COMMAND_MODULES", ("photobot.cli.processing_commands",))
    monkeypatch.setenv("LOG_FILE", str(tmp_path / "photobot.log"))
    monkeypatch.chdir(tmp_path)


Capture = pytest.CaptureFixture[str]


def test_process_writes_the_result_and_prints_the_summary(tmp_path: Path, capsys: Capture) -> None:
    out = tmp_path / "out" / "face.jpg"
    assert main(["process", str(ASTRONAUT), "--op", "faces_detect", "-o", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert captured.err == "" and captured.out.count("\n") == 1
    assert summary["faces"] == 1 and summary["files"] == [str(out)]
    assert Image.open(out).size == (512, 512)


def test_faces_crop_numbers_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["process", str(ASTRONAUT), "--op", "faces_crop", "-o", str(tmp_path / "f.png"), "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["files"] == [str(tmp_path / "f-1.png")], "the name asked for, numbered"
    assert Image.open(tmp_path / "f-1.png").format == "PNG"


@pytest.mark.parametrize(("name", "fmt"), [("out.png", "PNG"), ("out.webp", "WEBP"), ("out.JPEG", "JPEG"),
                                           ("out", "JPEG")])
def test_the_output_name_chooses_the_format_and_the_cli_says_what_it_wrote(
    tmp_path: Path, capsys: Capture, name: str, fmt: str
) -> None:
    out = tmp_path / name
    assert main(["process", str(ASTRONAUT), "--op", "sepia", "-o", str(out)]) == 0
    written = out if out.suffix else out.with_suffix(".jpg")
    assert Image.open(written).format == fmt and not Image.open(written).info.get("exif")
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {written} ({fmt}, ") and line.endswith(" bytes)")


def test_an_unknown_output_extension_is_refused_before_any_work(tmp_path: Path, capsys: Capture) -> None:
    assert main(["process", str(ASTRONAUT), "--op", "sepia", "-o", str(tmp_path / "out.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown image extension '.gif'; use .jpg, .png or .webp" in err
    assert list(tmp_path.glob("out*")) == []


def test_params(tmp_path: Path) -> None:
    out = tmp_path / "small.jpg"
    assert main(["process", str(ASTRONAUT), "--op", "resize", "--param", "max_side=64", "-o", str(out)]) == 0
    assert Image.open(out).size == (64, 64)


@pytest.mark.parametrize(
    ("make_input", "args", "expected"),
    [
        ("text", ["--op", "sepia"], "error: unsupported_format: This file is not a supported image"),
        ("missing", ["--op", "sepia"], "photobot: error: cannot read"),
        ("folder", ["--op", "sepia"], "is a folder"),
        ("photo", ["--op", "oil_paint"], "error: unknown_operation: Unknown operation “oil_paint”."),
        ("photo", ["--op", "blur", "--param", "radius=500"], "bad_params: Invalid parameter “radius”"),
        ("photo", ["--op", "blur", "--param", "radius"], "--param expects KEY=VALUE"),
        ("blank", ["--op", "faces_crop"], "no_faces: No faces were found in this photo."),
        ("blank", ["--op", "faces_crop", "--lang", "ru"], "no_faces: На этом фото не найдено лиц."),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_input: str, args: list[str], expected: str
) -> None:
    source = {"photo": ASTRONAUT, "missing": tmp_path / "absent.jpg", "folder": tmp_path}.get(make_input)
    if make_input == "text":
        source = tmp_path / "notes.jpg"
        source.write_text("not a photo")
    elif make_input == "blank":
        source = tmp_path / "blank.png"
        Image.new("RGB", (64, 64), (20, 120, 20)).save(source)
    assert main(["process", str(source), *args, "-o", str(tmp_path / "out.jpg")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err and captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert not (tmp_path / "out.jpg").exists()


def test_file_over_the_byte_cap_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_IMAGE_BYTES", "100000")
    assert main(["process", str(ASTRONAUT), "--op", "sepia", "-o", str(tmp_path / "o.jpg")]) == 2
    assert "too_large" in capsys.readouterr().err


def test_ops_lists_operations_and_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ops"]) == 0
    text = capsys.readouterr().out
    assert "blur" in text and "radius=4.0 (0.5–50)" in text and "Сепия" in text
    assert main(["ops", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 14
    blur = next(line for line in lines if line["name"] == "blur")
    assert blur["params"][0] == {
        "name": "radius",
        "default": 4.0,
        "type": "float",
        "min": 0.5,
        "max": 50,
        "description": "Gaussian radius (sigma) in result pixels.",
    }
