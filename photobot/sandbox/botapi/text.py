"""Text as Telegram stores it: parse_mode markup is turned into plain text (the entities are not
kept), and malformed HTML is refused with Telegram's "can't parse entities" error, so a bot that
forgets to escape a user's "<" fails here as it would in production."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .model import bad_request

MAX_TEXT = 4096
MAX_CAPTION = 1024

_HTML_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "br",
}
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise bad_request(f'can\'t parse entities: Unsupported start tag "{tag}"')
        if tag == "br":
            self.parts.append("\n")
        else:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise bad_request(f'can\'t parse entities: Unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def render(text: str, parse_mode: str | None) -> str:
    """The plain text Telegram would show for ``text`` sent with ``parse_mode``."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        parser = _Html()
        parser.feed(text)
        parser.close()
        if parser.stack:
            tag = parser.stack[-1]
            raise bad_request(
                f"can't parse entities: Can't find end tag corresponding to start tag \"{tag}\""
            )
        return "".join(parser.parts)
    if mode == "markdownv2":
        text = _MD_LINK.sub(r"\1", text)
        return re.sub(r"\\(.)|\|\||[*_~`]", lambda m: m.group(1) or "", text)
    if mode == "markdown":
        return re.sub(r"[*_`]", "", _MD_LINK.sub(r"\1", text))
    return text


def message_text(text: str | None, parse_mode: str | None) -> str:
    """The text of sendMessage/editMessageText, with Telegram's checks."""
    rendered = render(text or "", parse_mode).strip()
    if not rendered:
        raise bad_request("message text is empty")
    if len(rendered) > MAX_TEXT:
        raise bad_request("message is too long")
    return rendered


def caption_text(caption: str | None, parse_mode: str | None) -> str | None:
    if caption is None:
        return None
    rendered = render(caption, parse_mode).strip()
    if len(rendered) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return rendered or None
