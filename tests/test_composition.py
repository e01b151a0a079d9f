"""The composition root: the HTTP app's builder imports no part of the root (no import cycle), the
root builds each mode's parts with the builders the tests use, and those builders keep the settings
they are given (the FSM's TTL)."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey

from photobot import app, builders
from photobot.config import Settings

PACKAGE = Path(app.__file__).parent


def _imports(path: Path) -> set[str]:
    """photobot modules a file imports, at the top, in functions or only for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("photobot"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("photobot"))
    return found


def _graph() -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {name: _imports(path) & modules.keys() for name, path in modules.items()}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


@pytest.mark.parametrize("module", ["photobot.app_web", "photobot.builders", "photobot.supervisor"])
def test_no_part_imports_the_composition_root(module: str) -> None:
    assert "photobot.app" not in _reachable(_graph(), module) - {"photobot"}


def test_only_the_entry_points_import_the_root() -> None:
    importers = {name for name, imported in _graph().items() if "photobot.app" in imported}
    assert importers <= {"photobot.cli.run_commands", "photobot.cli.queue_commands", "photobot.sandbox.run"}


def test_the_web_app_builder_imports_alone() -> None:
    root = ("photobot.app", "photobot.supervisor")
    code = f"import sys, photobot.app_web; print(sorted(m for m in sys.modules if m in {root}))"
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


async def test_each_mode_builds_its_parts(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    async with app.build(settings, "bot") as parts:
        assert parts.chat is not None and parts.pipeline is None
        assert parts.chats.adapters == {} and parts.chat.dispatcher is None
    async with app.build(settings, "worker") as parts:
        assert parts.chat is None and parts.pipeline is not None


async def test_the_fsm_keeps_a_choice_for_state_ttl(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(state_ttl_seconds=120)
    async with builders.stores(settings) as core:
        fsm = builders.fsm_storage(settings, core.redis)
        key = StorageKey(bot_id=1, chat_id=5, user_id=5, destiny="tg-photo-9")
        await fsm.set_state(key, "choosing")
        await fsm.set_data(key, {"job_id": "j"})
        names = [name async for name in core.redis.scan_iter(f"{settings.key_prefix}:fsm:*")]
        assert len(names) == 2
        for name in names:
            assert 0 < await core.redis.ttl(name) <= 120


# The one-way arrows of the README's "Inside photobot": each part with the parts it must not import.
# The chat core knows no platform; the platforms know neither each other nor the HTTP side; the
# queue, storage and processing know nothing of chats or HTTP; nothing below the root builds parts.
ROOT = {"photobot.app", "photobot.app_web", "photobot.builders", "photobot.supervisor",
        "photobot.cli", "photobot.sandbox"}
CHATS = {"photobot.bot"}
PLATFORMS = {"photobot.bot.telegram", "photobot.bot.vk"}
HTTP = {"photobot.web"}
SERVICES = {"photobot.queue", "photobot.processing", "photobot.gdrive", "photobot.users",
            "photobot.sessions", "photobot.payments", "photobot.retention", "photobot.jobs",
            "photobot.config", "photobot.settings_types", "photobot.logs", "photobot.metrics",
            "photobot.backoff", "photobot.redis_client", "photobot.embedded_redis", "photobot.heap",
            "photobot.locales"}
ARROWS = [
    (SERVICES, ROOT | CHATS | HTTP),
    (CHATS - PLATFORMS, ROOT | PLATFORMS | HTTP),
    ({"photobot.bot.telegram"}, ROOT | HTTP | {"photobot.bot.vk"}),
    ({"photobot.bot.vk"}, ROOT | HTTP | {"photobot.bot.telegram"}),
    (HTTP, ROOT | CHATS),
]


def _within(name: str, parts: set[str]) -> bool:
    return any(name == part or name.startswith(part + ".") for part in parts)


@pytest.mark.parametrize(
    ("parts", "forbidden"), ARROWS, ids=["services", "chat core", "telegram", "vk", "http"]
)
def test_the_parts_point_one_way(parts: set[str], forbidden: set[str]) -> None:
    graph = _graph()
    wrong = sorted(
        f"{name} imports {imported}"
        for name, imports in graph.items()
        if _within(name, parts) and not _within(name, PLATFORMS - parts)
        for imported in imports
        if _within(imported, forbidden)
    )
    assert wrong == []


def test_every_module_belongs_to_a_part() -> None:
    everything = ROOT | CHATS | PLATFORMS | HTTP | SERVICES | {"photobot", "photobot.__main__",
                                                               "photobot.startup", "photobot.settings_doc"}
    assert sorted(name for name in _graph() if not _within(name, everything)) == []


def _readme_section(heading: str) -> str:
    text = (PACKAGE.parent / "README.md").read_text()
    start = text.index(f"\n## {heading}\n")
    return text[start: text.index("\n## ", start + 1)]


def test_the_readme_names_every_folder_of_the_package() -> None:
    layout = _readme_section("Inside photobot").split("```")[1]
    named = {line.split()[0].rstrip("/") for line in layout.splitlines()[2:] if line.strip()}
    folders = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*")
        if path.is_dir() and "__pycache__" not in path.parts and (path / "__init__.py").exists()
    } | {"locales"}
    assert named == folders


def test_every_function_on_a_photos_path_in_the_readme_exists() -> None:
    """The README walks a photo through the code by qualified names; each must still resolve."""
    names = re.findall(r"`((?:bot|queue|processing|gdrive|web)\.[\w.]+)`", _readme_section("Inside photobot"))
    assert len(names) >= 15
    missing = []
    for name in names:
        parts, found = name.split("."), None
        for split in range(len(parts), 0, -1):
            try:
                found = importlib.import_module(".".join(["photobot", *parts[:split]]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[split:]:
                found = getattr(found, attribute, None)
            break
        if found is None:
            missing.append(name)
    assert missing == []
