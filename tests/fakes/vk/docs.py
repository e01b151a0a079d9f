"""Documents in the fake VK: files users attach, and files the community uploads for a message.

The community's way out (https://dev.vk.com/ru/api/upload/document-in-message):
docs.getMessagesUploadServer(type=doc, peer_id) gives an upload_url; a multipart POST of the field
"file" answers {"file": "<token>"} (or {"error": ...} for a file VK refuses, see limits.doc_problem);
docs.save(file, title) answers {"type": "doc", "doc": {...}}, whose "doc<owner>_<id>" goes into
messages.send's attachment. A document's "type" is VK's kind number (4 for an image).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import invalid, missing

if TYPE_CHECKING:
    from .state import State

# https://dev.vk.com/ru/reference/objects/doc: 1 text, 2 archive, 3 gif, 4 image, 5 audio, 6 video,
# 7 e-book, 8 unknown.
_KINDS = {"txt": 1, "zip": 2, "rar": 2, "gif": 3, "jpg": 4, "jpeg": 4, "png": 4, "webp": 4, "bmp": 4,
          "tif": 4, "tiff": 4, "heic": 4, "mp3": 5, "mp4": 6, "epub": 7}
UPLOAD_TYPES = frozenset({"doc", "audio_message", "graffiti"})


@dataclass
class StoredDoc:
    owner_id: int
    id: int
    access_key: str
    title: str
    data: bytes
    date: int

    @property
    def ext(self) -> str:
        return self.title.rsplit(".", 1)[-1].lower() if "." in self.title else ""

    @property
    def attachment(self) -> str:
        return f"doc{self.owner_id}_{self.id}"

    def to_vk(self, base_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "title": self.title,
            "size": len(self.data),
            "ext": self.ext,
            "date": self.date,
            "type": _KINDS.get(self.ext, 8),
            "url": f"{base_url}/doc/{self.owner_id}_{self.id}?key={self.access_key}",
            "access_key": self.access_key,
        }


def make_doc(state: State, owner_id: int, title: str, data: bytes) -> StoredDoc:
    doc = StoredDoc(owner_id, state.new_doc_id(), secrets.token_hex(9), title, data, int(time.time()))
    state.docs[(owner_id, doc.id)] = doc
    return doc


def docs_get_messages_upload_server(state: State, params: dict[str, str]) -> Any:
    """A community token must name the conversation (peer_id) the document is for."""
    kind = params.get("type") or "doc"
    if kind not in UPLOAD_TYPES:
        raise invalid("type")
    if not params.get("peer_id"):
        raise missing("peer_id")
    return {"upload_url": f"{state.base_url}/docupload/{state.group_id}?type={kind}"}


def docs_save(state: State, params: dict[str, str]) -> Any:
    token = params.get("file")
    if not token:
        raise missing("file")
    upload = state.doc_uploads.pop(token, None)
    if upload is None:
        raise invalid("file")
    filename, data = upload
    title = (params.get("title") or filename)[:128]
    doc = make_doc(state, -state.group_id, title, data)
    state.changed()
    return {"type": "doc", "doc": doc.to_vk(state.base_url)}


def parse_attachment(item: str, kind: str) -> tuple[int, int, str | None]:
    """"<kind><owner>_<id>[_<access_key>]" as (owner, id, key); anything else is error 100."""
    parts = item[len(kind) :].split("_")
    try:
        return int(parts[0]), int(parts[1]), (parts[2] if len(parts) > 2 else None)
    except (ValueError, IndexError):
        raise invalid("attachment") from None


def may_attach(state: State, owner_id: int, key: str | None, access_key: str) -> bool:
    """A community may send its own files without the key; anyone else's need the right one."""
    return (key is None and owner_id == -state.group_id) or key == access_key


def resolve_doc(state: State, item: str) -> StoredDoc:
    owner_id, doc_id, key = parse_attachment(item, "doc")
    doc = state.docs.get((owner_id, doc_id))
    if doc is None or not may_attach(state, owner_id, key, doc.access_key):
        raise invalid("attachment")
    return doc


DOC_METHODS: dict[str, Callable[[State, dict[str, str]], Any]] = {
    "docs.getMessagesUploadServer": docs_get_messages_upload_server,
    "docs.save": docs_save,
}
