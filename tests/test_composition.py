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

from photobot import app, builders
from photobot.bot.state import PendingChoices, PendingPhoto
from photobot.config import Settings
from photobot.jobs import Platform

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


NO_AIOGRAM = """
import asyncio, sys
from photobot import app, app_web, supervisor
from photobot.bot.vk import handlers, polling, setup
from photobot.config import Settings

async def main() -> None:
    settings = Settings.model_validate_json(sys.argv[1])
    for mode in ("bot", "worker"):
        async with app.build(settings, mode) as parts:
            app_web.create_web_app(parts)

asyncio.run(main())
print(sorted(name for name in sys.modules if name.split(".")[0] == "aiogram"))
"""


def test_a_process_without_telegram_never_imports_aiogram(make_settings: Callable[..., Settings]) -> None:
    """aiogram takes seconds to import (pydantic builds its 600-odd models at import): a VK-only
    process, or a worker without BOT_TOKEN, builds and serves without it."""
    settings = make_settings()
    done = subprocess.run(
        [sys.executable, "-c", NO_AIOGRAM, settings.model_dump_json()],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


async def test_each_mode_builds_its_parts(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    async with app.build(settings, "bot") as parts:
        assert parts.chat is not None and parts.pipeline is None
        assert parts.chats.adapters == {} and parts.chat.dispatcher is None
    async with app.build(settings, "worker") as parts:
        assert parts.chat is None and parts.pipeline is not None


async def test_a_waiting_photo_is_kept_for_state_ttl(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(state_ttl_seconds=120)
    async with builders.stores(settings) as core:
        ttl = settings.state_ttl_seconds
        choices = PendingChoices(core.redis, settings.key_prefix, ttl, {Platform.TELEGRAM: 1})
        pending = PendingPhoto(job_id="j", photo_id="p", message_id=3, user_key="tg:5")
        await choices.save(Platform.TELEGRAM, 5, "5", 9, pending)
        assert await choices.load(Platform.TELEGRAM, 5, "5", 9) == pending
        assert await choices.load(Platform.TELEGRAM, 5, "5", 10) is None
        [name] = [name async for name in core.redis.scan_iter(f"{settings.key_prefix}:fsm:*")]
        assert 0 < await core.redis.ttl(name) <= 120


async def test_a_photo_kept_by_aiogram_fsm_storage_is_still_found(
    make_settings: Callable[..., Settings],
) -> None:
    """A photo that waited for its choice across an upgrade: its record was written by aiogram's
    FSM RedisStorage, as photobot kept it before."""
    from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
    from aiogram.fsm.storage.redis import RedisStorage

    settings = make_settings()
    async with builders.stores(settings) as core:
        keys = DefaultKeyBuilder(prefix=f"{settings.key_prefix}:fsm", with_bot_id=True, with_destiny=True)
        before = RedisStorage(core.redis, key_builder=keys, data_ttl=settings.state_ttl_seconds)
        pending = PendingPhoto(job_id="j", photo_id="p", message_id=3, user_key="vk:7", as_document=True)
        key = StorageKey(bot_id=42, chat_id=2000000001, user_id=7, destiny="vk-photo-11")
        await before.set_data(key, pending.model_dump(mode="json"))
        choices = PendingChoices(core.redis, settings.key_prefix, 60, {Platform.VK: 42})
        assert await choices.load(Platform.VK, 2000000001, "7", 11) == pending


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
