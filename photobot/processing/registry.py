"""The registry of operations: names, typed parameters, and how a caption names one.

The chat side builds its keyboard from `list_operations()` and reads captions with
`parse_operation()`; the worker runs a job's operation by name. Parameters are validated here, and a
bad one becomes BadParams whose hint is a message of the catalog ("a number from 0.5 to 50").
An operation's titles and the words a caption may name it by are the catalog's too
(`operation.<name>`, `operation.<name>.words`), in every language it has, so a caption in any
language names the operation whatever the sender's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

import annotated_types
import numpy as np
from pydantic import BaseModel, ValidationError

from photobot.locales import catalog
from photobot.processing import face_ops, filters
from photobot.processing.errors import BadParams, UnknownOperation
from photobot.processing.limits import Limits

Apply = Callable[[np.ndarray, Any, Limits], tuple[list[np.ndarray], int | None]]


@dataclass(frozen=True)
class Operation:
    """One registry entry. `apply` takes pixels already reduced to the result's size."""

    name: str
    params_model: type[BaseModel]
    is_faces: bool
    apply: Apply = field(repr=False, compare=False)
    positional: str | None = None  # the parameter a bare value in a caption sets: "blur 5"
    multiple: bool = False  # may return several images (faces_crop)

    def title(self, language: str = "en") -> str:
        return catalog().text(f"operation.{self.name}", language)

    @property
    def titles(self) -> dict[str, str]:
        """The title in every language of the catalog."""
        return {language: self.title(language) for language in catalog().languages}

    @property
    def aliases(self) -> tuple[str, ...]:
        """What a caption may name it by: its name, then each language's title and words."""
        messages = catalog()
        words = [self.name]
        for language in messages.languages:
            words.append(self.title(language).lower())
            listed = messages.text(f"operation.{self.name}.words", language)
            words.extend(word.strip() for word in listed.split(",") if word.strip())
        return tuple(dict.fromkeys(words))

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


def _op(
    name: str, model: type[BaseModel], apply: Apply, positional: str | None = None, is_faces: bool = False
) -> Operation:
    return Operation(name, model, is_faces, apply, positional, multiple=name == "faces_crop")


_OPERATIONS: tuple[Operation, ...] = (
    _op("grayscale", filters.NoParams, _plain(filters.grayscale)),
    _op("sepia", filters.NoParams, _plain(filters.sepia)),
    _op("blur", filters.BlurParams, _plain(filters.blur), positional="radius"),
    _op("sharpen", filters.SharpenParams, _plain(filters.sharpen), positional="amount"),
    _op("contour", filters.NoParams, _plain(filters.contour)),
    _op("emboss", filters.NoParams, _plain(filters.emboss)),
    _op("invert", filters.NoParams, _plain(filters.invert)),
    _op("posterize", filters.PosterizeParams, _plain(filters.posterize), positional="bits"),
    _op("pixelate", filters.PixelateParams, _plain(filters.pixelate), positional="block"),
    _op("enhance", filters.EnhanceParams, _plain(filters.enhance), positional="strength"),
    _op("resize", filters.ResizeParams, _resize, positional="max_side"),
    _op("faces_detect", face_ops.FacesDetectParams, face_ops.faces_detect, is_faces=True),
    _op("faces_crop", face_ops.FacesCropParams, face_ops.faces_crop, positional="padding", is_faces=True),
    _op("faces_blur", face_ops.FacesBlurParams, face_ops.faces_blur, positional="mode", is_faces=True),
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
    """The typed parameters of `operation`, or BadParams naming the first bad one with a hint."""
    try:
        return operation.params_model.model_validate(dict(params))
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "?"
        raise BadParams(
            f"{operation.name}.{name}: {first['msg']}",
            param=name[:40], operation=operation.name, hint=_hint(operation, name, first["type"]),
        ) from None


def _hint(operation: Operation, name: str, error_type: str) -> dict[str, Any]:
    """What the parameter takes, as a message of the catalog with its parameters."""
    fields = operation.params_model.model_fields
    if error_type == "extra_forbidden" or name not in fields:
        if not fields:
            return {"key": "hint.no_params"}
        return {"key": "hint.unknown_param", "known": ", ".join(fields)}
    info = fields[name]
    if get_origin(info.annotation) is Literal:
        choices = ", ".join(str(choice) for choice in get_args(info.annotation))
        return {"key": "hint.one_of", "choices": choices}
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    kind = "hint.whole_number" if info.annotation is int else "hint.number"
    if low is not None and high is not None:
        return {"key": f"{kind}_range", "low": low, "high": high}
    return {"key": kind}


_EDGE_PUNCTUATION = ".,!?;:«»\"'()[]"
_NUMBER = re.compile(r"^[+-]?\d+([.,]\d+)?$")


def _words(token: str) -> list[str]:
    cleaned = _folded(token.lower()).strip(_EDGE_PUNCTUATION)
    return [piece for piece in re.split(r"[_\-]+", cleaned) if piece]


def _folded(text: str) -> str:
    """Without diacritics, so a caption matches however its letters were accented (e with or
    without a diaeresis); aliases are folded the same way."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _alias_table() -> list[tuple[tuple[str, ...], Operation]]:
    table = []
    for operation in _OPERATIONS:
        for alias in operation.aliases:
            words = tuple(word for token in alias.split() for word in _words(token))
            if words:
                table.append((words, operation))
    return sorted(table, key=lambda item: len(item[0]), reverse=True)


def parse_operation(text: str) -> tuple[str, dict[str, Any]] | None:
    """Read a caption such as "sepia", "blur 5", "blur radius=5", "blur faces", or the same in any
    language of the catalog.

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
