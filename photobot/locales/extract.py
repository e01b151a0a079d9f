"""Babel's extraction method for photobot's catalogs, run by `make messages` (development only).

msgids are keys rather than sentences written in the code, so there is nothing to extract from the
Python sources: the template every language is updated from is the English catalog's keys, each with
its comments for translators. `pybabel extract` calls this (babel.cfg beside it); photobot itself
never imports it, and the runtime has no Babel.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.pofile import read_po


def english(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """(line, no function, key, comments) for each message of the English catalog."""
    for message in read_po(fileobj):
        if message.id and isinstance(message.id, str):
            yield message.lineno or 0, None, message.id, list(message.auto_comments)
