"""Reading and checking the message catalogs' sources (photobot/locales/*/LC_MESSAGES/photobot.po)
with Babel, which only the tests and `make messages` have: the bot reads the compiled .mo files."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from babel.messages.catalog import Catalog as BabelCatalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from photobot.locales import FALLBACK, fields

LOCALES = Path(__file__).resolve().parent.parent / "photobot" / "locales"


def po_files(root: Path = LOCALES) -> dict[str, Path]:
    """Each language's .po, by language code."""
    return {path.parent.parent.name: path for path in sorted(root.glob("*/LC_MESSAGES/photobot.po"))}


def read(path: Path) -> BabelCatalog:
    with path.open("rb") as source:
        return read_po(source)


def texts(catalog: BabelCatalog) -> dict[str, str]:
    """key -> msgstr; a fuzzy entry counts as missing, as `pybabel compile` leaves it out."""
    return {
        str(message.id): str(message.string or "")
        for message in catalog
        if message.id and not message.fuzzy
    }


def compiled(catalog: BabelCatalog) -> bytes:
    """The .mo that `pybabel compile` writes for `catalog`."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def problems(languages: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What is wrong across the catalogs: a key one language has and another lacks, an empty
    text, a field (`{name}`) that the English text and a translation do not share, or a template
    that str.format cannot read."""
    found: list[str] = []
    reference = languages[FALLBACK]
    for language, messages in languages.items():
        for key in sorted(set(reference) - set(messages)):
            found.append(f"{language}: {key}: missing")
        for key in sorted(set(messages) - set(reference)):
            found.append(f"{language}: {key}: not in {FALLBACK}")
        for key, text in sorted(messages.items()):
            if not text:
                found.append(f"{language}: {key}: empty")
                continue
            try:
                own = fields(text)
            except ValueError as error:
                found.append(f"{language}: {key}: not a str.format template ({error})")
                continue
            if key in reference and reference[key] and own != fields(reference[key]):
                found.append(f"{language}: {key}: fields {sorted(own)} but {FALLBACK} has "
                             f"{sorted(fields(reference[key]))}")
    return found
