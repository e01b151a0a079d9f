"""The sandbox's chat page and its small JSON API, added to photobot's own aiohttp app.

The page (static/index.html, plain HTML and JavaScript, nothing fetched from elsewhere; its words
are the catalog's `sandbox.*` messages, filled in by `render_page` in the browser's language) shows one
private chat per sandbox person, as Telegram would: the person's messages and the bot's, with the
bot's inline buttons. What the person does goes into the local Bot API stand-in as the updates
Telegram would send (photobot.sandbox.botapi's side door), so the real bot, polling it over HTTP,
answers exactly as it answers Telegram. The page asks for the chat again a few times a second and
redraws what changed, so a status message is seen turning into the result.

Bad input tried: a file that is no image (sent as a document, as Telegram does with any file), an
empty or missing upload, a person id that is not one of the sandbox's, a button of a message that
is gone, a text over Telegram's 4096 characters, a missing file id: each is a 4xx JSON error.
"""

from __future__ import annotations

import asyncio
import html
import mimetypes
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from aiohttp import web

from photobot.locales import Catalog, catalog
from photobot.sandbox.botapi import BotMessage, FakeTelegram

STATIC = files("photobot.sandbox") / "static"
MAX_TEXT = 4096  # Telegram's limit for one message's text
MAX_UPLOAD = 20 * 1024 * 1024  # what a bot may download (getFile); larger files could not be handled


@dataclass(frozen=True)
class Person:
    """Someone who chats with the bot in the sandbox."""

    user_id: int
    name: str
    role: str  # "user" or "admin"


_FIELD = re.compile(r"\{\{([a-z_.]+)\}\}")


def render_page(template: str, messages: Catalog, language: str) -> str:
    """index.html with its `{{sandbox.*}}` words in `language`, and a choice of every language
    with a catalog (each named in itself, `language` chosen) for the person's messages."""
    options = "\n".join(
        f'      <option value="{code}"{" selected" if code == language else ""}>'
        f'{html.escape(messages.text("language.name", code))}</option>'
        for code in messages.languages
    )
    fixed = {"lang": language, "languages": options}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return fixed[name] if name in fixed else html.escape(messages.text(name, language), quote=True)

    return _FIELD.sub(fill, template)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _file_url(file_id: str | None) -> str | None:
    return f"/sandbox/api/file/{file_id}" if file_id else None


def _user_entry(message: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": message["message_id"],
        "from": "person",
        "text": message.get("text") or message.get("caption"),
        "kind": "text",
    }
    if message.get("photo"):
        entry.update(kind="photo", image=_file_url(message["photo"][-1]["file_id"]))
    elif message.get("document"):
        document = message["document"]
        entry.update(kind="document", file_name=document.get("file_name"),
                     url=_file_url(document["file_id"]))
    return entry


def _bot_entry(message: BotMessage) -> dict[str, Any]:
    version = message.current
    rows = (version.reply_markup or {}).get("inline_keyboard") or []
    entry: dict[str, Any] = {
        "id": message.message_id,
        "from": "bot",
        "kind": version.kind,
        "text": version.text,
        "edits": len(message.versions) - 1,
        "reply_to": message.reply_to_message_id,
        "buttons": [[{"text": b.get("text", ""), "data": b.get("callback_data")} for b in row]
                    for row in rows],
    }
    if version.kind == "photo":
        entry["image"] = _file_url(version.file_id)
    elif version.kind == "document":
        entry.update(file_name=version.file_name, url=_file_url(version.file_id))
        if (version.mime_type or "").startswith("image/"):
            entry["image"] = entry["url"]
    return entry


def chat_view(fake: FakeTelegram, user_id: int) -> list[dict[str, Any]]:
    """The private chat of one person, oldest first: what the person sent and what the bot shows."""
    entries = [_user_entry(m) for m in fake.user_messages(user_id)]
    entries += [_bot_entry(m) for m in fake.visible_messages(user_id)]
    return sorted(entries, key=lambda entry: int(entry["id"]))


class BadInput(Exception):
    """A request the page should not have sent: answered 400 with the reason."""


@web.middleware
async def _json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except BadInput as error:
        return _error(400, str(error))
    return response


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadInput("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadInput("the body must be a JSON object")
    return body


class ChatPage:
    """The handlers of the page's API; one per sandbox process, over one stand-in."""

    def __init__(self, fake: FakeTelegram, people: list[Person]) -> None:
        self.fake = fake
        self.people = people
        self.by_id = {person.user_id: person for person in people}

    def person_of(self, value: Any) -> Person:
        try:
            return self.by_id[int(value)]
        except (KeyError, TypeError, ValueError):
            raise BadInput("unknown person") from None

    async def page(self, request: web.Request) -> web.Response:
        messages = catalog()
        wanted = request.query.get("lang") or request.headers.get("Accept-Language", "").split(",")[0]
        language = messages.pick(wanted.split(";")[0])
        page = render_page((STATIC / "index.html").read_text(encoding="utf-8"), messages, language)
        return web.Response(text=page, content_type="text/html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in {"sandbox.js", "sandbox.css"}:
            raise web.HTTPNotFound()
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return web.Response(text=(STATIC / name).read_text(encoding="utf-8"), content_type=kind)

    async def people_list(self, _: web.Request) -> web.Response:
        return web.json_response([{"id": p.user_id, "name": p.name, "role": p.role} for p in self.people])

    async def chat(self, request: web.Request) -> web.Response:
        person = self.person_of(request.query.get("person"))
        return web.json_response({"messages": chat_view(self.fake, person.user_id)})

    async def text(self, request: web.Request) -> web.Response:
        body = await _body(request)
        person = self.person_of(body.get("person"))
        message = str(body.get("text") or "").strip()
        if not message or len(message) > MAX_TEXT:
            raise BadInput(f"a message holds 1 to {MAX_TEXT} characters")
        self.fake.inject_text(person.user_id, message, language_code=str(body.get("language") or "en"),
                              first_name=person.name)
        return web.json_response({"ok": True})

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        person = self.person_of(form.get("person"))
        sent = form.get("file")
        if not isinstance(sent, web.FileField):
            raise BadInput("choose a file to send")
        data = sent.file.read()
        if not data:
            raise BadInput("the file is empty")
        caption = str(form.get("caption") or "").strip() or None
        language = str(form.get("language") or "en")
        if form.get("as_file") != "1":
            try:  # a photo, as the app sends a picture; the stand-in makes its sizes with Pillow
                await asyncio.get_running_loop().run_in_executor(None, lambda: self.fake.inject_photo(
                    person.user_id, data, caption, language_code=language, first_name=person.name))
                return web.json_response({"ok": True, "sent_as": "photo"})
            except ValueError:
                pass  # not a picture Telegram could show: it goes as a file, as in the app
        mime = sent.content_type or mimetypes.guess_type(sent.filename or "")[0]
        self.fake.inject_document(person.user_id, data, sent.filename or "file", mime, caption=caption,
                                  language_code=language, first_name=person.name)
        return web.json_response({"ok": True, "sent_as": "document"})

    async def press(self, request: web.Request) -> web.Response:
        body = await _body(request)
        person = self.person_of(body.get("person"))
        try:
            query = self.fake.inject_callback(person.user_id, int(body["message_id"]), str(body.get("data")))
        except (KeyError, LookupError, TypeError, ValueError):
            return _error(404, "that message is gone")
        return web.json_response({"ok": True, "query": query})

    async def answer(self, request: web.Request) -> web.Response:
        try:
            answered = self.fake.callback_answer(request.match_info["query"])
        except KeyError:
            return _error(404, "no such button press")
        return web.json_response({"answered": answered is not None, "text": (answered or {}).get("text")})

    async def file(self, request: web.Request) -> web.Response:
        stored = self.fake.file(request.match_info["file_id"])
        if stored is None:
            return _error(404, "no such file")
        mime = stored.mime_type or ("image/jpeg" if stored.kind == "photo" else "application/octet-stream")
        return web.Response(body=stored.data, content_type=mime, headers={"Cache-Control": "max-age=3600"})


def add_chat_routes(app: web.Application, fake: FakeTelegram, people: list[Person]) -> None:
    """The chat page at / and its API under /sandbox/ (a sub-app: uploads may be larger than the
    root app's 1 MiB, and its errors are its own)."""
    page = ChatPage(fake, people)
    app.router.add_get("/", page.page)
    sandbox = web.Application(middlewares=[_json_errors], client_max_size=MAX_UPLOAD + 64 * 1024)
    sandbox.router.add_get("/static/{name}", page.static)
    sandbox.router.add_get("/api/people", page.people_list)
    sandbox.router.add_get("/api/chat", page.chat)
    sandbox.router.add_post("/api/text", page.text)
    sandbox.router.add_post("/api/upload", page.upload)
    sandbox.router.add_post("/api/press", page.press)
    sandbox.router.add_get("/api/answer/{query}", page.answer)
    sandbox.router.add_get("/api/file/{file_id}", page.file)
    app.add_subapp("/sandbox", sandbox)
