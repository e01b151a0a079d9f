"""The message catalog (photobot/locales): every message in every language with the same fields,
the compiled .mo files fresh, every key the code asks for present, no Russian text anywhere else,
and languages picked from the catalogs found.

Bad input tried: a missing key (KeyError, as a typo in the code should fail loudly), a missing
placeholder parameter (the field stays visible, the rest of the message is shown), unknown and
odd language codes ('xx', '', None, 'ru-RU', 'RU', 'en_GB', a header's 'ru;q=0.9'), a .po whose
translation has a field the English text lacks, or lacks one it has (the checker reports both),
an error code no catalog knows (the generic message), and a language added by one .po file.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog as BabelCatalog
from babel.messages.pofile import write_po

from photobot.bot.i18n import MENU, command_menu, languages, pick_language, status_name, t
from photobot.jobs import CodedError, JobErrorInfo, JobStatus
from photobot.locales import Catalog, catalog, error_text
from photobot.processing import list_operations
from photobot.sandbox.chat import STATIC, render_page
from tests.catalog_support import LOCALES, compiled, po_files, problems, read, texts

PHOTOBOT = LOCALES.parent
CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def test_every_message_has_every_language_with_the_same_fields() -> None:
    found = {language: texts(read(path)) for language, path in po_files().items()}
    assert set(found) >= {"en", "ru"}
    assert problems(found) == []
    assert len(found["en"]) > 150


def test_the_checker_fails_on_a_mismatched_placeholder_and_a_missing_text(tmp_path: Path) -> None:
    """The check above can fail: a translation with a renamed field, a lost field, an extra field,
    a broken template and an untranslated message are each reported."""
    english = {"queued": "Queued, position {position}. Job {job_id}", "hello": "Hi", "done": "Done {x}"}
    russian = {"queued": "В очереди, позиция {place}. Задание {job_id}", "hello": "Привет {name}",
               "done": "Готово {x"}
    reported = problems({"en": english, "ru": russian, "de": {"queued": "", "hello": "Hallo"}})
    assert any(line.startswith("ru: queued: fields ['job_id', 'place']") for line in reported)
    assert any(line.startswith("ru: hello: fields ['name']") for line in reported)
    assert any(line.startswith("ru: done: not a str.format template") for line in reported)
    assert "de: queued: empty" in reported and "de: done: missing" in reported
    # The same through a real .po file, as Babel writes and reads it.
    po = BabelCatalog(locale="ru")
    po.add("queued", "В очереди, позиция {place}. Задание {job_id}")
    path = tmp_path / "photobot.po"
    with path.open("wb") as out:
        write_po(out, po)
    assert problems({"en": {"queued": english["queued"]}, "ru": texts(read(path))}) != []


def test_compiled_catalogs_match_their_sources() -> None:
    """The .mo files are committed; `make messages` compiles them. A .po edited without it fails here."""
    for path in po_files().values():
        mo = path.with_suffix(".mo")
        assert mo.is_file(), f"{mo} is missing: run make messages"
        assert mo.read_bytes() == compiled(read(path)), f"{mo} is stale: run make messages"


def test_no_russian_text_outside_the_catalogs() -> None:
    catalogs = {path.resolve() for path in po_files().values()} | {
        path.with_suffix(".mo").resolve() for path in po_files().values()
    }
    found = []
    for path in sorted(PHOTOBOT.rglob("*")):
        if not path.is_file() or path.resolve() in catalogs or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(PHOTOBOT)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                  if CYRILLIC.search(line)]
    assert found == []


def _literal_keys(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literal_keys(node.body) + _literal_keys(node.orelse)
    return []


def test_every_key_the_code_names_is_in_the_catalog() -> None:
    """`t("key", ...)` calls with a literal key (or a choice of two), every error code, status,
    menu command and operation, and every word of the sandbox page; and no message of those kinds
    that nothing names any more."""
    messages = catalog()
    wanted: set[str] = set()
    for path in PHOTOBOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
                wanted.update(_literal_keys(node.args[0]) if node.args else [])
    assert {"queued", "done", "failed", "user_banned", "user_unbanned"} <= wanted
    wanted |= {f"error.{code}" for code in _error_codes()}
    wanted |= {f"status.{status.value}" for status in JobStatus}
    wanted |= {f"command.{name}" for name in MENU}
    wanted |= {f"operation.{op.name}{part}" for op in list_operations() for part in ("", ".words")}
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    wanted |= set(re.findall(r"\{\{([a-z_]+\.[a-z_.]+)\}\}", page))
    missing = sorted(key for key in wanted if not all(messages.has(key, lang) for lang in languages()))
    assert missing == []
    named = ("error.", "status.", "command.", "operation.", "sandbox.")
    english = texts(read(po_files()["en"]))
    assert sorted(key for key in english if key.startswith(named) and key not in wanted) == []  # stale


def _error_codes() -> set[str]:
    import photobot.bot.adapter
    import photobot.gdrive
    import photobot.gdrive.ledger
    import photobot.processing
    import photobot.queue  # noqa: F401

    codes, todo = set(), [CodedError]
    while todo:
        cls = todo.pop()
        codes.add(cls.code)
        todo.extend(cls.__subclasses__())
    return codes | {"lease_expired"}


@pytest.mark.parametrize(
    ("code", "expected"),
    [("ru", "ru"), ("ru-RU", "ru"), ("RU", "ru"), ("ru_RU", "ru"), ("en", "en"), ("en-GB", "en"),
     ("de", "en"), ("xx", "en"), ("", "en"), (None, "en"), ("-", "en")],
)
def test_pick_language(code: str | None, expected: str) -> None:
    assert pick_language(code) == expected


def test_a_missing_code_uses_the_default_when_it_has_a_catalog() -> None:
    assert pick_language(None, default="ru") == "ru"
    assert pick_language("", default="xx") == "en"


def test_format_fallback_and_bad_input() -> None:
    assert t("queued", "ru", position=3, job_id="j") == "⏳ В очереди, позиция 3. Задание j"
    assert t("queued", "de", position=1, job_id="j").startswith("⏳ Queued")
    assert status_name("failed", "ru") == "ошибка"
    assert status_name("weird", "en") == "weird"
    with pytest.raises(KeyError):
        t("no_such_key", "en")
    assert t("queued", "en", position=2) == "⏳ Queued, position 2. Job {job_id}"  # a param forgotten
    assert [name for name, _ in command_menu("ru")] == list(MENU)
    assert dict(command_menu("ru"))["help"] == "Как пользоваться"


def test_an_error_renders_its_code_and_params_in_the_readers_language() -> None:
    hint = {"key": "hint.number_range", "low": 0.5, "high": 50}
    info = JobErrorInfo(code="bad_params", params={"param": "radius", "operation": "blur", "hint": hint})
    assert error_text(info, "en") == "Invalid parameter “radius” of blur: a number from 0.5 to 50."
    assert error_text(info, "ru") == "Неверный параметр «radius» операции blur: число от 0,5 до 50."
    assert error_text(JobErrorInfo(code="unheard_of"), "ru") == t("error.internal", "ru")


def _language_dir(root: Path, language: str, messages: dict[str, str]) -> None:
    po = BabelCatalog(locale=language)
    for key, text in messages.items():
        po.add(key, text)
    folder = root / language / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "photobot.mo").write_bytes(compiled(po))


def test_adding_a_language_is_adding_its_catalog(tmp_path: Path) -> None:
    """A third catalog beside English: picked for its speakers, named in the sandbox's choice of
    languages, and English where it lacks a message."""
    english = texts(read(po_files()["en"]))
    _language_dir(tmp_path, "en", english)
    _language_dir(tmp_path, "de", {"language.name": "Deutsch", "queued": "In der Warteschlange: {position}"})
    messages = Catalog.load(tmp_path)
    assert messages.languages == ("en", "de")
    assert messages.pick("de-AT") == "de" and messages.pick("ru") == "en"
    assert messages.text("queued", "de", position=4) == "In der Warteschlange: 4"
    assert messages.text("done", "de", operation="Sepia") == "✅ Sepia"
    page = render_page((STATIC / "index.html").read_text(encoding="utf-8"), messages, "de")
    assert '<option value="de" selected>Deutsch</option>' in page and '<html lang="de">' in page
    assert "{{" not in page and english["sandbox.send"] in page


def test_a_catalog_without_english_is_refused(tmp_path: Path) -> None:
    _language_dir(tmp_path, "ru", {"language.name": "Русский"})
    with pytest.raises(ValueError, match="no en catalog"):
        Catalog.load(tmp_path)


def test_the_sandbox_page_is_in_the_browsers_language() -> None:
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    russian = render_page(template, catalog(), "ru")
    assert t("sandbox.send", "ru") in russian and '<option value="ru" selected>Русский</option>' in russian
    assert '<option value="en">English</option>' in russian and "{{" not in russian


def test_every_catalog_fits_the_chat_platforms_limits() -> None:
    """What a translator writes still goes through: a command's description is 1 to 256 characters
    (Bot API, setMyCommands / BotCommand, enforced the same way by the sandbox's Bot API), and no
    message is over the 4,096 characters Telegram (sendMessage) and VK (messages.send, error 914)
    take before its fields are filled."""
    for language in languages():
        menu = command_menu(language)
        assert [name for name, description in menu if not 1 <= len(description) <= 256] == [], language
        assert len(menu) == len(MENU)
    for language, path in po_files().items():
        assert [key for key, text in texts(read(path)).items() if len(text) > 4096] == [], language
