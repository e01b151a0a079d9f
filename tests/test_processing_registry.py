"""The registry, caption parsing, parameter validation, and the errors' codes, languages and pickling.

Bad inputs covered: unknown operation names (also non-strings), unknown parameters, out-of-range and
non-numeric values, a parameter given to an operation that takes none, captions that are not
commands ("my cat", "blur please"), empty captions.
"""

from __future__ import annotations

import pickle

import pytest

from photobot.jobs import PermanentJobError
from photobot.locales import error_text
from photobot.processing import (
    BadParams,
    CorruptImage,
    NoFaces,
    ProcessingError,
    ProcessingTimeout,
    TooLarge,
    UnknownOperation,
    UnsupportedFormat,
    WorkerCrashed,
    get_operation,
    list_operations,
    parse_operation,
    validate_params,
)

NAMES = [
    "grayscale",
    "sepia",
    "blur",
    "sharpen",
    "contour",
    "emboss",
    "invert",
    "posterize",
    "pixelate",
    "enhance",
    "resize",
    "faces_detect",
    "faces_crop",
    "faces_blur",
]


def test_registry_lists_every_operation_with_titles_and_aliases() -> None:
    operations = list_operations()
    assert [op.name for op in operations] == NAMES
    for op in operations:
        assert op.titles["en"] and op.titles["ru"] and op.title("ru") == op.titles["ru"]
        assert op.name in op.aliases
        assert op.is_faces == op.name.startswith("faces_")
        assert get_operation(op.name) is op


@pytest.mark.parametrize("name", ["nope", "", "SEPIA", None, 42])
def test_unknown_operation(name: object) -> None:
    with pytest.raises(UnknownOperation) as caught:
        get_operation(name)  # type: ignore[arg-type]
    assert caught.value.code == "unknown_operation"
    assert "Неизвестная операция" in error_text(caught.value, "ru")


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("sepia", ("sepia", {})),
        ("Сепия", ("sepia", {})),
        ("  SEPIA!  ", ("sepia", {})),
        ("/sepia@photobot_bot", ("sepia", {})),
        ("blur 5", ("blur", {"radius": 5.0})),
        ("blur radius=5", ("blur", {"radius": 5.0})),
        ("размыть 2,5", ("blur", {"radius": 2.5})),
        ("faces_blur", ("faces_blur", {})),
        ("blur faces", ("faces_blur", {})),
        ("размыть лица", ("faces_blur", {})),
        ("размыть лица pixelate", ("faces_blur", {"mode": "pixelate"})),
        ("ЧБ", ("grayscale", {})),
        ("чёрно-белое", ("grayscale", {})),
        ("лица", ("faces_detect", {})),
        ("найти лица", ("faces_detect", {})),
        ("вырезать лица", ("faces_crop", {})),
        ("resize 800", ("resize", {"max_side": 800})),
        ("resize max_side=800 mode=exact", ("resize", {"max_side": 800, "mode": "exact"})),
        ("pixelate block=8", ("pixelate", {"block": 8})),
        ("posterize 2", ("posterize", {"bits": 2})),
        ("Улучшить", ("enhance", {})),
    ],
)
def test_parse_operation(caption: str, expected: tuple[str, dict[str, object]]) -> None:
    assert parse_operation(caption) == expected


@pytest.mark.parametrize("caption", ["", "   ", "my cat", "blur please", "sepia for mom", "hello sepia"])
def test_captions_that_name_no_operation(caption: str) -> None:
    assert parse_operation(caption) is None


@pytest.mark.parametrize(
    ("caption", "param", "hint_en", "hint_ru"),
    [
        ("blur 500", "radius", "a number from 0.5 to 50", "число от 0,5 до 50"),
        ("blur radius=abc", "radius", "a number from 0.5 to 50", "число от 0,5 до 50"),
        ("posterize 9", "bits", "a whole number from 1 to 7", "целое число от 1 до 7"),
        ("pixelate size=3", "size", "unknown parameter; known: block", "неизвестный параметр; есть: block"),
        (
            "sepia strength=2",
            "strength",
            "this operation takes no parameters",
            "у этой операции нет параметров",
        ),
        ("faces_blur mode=smudge", "mode", "one of: blur, pixelate", "одно из: blur, pixelate"),
    ],
)
def test_bad_params_in_a_caption_are_explained(caption: str, param: str, hint_en: str, hint_ru: str) -> None:
    with pytest.raises(BadParams) as caught:
        parse_operation(caption)
    error = caught.value
    assert error.code == "bad_params"
    assert f"“{param}”" in error_text(error, "en") and hint_en in error_text(error, "en")
    assert f"«{param}»" in error_text(error, "ru") and hint_ru in error_text(error, "ru")


def test_validate_params_coerces_text_values() -> None:
    params = validate_params(get_operation("sharpen"), {"amount": "2", "radius": "1.5"})
    assert params.model_dump() == {"amount": 2.0, "radius": 1.5}


@pytest.mark.parametrize(
    "error",
    [
        UnsupportedFormat(),
        TooLarge(what="9000×9000 px", limit="50 MP"),
        CorruptImage("truncated"),
        NoFaces(),
        UnknownOperation(operation="x"),
        ProcessingTimeout("over 60 s"),
        WorkerCrashed(),
        BadParams("x", param="radius", operation="blur", hint={
            "key": "hint.number_range", "low": 0.5, "high": 50}),
    ],
)
def test_errors_are_typed_localized_and_cross_processes(error: ProcessingError) -> None:
    assert isinstance(error, ProcessingError) and isinstance(error, PermanentJobError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and copy.code == error.code and copy.detail == error.detail
    for language in ("en", "ru"):
        assert error_text(copy, language) == error_text(error, language)
        assert "{" not in error_text(error, language)
    assert error_text(error, "en") != error_text(error, "ru")
    assert error.transient == (error.code in ("timeout", "worker_crashed"))


def test_error_codes() -> None:
    codes = {
        cls.code
        for cls in (
            UnsupportedFormat,
            TooLarge,
            CorruptImage,
            NoFaces,
            BadParams,
            UnknownOperation,
            ProcessingTimeout,
        )
    }
    assert codes == {
        "unsupported_format",
        "too_large",
        "corrupt",
        "no_faces",
        "bad_params",
        "unknown_operation",
        "timeout",
    }
