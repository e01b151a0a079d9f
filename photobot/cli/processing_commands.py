"""`photobot process` (one operation on one file, the way the worker runs it) and `photobot ops`."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

from photobot.cli import CliError
from photobot.config import Settings
from photobot.jobs import JobError
from photobot.locales import error_text


def register(subparsers: Any) -> None:
    process = subparsers.add_parser("process", help="apply one operation to an image file")
    process.add_argument("input", metavar="INPUT", type=Path, help="image file")
    process.add_argument("--op", required=True, metavar="NAME", help="operation (see `photobot ops`)")
    process.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="operation parameter, repeatable"
    )
    process.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUTPUT",
        help="result file (.jpg, .png or .webp: written in that format; no extension: the result's "
        "own); several results get -1, -2, ... before the extension",
    )
    process.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    process.add_argument("--lang", choices=("en", "ru"), default=None, help="language of error messages")
    process.set_defaults(handler=run_process)

    ops = subparsers.add_parser("ops", help="list the image operations and their parameters")
    ops.add_argument("--json", action="store_true", help="one JSON object per line")
    ops.set_defaults(handler=run_ops)


def parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param expects KEY=VALUE, got {pair!r}")
        params[key.strip()] = value.strip()
    return params


# What `-o` may end with, and the format each means; no extension: the result's own format.
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}


def output_format(output: Path) -> str | None:
    """The format OUTPUT asks for by its extension; None (the result's own) when it has none."""
    if not output.suffix:
        return None
    try:
        return FORMATS[output.suffix.lower()]
    except KeyError:
        raise CliError(
            f"-o {output}: unknown image extension {output.suffix!r}; use .jpg, .png or .webp, "
            "or none for the result's own format"
        ) from None


def output_paths(output: Path, extensions: list[str], numbered: bool = False) -> list[Path]:
    """OUTPUT for one result, OUTPUT-1, OUTPUT-2, ... for an operation of several results. OUTPUT's
    extension, when it has one, is kept (the result is written in that format); without one each
    result gets its own format's."""
    paths = []
    for index, extension in enumerate(extensions, start=1):
        base = output.with_suffix("") if output.suffix else output
        stem = f"{base.name}-{index}" if numbered or len(extensions) > 1 else base.name
        paths.append(base.with_name(stem + (output.suffix or extension)))
    return paths


def encode_as(data: bytes, fmt: str | None, quality: int) -> tuple[bytes, str, tuple[int, int]]:
    """The result's bytes in the asked format (as they are when it is already that format), with
    the format's name and the size in pixels; no metadata is carried over."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        size = image.size
        if fmt is None or image.format == fmt:
            return data, str(image.format), size
        alpha = fmt != "JPEG" and "A" in image.getbands()
        converted = image.convert("RGBA" if alpha else "RGB")
        buffer = io.BytesIO()
        converted.save(buffer, fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
        return buffer.getvalue(), fmt, size


async def run_process(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.processing import ImageProcessor, get_operation

    language = args.lang or settings.default_language
    params = parse_params(args.param)
    wanted = output_format(args.output)
    data = _read_input(args.input, settings.max_image_bytes)
    processor = ImageProcessor.from_settings(settings.model_copy(update={"process_workers": 1}))
    try:
        result = await processor.run(data, args.op, params)
    except JobError as error:
        raise CliError(f"{error.code}: {error_text(error, language)}") from None
    finally:
        await processor.close()
    numbered = get_operation(args.op).multiple
    paths = output_paths(args.output, [image.extension for image in result.images], numbered)
    written = []
    try:
        for path, image in zip(paths, result.images, strict=True):
            data, fmt, (width, height) = encode_as(image.data, wanted, settings.jpeg_quality)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written.append(f"wrote {path} ({fmt}, {width}x{height}, {len(data)} bytes)")
    except OSError as error:
        raise CliError(f"cannot write {error.filename}: {error.strerror}") from None
    if args.json:
        summary = dict(result.summary, files=[str(path) for path in paths])
        print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    else:
        print("\n".join(written))
    return 0


def _read_input(path: Path, max_bytes: int) -> bytes:
    try:
        if path.is_dir():
            raise CliError(f"{path} is a folder, not an image file")
        if path.stat().st_size > max_bytes:  # refuse before reading a huge file into memory
            raise CliError(
                f"too_large: {path} is {path.stat().st_size / 1048576:.1f} MB; "
                f"the limit (MAX_IMAGE_BYTES) is {max_bytes / 1048576:.1f} MB"
            )
        return path.read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


def run_ops(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.processing import list_operations
    from photobot.processing.describe import param_specs, params_line

    for operation in list_operations():
        params = param_specs(operation)
        if args.json:
            line = {"name": operation.name, "titles": operation.titles, "faces": operation.is_faces,
                    "params": params, "aliases": list(operation.aliases)}
            print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            continue
        shown = params_line(operation) or "no parameters"
        titles = " / ".join(operation.titles.values())
        sys.stdout.write(f"{operation.name:<13} {titles}: {shown}\n")
    return 0
