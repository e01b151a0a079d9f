"""An operation's parameters as people read them: `photobot ops` and the chat's /ops say the same
thing, from the typed parameter models of the registry."""

from __future__ import annotations

from typing import Any, get_args, get_origin

import annotated_types

from photobot.processing.registry import Operation


def param_specs(operation: Operation) -> list[dict[str, Any]]:
    """name, default, description, type ("choice" with its choices, or the value's type) and the
    bounds min/max where the model sets them."""
    specs = []
    for name, info in operation.params_model.model_fields.items():
        spec: dict[str, Any] = {"name": name, "default": info.default, "description": info.description}
        if get_origin(info.annotation) is not None and get_args(info.annotation):
            spec["type"] = "choice"
            spec["choices"] = list(get_args(info.annotation))
        else:
            spec["type"] = getattr(info.annotation, "__name__", str(info.annotation))
        for meta in info.metadata:
            if isinstance(meta, annotated_types.Ge):
                spec["min"] = meta.ge
            if isinstance(meta, annotated_types.Le):
                spec["max"] = meta.le
        specs.append(spec)
    return specs


def param_text(spec: dict[str, Any]) -> str:
    """`radius=4.0 (0.5–50)`, `mode=blur (blur|pixelate)`: the default, then what is allowed."""
    if spec["type"] == "choice":
        allowed = "|".join(str(choice) for choice in spec["choices"])
    elif "min" in spec and "max" in spec:
        allowed = f"{spec['min']}–{spec['max']}"
    else:
        allowed = spec["type"]
    return f"{spec['name']}={spec['default']} ({allowed})"


def params_line(operation: Operation) -> str:
    """Every parameter of the operation on one line; empty when it takes none."""
    return ", ".join(param_text(spec) for spec in param_specs(operation))
