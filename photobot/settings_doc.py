"""The configuration table of docs/configuration.md, generated from Settings so the two never drift.

`python -m photobot.settings_doc` prints the table; `--write docs/configuration.md` replaces the block
between the markers; `--env-example .env.example` writes the example environment file. Tests fail when
either differs from what this module generates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from photobot.config import Settings

START = "<!-- settings-table:start -->"
END = "<!-- settings-table:end -->"


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return "`" + ",".join(f"{k}={'unlimited' if v is None else v}" for k, v in value.items()) + "`"
    if isinstance(value, list):
        return "`" + ",".join(str(v) for v in value) + "`" if value else "empty"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def _description(field: FieldInfo) -> str:
    """A field's docstring as one line."""
    return " ".join((field.description or "").split())


def settings_table() -> str:
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = _description(field).replace("|", "\\|")
        rows.append(f"| `{name.upper()}` | {_default(field)} | {description} |")
    return "\n".join(rows)


def env_example() -> str:
    """`.env.example`: every variable, commented out at its default, with its meaning."""
    lines = [
        "# photobot configuration: copy to .env and set at least BOT_TOKEN.",
        "# Generated from photobot/config.py:",
        "#   python -m photobot.settings_doc --env-example .env.example",
        "",
    ]
    for name, field in Settings.model_fields.items():
        default = _default(field).strip("`")
        value = "" if default in ("unset", "empty", "(required)") else default
        lines.append(f"# {_description(field)}")
        lines.append(f"{'' if name == 'bot_token' else '# '}{name.upper()}={value}")
    return "\n".join(lines) + "\n"


def replace_block(text: str, table: str) -> str:
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"markers {START} / {END} not found")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="replace the table in this Markdown file")
    parser.add_argument("--env-example", type=Path, help="write an .env.example to this path")
    args = parser.parse_args(argv)
    table = settings_table()
    if args.env_example:
        args.env_example.write_text(env_example(), encoding="utf-8")
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(encoding="utf-8"), table), encoding="utf-8")
    if not args.write and not args.env_example:
        sys.stdout.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
