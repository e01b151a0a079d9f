"""The registry of operations: names, display titles in en and ru, caption words, typed parameters.

The chat side builds its keyboard from `list_operations()` and reads captions with
`parse_operation()`; the worker runs a job's operation by name. Parameters are validated here, and a
bad one becomes BadParams with a hint in both languages ("a number from 0.5 to 50").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

import annotated_types
import numpy as np
from pydantic import BaseModel, ValidationError

from photobot.processing import face_ops, filters
from photobot.processing.errors import BadParams, UnknownOperation
from photobot.processing.limits import Limits

Apply = Callable[[np.ndarray, Any, Limits], tuple[list[np.ndarray], int | None]]


@dataclass(frozen=True)
class Operation:
    """One registry entry. `apply` takes pixels already reduced to the result's size."""

    name: str
    titles: dict[str, str]
    params_model: type[BaseModel]
    is_faces: bool
    aliases: tuple[str, ...]
    apply: Apply = field(repr=False, compare=False)
    positional: str | None = None  # the parameter a bare value in a caption sets: "blur 5"
    multiple: bool = False  # may return several images (faces_crop)

    def title(self, language: str = "en") -> str:
        return self.titles.get(language) or self.titles["en"]

    def output_side(self, params: BaseModel, limits: Limits) -> int:
        """Longest side the operation works at; decoding reduces to it when the format allows.

        The result is that size or smaller. Face operations look for faces on more pixels than a
        chat photo has (face_ops.DETECT_SIDE), so that a small face in a large photo is found;
        their results are reduced to the result's size when encoded.
        """
        if isinstance(params, filters.ResizeParams):
            return min(params.max_side, limits.result_max_side)
        if self.is_faces:
            return max(limits.result_max_side, face_ops.DETECT_SIDE)
        return limits.result_max_side


def _plain(function: Callable[[np.ndarray, Any], np.ndarray]) -> Apply:
    def apply(pixels: np.ndarray, params: Any, limits: Limits) -> tuple[list[np.ndarray], int | None]:
        return [function(pixels, params)], None

    return apply


def _resize(
    pixels: np.ndarray, params: filters.ResizeParams, limits: Limits
) -> tuple[list[np.ndarray], None]:
    return [filters.resize(pixels, params, limits.result_max_side)], None


def _op(  # noqa: PLR0917
    name: str, en: str, ru: str, model: type[BaseModel], apply: Apply, aliases: str,
    positional: str | None = None, is_faces: bool = False,
) -> Operation:
    words = tuple(dict.fromkeys([name, en.lower(), ru.lower(), *aliases.split(",")]))
    return Operation(
        name, {"en": en, "ru": ru}, model, is_faces, words, apply, positional, multiple=name == "faces_crop"
    )


_OPERATIONS: tuple[Operation, ...] = (
    _op("grayscale", "Black and white", "Чёрно-белое", filters.NoParams, _plain(filters.grayscale),
        "greyscale,gray,grey,bw,b&w,black & white,чб,ч/б,серый,оттенки серого,черно белое"),
    _op("sepia", "Sepia", "Сепия", filters.NoParams, _plain(filters.sepia), "vintage,винтаж,старое фото"),
    _op("blur", "Blur", "Размытие", filters.BlurParams, _plain(filters.blur),
        "размыть,размой,gaussian blur", positional="radius"),
    _op("sharpen", "Sharpen", "Резкость", filters.SharpenParams, _plain(filters.sharpen),
        "sharp,sharper,резче,повысить резкость", positional="amount"),
    _op("contour", "Contour", "Контуры", filters.NoParams, _plain(filters.contour),
        "contours,outline,edges,контур,края"),
    _op("emboss", "Emboss", "Тиснение", filters.NoParams, _plain(filters.emboss), "relief,рельеф"),
    _op("invert", "Negative", "Негатив", filters.NoParams, _plain(filters.invert),
        "inverse,инверсия,инвертировать"),
    _op("posterize", "Posterize", "Постеризация", filters.PosterizeParams, _plain(filters.posterize),
        "posterise,poster,постер", positional="bits"),
    _op("pixelate", "Pixelate", "Пикселизация", filters.PixelateParams, _plain(filters.pixelate),
        "pixel,pixels,mosaic,пиксели,мозаика,пикселизовать", positional="block"),
    _op("enhance", "Enhance", "Улучшить", filters.EnhanceParams, _plain(filters.enhance),
        "restore,auto,improve,улучшение,восстановить,реставрация", positional="strength"),
    _op("resize", "Resize", "Размер", filters.ResizeParams, _resize,
        "scale,shrink,уменьшить,изменить размер,масштаб", positional="max_side"),
    _op("faces_detect", "Find faces", "Найти лица", face_ops.FacesDetectParams, face_ops.faces_detect,
        "faces,detect faces,faces detect,лица,найди лица,поиск лиц", is_faces=True),
    _op("faces_crop", "Crop faces", "Вырезать лица", face_ops.FacesCropParams, face_ops.faces_crop,
        "faces crop,cut faces,вырежи лица,обрезать лица", positional="padding", is_faces=True),
    _op("faces_blur", "Blur faces", "Размыть лица", face_ops.FacesBlurParams, face_ops.faces_blur,
        "faces blur,hide faces,размой лица,скрыть лица,спрятать лица", positional="mode", is_faces=True),
)
_BY_NAME = {operation.name: operation for operation in _OPERATIONS}


def list_operations() -> list[Operation]:
    """Every operation, in the order a keyboard shows them."""
    return list(_OPERATIONS)


def get_operation(name: str) -> Operation:
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise UnknownOperation(operation=str(name)[:64]) from None


def validate_params(operation: Operation, params: Mapping[str, Any]) -> BaseModel:
    """The typed parameters of `operation`, or BadParams naming the first bad one in en and ru."""
    try:
        return operation.params_model.model_validate(dict(params))
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        hint_en, hint_ru = _hint(operation, name, first["type"])
        raise BadParams(
            f"{operation.name}.{name}: {first['msg']}",
            param=name[:40], operation=operation.name, hint_en=hint_en, hint_ru=hint_ru,
        ) from None


def _hint(operation: Operation, name: str, error_type: str) -> tuple[str, str]:
    fields = operation.params_model.model_fields
    if error_type == "extra_forbidden" or name not in fields:
        if not fields:
            return "this operation takes no parameters", "у этой операции нет параметров"
        known = ", ".join(fields)
        return f"unknown parameter; known: {known}", f"неизвестный параметр; есть: {known}"
    info = fields[name]
    if get_origin(info.annotation) is Literal:
        choices = ", ".join(str(choice) for choice in get_args(info.annotation))
        return f"one of: {choices}", f"одно из: {choices}"
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    kind_en, kind_ru = ("a whole number", "целое число") if info.annotation is int else ("a number", "число")
    if low is not None and high is not None:
        return f"{kind_en} from {low} to {high}", f"{kind_ru} от {_ru(low)} до {_ru(high)}"
    return kind_en, kind_ru


def _ru(value: object) -> str:
    return str(value).replace(".", ",")


_EDGE_PUNCTUATION = ".,!?;:«»\"'()[]"
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def _words(token: str) -> list[str]:
    cleaned = token.lower().replace("ё", "е").strip(_EDGE_PUNCTUATION)
    return [piece for piece in re.split(r"[_\-]+", cleaned) if piece]


def _alias_table() -> list[tuple[tuple[str, ...], Operation]]:
    table = []
    for operation in _OPERATIONS:
        for alias in operation.aliases:
            words = tuple(word for token in alias.split() for word in _words(token))
            if words:
                table.append((words, operation))
    return sorted(table, key=lambda item: len(item[0]), reverse=True)


def parse_operation(text: str) -> tuple[str, dict[str, Any]] | None:
    """Read a caption such as "sepia", "Сепия", "blur 5", "blur radius=5", "размыть лица".

    Returns (name, params) with the params validated, or None when the caption is not an operation
    followed only by parameters (so "my cat in sepia" is left to the keyboard). A caption that names
    an operation with a bad value ("blur 500") raises BadParams, so the sender learns why.
    """
    raw = text.split()
    if not raw:
        return None
    if raw[0].startswith("/"):
        raw[0] = raw[0][1:].split("@", 1)[0]
    words: list[str] = []
    ends: list[int | None] = []
    for index, token in enumerate(raw):
        pieces = _words(token)
        for position, piece in enumerate(pieces):
            words.append(piece)
            ends.append(index + 1 if position == len(pieces) - 1 else None)
    for alias, operation in _alias_table():
        count = len(alias)
        if tuple(words[:count]) == alias and ends[count - 1] is not None:
            params = _caption_params(operation, raw[ends[count - 1] or 0 :])
            if params is None:
                return None
            validated = validate_params(operation, params)
            return operation.name, validated.model_dump(include=set(params))
    return None


def _caption_params(operation: Operation, tokens: list[str]) -> dict[str, Any] | None:
    params: dict[str, Any] = {}
    for token in tokens:
        item = token.strip(_EDGE_PUNCTUATION.replace("'", "").replace('"', ""))
        if not item:
            continue
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value.strip().replace(",", ".")
        elif operation.positional and operation.positional not in params and _is_value(operation, item):
            params[operation.positional] = item.lower().replace(",", ".")
        else:
            return None
    return params


def _is_value(operation: Operation, token: str) -> bool:
    if _NUMBER.match(token):
        return True
    assert operation.positional is not None
    annotation = operation.params_model.model_fields[operation.positional].annotation
    return get_origin(annotation) is Literal and token.lower() in get_args(annotation)
