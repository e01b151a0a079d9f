"""Pure parts of the VK side: reading message_new, commands, keyboards, random_id, redaction."""

from __future__ import annotations

import json
from typing import Any

from photobot.bot.adapter import Button, Keyboard
from photobot.bot.vk.adapter import markup, message_ref, photo_key, random_id
from photobot.bot.vk.api import api_base_url
from photobot.bot.vk.messages import parse_command, parse_message, parse_payload
from photobot.bot.vk.polling import backlog_key
from photobot.logs import redact_text


def event(message: dict[str, object], lang_id: int | None = 3) -> dict[str, object]:
    base = {"id": 10, "peer_id": 5, "from_id": 5, "text": "", "conversation_message_id": 2, "attachments": []}
    return {"message": {**base, **message}, "client_info": {"lang_id": lang_id}}


def test_the_largest_photo_size_is_chosen_by_area() -> None:
    sizes = [
        {"type": "x", "url": "http://x", "width": 604, "height": 403},
        {"type": "w", "url": "http://w", "width": 2560, "height": 1707},
        {"type": "q", "url": "http://q", "width": 320, "height": 320},
    ]
    photo = {"type": "photo", "photo": {"owner_id": 5, "id": 77, "sizes": sizes}}
    message = parse_message(event({"attachments": [photo], "text": "sepia"}))
    assert message is not None and message.language == "en" and message.text == "sepia"
    [image] = message.images
    assert image.url == "http://w" and image.filename == "vk5_77.jpg"


def test_image_documents_are_images_and_other_attachments_are_not() -> None:
    doc = {"type": "doc", "doc": {"ext": "png", "url": "http://d", "size": 10, "title": "scan.png"}}
    pdf = {"type": "doc", "doc": {"ext": "pdf", "url": "http://p", "size": 10, "title": "a.pdf"}}
    video = {"type": "video", "video": {"id": 1}}
    message = parse_message(event({"attachments": [doc, pdf, video]}, lang_id=0))
    assert message is not None and message.language == "ru"
    assert [(i.filename, i.mime, i.as_document) for i in message.images] == [("scan.png", "image/png", True)]
    assert message.other_attachments == ["doc", "video"]


def test_the_message_date_is_when_the_user_sent_it() -> None:
    message = parse_message(event({"date": 1_790_000_000}))
    assert message is not None and message.sent_at == 1_790_000_000.0
    for bad in (None, "yesterday", -5, 0):
        message = parse_message(event({"date": bad}))
        assert message is not None and message.sent_at is None


def test_group_chats_use_conversation_message_ids() -> None:
    message = parse_message(event({"peer_id": 2000000001, "id": 0, "conversation_message_id": 44}))
    assert message is not None and message.message_id == 44 and not message.private


def test_commands_take_both_prefixes_and_a_mention() -> None:
    assert parse_command("/status abc") is not None
    assert parse_command("!Status  abc ") == parse_command("/status abc")
    command = parse_command("[club123|@photobot] /ban 42")
    assert command is not None and (command.name, command.args) == ("ban", "42")
    assert parse_command("status abc") is None and parse_command("/") is None


def test_payloads_must_be_objects() -> None:
    assert parse_payload('{"op": "sepia", "m": 3}') == {"op": "sepia", "m": 3}
    assert parse_payload("[1]") is None and parse_payload("{bad") is None


def test_operation_buttons_name_their_photo() -> None:
    keyboard = Keyboard(rows=[[Button("Sepia", "op", "sepia"), Button("x" * 60, "op", "blur")],
                              [Button("Older", "jobs", "5")]], subject=photo_key(9, 2))
    data = json.loads(markup(keyboard) or "")
    assert data["inline"] is True
    first, second = data["buttons"][0]
    assert first["action"]["payload"] == {"op": "sepia", "m": photo_key(9, 2)}
    assert len(second["action"]["label"]) == 40
    assert data["buttons"][1][0]["action"]["payload"] == {"jobs": 5}
    assert markup(None) is None


def test_photo_keys_and_random_ids() -> None:
    assert photo_key(9, 0) == 9 and message_ref(photo_key(9, 3)) == 9 and photo_key(9, 3) != 9
    rid = random_id(5, "photo", 9, "job1-0.jpg")
    assert rid == random_id(5, "photo", 9, "job1-0.jpg") and 0 < rid < 2**31
    assert rid != random_id(5, "photo", 9, "job2-0.jpg") and rid != random_id(6, "photo", 9, "job1-0.jpg")


def test_api_base_url_ends_with_a_slash() -> None:
    assert api_base_url("https://api.vk.com/method") == "https://api.vk.com/method/"
    assert api_base_url("http://127.0.0.1:1/method/") == "http://127.0.0.1:1/method/"


def test_vk_tokens_are_redacted() -> None:
    token = "vk1.a.Zx9_AbCdEfGhIjKlMnOpQrStUv-0123"
    line = f"POST http://h/method/messages.send?access_token={token}&v=5.199 and {token}"
    assert token not in redact_text(line)


def _event(
    text: str = "", *, peer: int = 5, payload: str | None = None, photo: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {"peer_id": peer, "from_id": 5, "text": text, "attachments": []}
    if payload is not None:
        message["payload"] = payload
    if photo:
        message["attachments"] = [{"type": "photo", "photo": {}}]
    return {"type": "message_new", "object": {"message": message}}


def test_what_a_waiting_vk_event_may_be_superseded_by() -> None:
    assert backlog_key(_event("hello")) == "text"
    assert backlog_key(_event("/help")) == (5, "command", "help")
    assert backlog_key(_event("/ban 6")) != backlog_key(_event("/ban 7"))  # two acts: both run
    assert backlog_key(_event("!ban  6")) == backlog_key(_event("/ban 6"))
    assert backlog_key(_event("/grant 7 3")) is None  # each grant is its own
    assert backlog_key(_event("/frobnicate")) == "text"  # unknown commands are texts
    assert backlog_key(_event("Sepia", payload='{"op": "sepia", "m": 7}')) == ("button", 5, 7)
    assert backlog_key(_event("x", payload="not json")) == ("button", 5, None)
    assert backlog_key(_event("sepia", photo=True)) is None  # photos are each handled
    assert backlog_key(_event("hello", peer=2_000_000_001)) is None  # other people's group texts
    assert backlog_key({"type": "message_reply", "object": {}}) is None
