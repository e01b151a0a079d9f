"""The VK API methods photobot uses, answered from `State`.

Each handler takes the request's parameters (query and form merged, as VK merges them) and returns
the value that goes under "response", or raises `ApiError`, which the server shapes as VK's
{"error": {"error_code", "error_msg", "request_params"}}. Error codes and texts are VK's.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from .docs import DOC_METHODS, StoredDoc, may_attach, parse_attachment, resolve_doc
from .errors import ApiError, invalid, missing
from .limits import EDIT_WINDOW_SECONDS, check_keyboard, check_message
from .photos import StoredPhoto, make_photo
from .state import CHAT_PEER_BASE, Message, Revision, State

Params = dict[str, str]


def int_param(params: Params, name: str, required: bool = True) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise missing(name)
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(name) from None


def upload_hash(state: State, token: str) -> str:
    return hashlib.sha256(f"{state.token}:{token}".encode()).hexdigest()[:32]


def message_to_vk(state: State, message: Message) -> dict[str, Any]:
    """A message object as VK 5.199 shapes it in message_new and messages.getById."""
    out: dict[str, Any] = {
        "id": message.id,
        "date": message.date,
        "peer_id": message.peer_id,
        "from_id": message.from_id,
        "out": int(message.out),
        "text": message.text,
        "conversation_message_id": message.conversation_message_id,
        "version": 10000000 + message.id,
        "fwd_messages": [],
        "important": False,
        "is_hidden": False,
        "random_id": message.random_id,
        "attachments": [
            {"type": "photo", "photo": p.to_vk(state.base_url, message.date)} for p in message.photos
        ]
        + [{"type": "doc", "doc": d.to_vk(state.base_url)} for d in message.docs],
    }
    if message.payload is not None:
        out["payload"] = message.payload
    if message.keyboard is not None:
        out["keyboard"] = message.keyboard
    if message.history and len(message.history) > 1:
        out["update_time"] = int(time.time())
    return out


# --- messages ---------------------------------------------------------------------------------


def _resolve_attachments(
    state: State, raw: str | None
) -> tuple[list[str], list[StoredPhoto], list[StoredDoc]]:
    """Parse "photo<owner>_<id>[_<access_key>]" and "doc..." strings; any other or unknown one is
    error 100."""
    strings = [a.strip() for a in (raw or "").split(",") if a.strip()]
    photos: list[StoredPhoto] = []
    docs: list[StoredDoc] = []
    for item in strings:
        if item.startswith("doc"):
            docs.append(resolve_doc(state, item))
            continue
        if not item.startswith("photo"):
            raise invalid("attachment")
        owner_id, photo_id, key = parse_attachment(item, "photo")
        photo = state.photos.get((owner_id, photo_id))
        if photo is None or not may_attach(state, owner_id, key, photo.access_key):
            raise invalid("attachment")
        photos.append(photo)
    return strings, photos, docs


def _send_one(state: State, peer_id: int, params: Params, random_id: int) -> Message:
    if random_id:
        seen = state.random_ids.get((peer_id, random_id))
        if seen is not None and time.monotonic() - seen[1] < state.random_id_window:
            return state.messages[seen[0]]
    # https://dev.vk.com/ru/reference/errors: 901, the user has not allowed (or has denied)
    # messages from the community.
    if 0 < peer_id < CHAT_PEER_BASE and not state.user(peer_id).allows_messages:
        raise ApiError(901, "Can't send messages for users without permission")
    if peer_id > CHAT_PEER_BASE and peer_id not in state.chats:
        # https://dev.vk.com/ru/reference/errors: 917, the community is not in that conversation.
        raise ApiError(917, "You don't have access to this chat")
    text = params.get("message", "")
    attachments, photos, docs = _resolve_attachments(state, params.get("attachment"))
    keyboard = check_keyboard(params.get("keyboard"))
    check_message(text, attachments)
    message = state.add_message(
        peer_id, -state.group_id, text, attachments=attachments, photos=photos, docs=docs,
        keyboard=keyboard, payload=params.get("payload"), random_id=random_id,
    )
    message.history.append(Revision(text, tuple(attachments), keyboard, time.monotonic()))
    if random_id:
        state.random_ids[(peer_id, random_id)] = (message.id, time.monotonic())
    state.changed()
    return message


def messages_send(state: State, params: Params) -> Any:
    random_id = int_param(params, "random_id")
    assert random_id is not None
    if params.get("peer_ids"):
        items: list[dict[str, Any]] = []
        for raw_peer in params["peer_ids"].split(","):
            peer_id = int(raw_peer)
            try:
                sent = _send_one(state, peer_id, params, random_id)
                items.append(
                    {
                        "peer_id": peer_id,
                        "message_id": sent.id,
                        "conversation_message_id": sent.conversation_message_id,
                    }
                )
            except ApiError as error:
                if error.code != 901:
                    raise
                # VK reports per-peer failures inside the list; the ids are absent there, the fake
                # gives 0 so that vkbottle's model (which requires them) still parses.
                items.append(
                    {
                        "peer_id": peer_id,
                        "message_id": 0,
                        "conversation_message_id": 0,
                        "error": {"code": error.code, "description": error.message},
                    }
                )
        return items
    single = int_param(params, "peer_id", required=False) or int_param(params, "user_id", required=False)
    if single is None:
        raise missing("peer_id")
    return _send_one(state, single, params, random_id).id


def _find(state: State, params: Params) -> Message:
    peer_id = int_param(params, "peer_id")
    message_id = int_param(params, "message_id", required=False)
    cmid = int_param(params, "conversation_message_id", required=False)
    if message_id is None and cmid is None:
        raise missing("message_id")
    for message in state.messages.values():
        if message.peer_id == peer_id and (
            message.id == message_id or (message_id is None and message.conversation_message_id == cmid)
        ):
            return message
    raise ApiError(100, "One of the parameters specified was missing or invalid: message_id is invalid")


def messages_edit(state: State, params: Params) -> Any:
    """VK replaces the whole content: attachments and keyboard not passed again are dropped."""
    message = _find(state, params)
    if not message.out:
        raise ApiError(15, "Access denied: you can't edit this message")
    if time.time() - message.date > EDIT_WINDOW_SECONDS:
        raise ApiError(909, "Can't edit this message, because it's too old")
    text = params.get("message", "")
    attachments, photos, docs = _resolve_attachments(state, params.get("attachment"))
    keyboard = check_keyboard(params.get("keyboard"))
    check_message(text, attachments)
    message.text, message.attachments, message.keyboard = text, attachments, keyboard
    message.photos, message.docs = photos, docs
    message.history.append(Revision(text, tuple(attachments), keyboard, time.monotonic()))
    state.changed()
    return 1


def messages_get_by_id(state: State, params: Params) -> Any:
    raw = params.get("message_ids")
    if not raw:
        raise missing("message_ids")
    ids = [int(i) for i in raw.split(",") if i.strip()]
    items = [message_to_vk(state, state.messages[i]) for i in ids if i in state.messages]
    return {"count": len(items), "items": items}


def messages_get_by_cmid(state: State, params: Params) -> Any:
    peer_id = int_param(params, "peer_id")
    raw = params.get("conversation_message_ids")
    if not raw:
        raise missing("conversation_message_ids")
    wanted = {int(i) for i in raw.split(",") if i.strip()}
    items = [
        message_to_vk(state, m)
        for m in state.messages.values()
        if m.peer_id == peer_id and m.conversation_message_id in wanted
    ]
    return {"count": len(items), "items": items}


# --- groups, users ----------------------------------------------------------------------------


def _group(state: State) -> dict[str, Any]:
    return {
        "id": state.group_id,
        "name": "photobot",
        "screen_name": f"club{state.group_id}",
        "is_closed": 0,
        "type": "group",
    }


def groups_get_by_id(state: State, params: Params) -> Any:
    return {"groups": [_group(state)], "profiles": []}


def groups_get_long_poll_server(state: State, params: Params) -> Any:
    group_id = int_param(params, "group_id")
    if group_id != state.group_id:
        raise ApiError(15, "Access denied: no access to this group")
    return {
        "key": state.longpoll_key,
        "server": f"{state.base_url}/lp/{state.group_id}",
        "ts": str(state.head_ts),
    }


def users_get(state: State, params: Params) -> Any:
    ids = [int(i) for i in params.get("user_ids", "").split(",") if i.strip()]
    return [
        {
            "id": u.id,
            "first_name": u.first_name,
            "last_name": u.last_name,
            "can_access_closed": True,
            "is_closed": False,
        }
        for u in map(state.user, ids)
    ]


# --- photos -----------------------------------------------------------------------------------


def photos_get_messages_upload_server(state: State, params: Params) -> Any:
    server = 1000 + state.group_id % 1000
    return {
        "album_id": -3,
        "user_id": 0,
        "group_id": state.group_id,
        "upload_url": f"{state.base_url}/upload/{server}?act=do_add&gid={state.group_id}&aid=-3",
    }


def photos_save_messages_photo(state: State, params: Params) -> Any:
    raw = params.get("photo")
    if not raw:
        raise missing("photo")
    try:
        described = json.loads(raw)
        token = described[0]["photo"]
    except (ValueError, LookupError, TypeError):
        raise missing("photo") from None
    if params.get("hash") != upload_hash(state, token):
        raise ApiError(121, "Invalid hash")
    upload = state.uploads.pop(token, None)
    if upload is None:
        raise missing("photo")
    photo = make_photo(-state.group_id, state.new_photo_id(), upload.data, upload.dims)
    state.photos[(photo.owner_id, photo.id)] = photo
    state.changed()
    return [photo.to_vk(state.base_url, int(time.time()))]


def set_activity(state: State, params: Params) -> Any:
    return 1


METHODS: dict[str, Callable[[State, Params], Any]] = {
    "messages.send": messages_send,
    "messages.edit": messages_edit,
    "messages.getById": messages_get_by_id,
    "messages.getByConversationMessageId": messages_get_by_cmid,
    "messages.setActivity": set_activity,
    "groups.getById": groups_get_by_id,
    "groups.getLongPollServer": groups_get_long_poll_server,
    "users.get": users_get,
    "photos.getMessagesUploadServer": photos_get_messages_upload_server,
    "photos.saveMessagesPhoto": photos_save_messages_photo,
    **DOC_METHODS,
}


def call(state: State, method: str, params: Params) -> Any:
    """Answer one API call after the access checks: token (5), version (8), method (3),
    rate (6), the fail_next switch, then the method itself."""
    if params.get("access_token") != state.token:
        raise ApiError(5, "User authorization failed: invalid access_token (4).")
    if not params.get("v"):
        raise ApiError(8, "Invalid request: v (version) is required")
    if method not in METHODS:
        raise ApiError(3, "Unknown method passed")
    # recent_calls() counts the calls before this one, refused ones included (VK counts them too).
    if state.rate_limit is not None and state.recent_calls() >= state.rate_limit:
        raise ApiError(6, "Too many requests per second")
    queued = state.fail_next.get(method) or state.fail_next.get("*")
    if queued:
        code = queued.popleft()
        raise ApiError(code, ERROR_TEXTS.get(code, "Internal server error"))
    return METHODS[method](state, params)


ERROR_TEXTS = {
    1: "Unknown error occurred",
    6: "Too many requests per second",
    9: "Flood control",
    10: "Internal server error",
    901: "Can't send messages for users without permission",
}
