"""`photobot process` (one operation on one file, the way the worker runs it) and `photobot ops`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, get_args, get_origin

import annotated_types

from photobot.cli import CliError
from photobot.config import Settings
from photobot.jobs import JobError


def register(subparsers: Any) -> None:
    process = subparsers.add_parser("process", help="apply one operation to an image file")
    process.add_argument("input", metavar="INPUT", type=Path, help="image file")
    process.add_argument("--op", required=True, metavar="NAME", help="operation (see `photobot ops`)")
    process.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="operation parameter, repeatable"
    )
    process.add_argument(
        "-o", "--output", required=True, type=Path, metavar="OUTPUT",
        help="result file; several results get -1, -2, ... before the extension",
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


def output_paths(output: Path, extensions: list[str], numbered: bool = False) -> list[Path]:
    """OUTPUT for one result, OUTPUT-1, OUTPUT-2, ... for an operation of several results; the suffix
    follows each result's real format (a JPEG asked for as out.png is written as out.jpg, and said so
    in the JSON summary's "files")."""
    paths = []
    for index, extension in enumerate(extensions, start=1):
        suffix = output.suffix.lower()
        keep = suffix == extension or (extension == ".jpg" and suffix == ".jpeg")
        base = output.with_suffix("") if output.suffix else output
        stem = f"{base.name}-{index}" if numbered or len(extensions) > 1 else base.name
        paths.append(base.with_name(stem + (output.suffix if keep else extension)))
    return paths


async def run_process(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.processing import ImageProcessor, get_operation

    language = args.lang or settings.default_language
    params = parse_params(args.param)
    data = _read_input(args.input, settings.max_image_bytes)
    processor = ImageProcessor.from_settings(settings.model_copy(update={"process_workers": 1}))
    try:
        result = await processor.run(data, args.op, params)
    except JobError as error:
        raise CliError(f"{error.code}: {error.user_message(language)}") from None
    finally:
        await processor.close()
    numbered = get_operation(args.op).multiple
    paths = output_paths(args.output, [image.extension for image in result.images], numbered)
    try:
        for path, image in zip(paths, result.images, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(image.data)
    except OSError as error:
        raise CliError(f"cannot write {error.filename}: {error.strerror}") from None
    if args.json:
        summary = dict(result.summary, files=[str(path) for path in paths])
        print(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
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


def describe_param(name: str, info: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "default": info.default, "description": info.description}
    if get_origin(info.annotation) is not None and get_args(info.annotation):
        entry["type"] = "choice"
        entry["choices"] = list(get_args(info.annotation))
    else:
        entry["type"] = getattr(info.annotation, "__name__", str(info.annotation))
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            entry["min"] = meta.ge
        if isinstance(meta, annotated_types.Le):
            entry["max"] = meta.le
    return entry


def run_ops(args: argparse.Namespace, settings: Settings) -> int:
    from photobot.processing import list_operations

    for operation in list_operations():
        params = [describe_param(name, info) for name, info in operation.params_model.model_fields.items()]
        if args.json:
            line = {"name": operation.name, "titles": operation.titles, "faces": operation.is_faces,
                    "params": params, "aliases": list(operation.aliases)}
            print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
            continue
        shown = ", ".join(_param_text(param) for param in params) or "no parameters"
        titles = f"{operation.titles['en']} / {operation.titles['ru']}"
        sys.stdout.write(f"{operation.name:<13} {titles}: {shown}\n")
    return 0


def _param_text(param: dict[str, Any]) -> str:
    if param["type"] == "choice":
        span = "|".join(str(choice) for choice in param["choices"])
    elif "min" in param and "max" in param:
        span = f"{param['type']} {param['min']}..{param['max']}"
    else:
        span = param["type"]
    return f"{param['name']}={param['default']} ({span})"
