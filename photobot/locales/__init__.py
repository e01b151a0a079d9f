"""photobot's message catalog: every text a person reads, in every language, as gettext catalogs.

The texts live in `<language>/LC_MESSAGES/photobot.po` beside this file, in the layout and workflow
of aiogram's i18n (Babel's `pybabel` extracts, updates and compiles them: `make messages`); the
`.mo` files compiled from them are committed and read here with the standard library's `gettext`,
so the running bot needs no Babel. A language is the set of catalogs found: adding one is adding
its `.po` (and the `.mo` that `make messages` compiles), nothing else.

msgids are stable keys (`queued`, `error.too_large`, `operation.sepia`), not English sentences as
in aiogram's examples: most texts are chosen by data rather than written where they are shown (an
error's code stored with a job in Redis, a job's status, an operation's name), and a stored code
must keep its meaning after the English wording changes. English is therefore a catalog like
Russian, and its `.po` is the reference the others are updated from. Every msgstr is a
`str.format` template; the fields of one message are the same in every language (a test checks).

Errors carry a code and parameters, never text; `error_text` renders one where it is shown (the
chat, the HTTP API, the CLI), in the reader's language.
"""

from __future__ import annotations

import functools
import gettext
import string
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any, Protocol

DOMAIN = "photobot"
FALLBACK = "en"
ERROR_PREFIX = "error."


class _Blank(dict[str, Any]):
    """A missing parameter stays visible as `{name}` instead of failing the whole message."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class ShownError(Protocol):
    """What `error_text` needs of an error: a live exception or a job's stored error."""

    @property
    def code(self) -> str: ...

    @property
    def params(self) -> Mapping[str, Any]: ...


class Catalog:
    """The compiled catalogs of every language found, looked up by key."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations]) -> None:
        if FALLBACK not in translations:
            raise ValueError(f"no {FALLBACK} catalog: it is the one every other language falls back to")
        self._translations = dict(translations)
        others = sorted(language for language in translations if language != FALLBACK)
        self.languages: tuple[str, ...] = (FALLBACK, *others)

    @classmethod
    def load(cls, directory: Traversable | None = None) -> Catalog:
        """Every `<language>/LC_MESSAGES/photobot.mo` below `directory` (this package's by default)."""
        root = directory if directory is not None else files(__name__)
        translations: dict[str, gettext.NullTranslations] = {}
        for entry in root.iterdir():
            compiled = entry / "LC_MESSAGES" / f"{DOMAIN}.mo"
            if entry.is_dir() and compiled.is_file():
                with compiled.open("rb") as data:
                    translations[entry.name] = gettext.GNUTranslations(data)
        return cls(translations)

    def template(self, key: str, language: str) -> str:
        """The msgstr of `key` in `language`, else in English; KeyError when no catalog has it."""
        for candidate in (language, FALLBACK):
            translations = self._translations.get(candidate)
            if translations is not None and (found := translations.gettext(key)) != key:
                return found
        raise KeyError(key)

    def has(self, key: str, language: str = FALLBACK) -> bool:
        translations = self._translations.get(language)
        return translations is not None and translations.gettext(key) != key

    def text(self, key: str, language: str, **params: Any) -> str:
        """The message `key` in `language`, its fields filled from `params`.

        A parameter that is itself a message (`{"key": ..., **its params}`) is rendered first, in the
        same language; a float is written with the language's decimal point.
        """
        template = self.template(key, language)
        if not params:
            return template
        values = {name: self._value(value, language) for name, value in params.items()}
        return template.format_map(_Blank(values))

    def _value(self, value: Any, language: str) -> Any:
        if isinstance(value, Mapping) and isinstance(value.get("key"), str):
            nested = {name: item for name, item in value.items() if name != "key"}
            return self.text(value["key"], language, **nested)
        if isinstance(value, float):
            return str(value).replace(".", self.template("format.decimal_point", language))
        return value

    def pick(self, language_code: str | None, default: str = FALLBACK) -> str:
        """One of `languages` for a platform's code (`ru`, `ru-RU`, `en_GB`, `RU`, None, '')."""
        if language_code:
            base = language_code.split("-")[0].split("_")[0].strip().lower()
            return base if base in self._translations else FALLBACK
        return default if default in self._translations else FALLBACK

    def error_text(self, error: ShownError, language: str) -> str:
        """An error shown to a person: its code's message, or the generic one for a code the
        catalog does not know (never the error's internal detail)."""
        key = ERROR_PREFIX + error.code
        if not self.has(key, FALLBACK):
            key = ERROR_PREFIX + "internal"
        return self.text(key, language, **dict(error.params))


def fields(template: str) -> set[str]:
    """The names of a template's `str.format` fields."""
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


@functools.cache
def catalog() -> Catalog:
    """The catalogs shipped with photobot, read once on first use (package data, never written)."""
    return Catalog.load()


def error_text(error: ShownError, language: str) -> str:
    """`error` in `language` from the shipped catalogs; a job's stored error of an older photobot,
    which kept its text rather than its parameters, is shown as it was stored."""
    stored = getattr(error, "message", None)
    if isinstance(stored, str) and stored and not error.params:
        return stored
    return catalog().error_text(error, language)
