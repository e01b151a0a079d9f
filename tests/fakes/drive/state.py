"""The state of the fake Drive: files, folders, shared drives, upload sessions, tokens and keys.

Kept apart from the HTTP layer (server.py) so tests can seed and inspect it directly.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

FOLDER_MIME = "application/vnd.google-apps.folder"
CHUNK_ALIGN = 256 * 1024


def new_id() -> str:
    """An id shaped like Drive's: 33 characters of [A-Za-z0-9_-]."""
    return "1" + secrets.token_urlsafe(24)


@dataclass
class FakeFile:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    app_properties: dict[str, str]
    data: bytes = b""
    drive_id: str | None = None
    created: int = 0
    trashed: bool = False
    read_only: bool = False

    def resource(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "appProperties": dict(self.app_properties),
            "createdTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "trashed": self.trashed,
            "webViewLink": f"https://drive.google.com/file/d/{self.id}/view",
            "capabilities": {"canAddChildren": self.mime_type == FOLDER_MIME and not self.read_only},
        }
        if self.mime_type != FOLDER_MIME:
            out["size"] = str(len(self.data))
        if self.drive_id:
            out["driveId"] = self.drive_id
        return out


@dataclass
class UploadSession:
    metadata: dict[str, Any]
    principal: Principal
    total: int | None
    mime_type: str
    received: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class Principal:
    email: str
    service_account: bool


@dataclass
class DriveState:
    files: dict[str, FakeFile] = field(default_factory=dict)
    uploads: dict[str, UploadSession] = field(default_factory=dict)
    tokens: dict[str, Principal] = field(default_factory=dict)
    trusted_keys: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def add_file(
        self, name: str, mime_type: str, parents: list[str], app_properties: dict[str, str], data: bytes = b""
    ) -> FakeFile:
        parent = self.files.get(parents[0]) if parents else None
        file = FakeFile(
            new_id(),
            name,
            mime_type,
            parents,
            app_properties,
            data,
            drive_id=parent.drive_id if parent else None,
            created=next(self._clock),
        )
        self.files[file.id] = file
        return file

    def create_folder(self, name: str, parent: str = "root", *, shared_drive: bool = False) -> str:
        """A folder for tests to use as GDRIVE_FOLDER_ID; `shared_drive` makes it a shared drive."""
        folder = self.add_file(name, FOLDER_MIME, [parent], {})
        if shared_drive:
            folder.drive_id = folder.id
        return folder.id

    def children(self, folder_id: str) -> list[FakeFile]:
        return [f for f in self.files.values() if folder_id in f.parents]

    def in_shared_drive(self, parent_id: str) -> bool:
        parent = self.files.get(parent_id)
        return bool(parent and parent.drive_id)

    def remove(self, file_id: str) -> None:
        for child in self.children(file_id):
            self.remove(child.id)
        self.files.pop(file_id, None)

    def issue_token(self, principal: Principal) -> str:
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = principal
        return token

    def write_service_account(
        self,
        path: Path,
        token_uri: str,
        *,
        trusted: bool = True,
        email: str = "photobot@fake-project.iam.gserviceaccount.com",
    ) -> Path:
        """Generate an RSA key, write a service-account JSON whose token_uri is the fake's."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_pem = (
            key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )
        key_id = secrets.token_hex(20)
        if trusted:
            self.trusted_keys[key_id] = public_pem
        info = {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": key_id,
            "private_key": private_pem,
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": token_uri,
        }
        path.write_text(json.dumps(info), encoding="utf-8")
        return path

    def write_user_token(self, path: Path, token_uri: str, email: str = "owner@example.com") -> Path:
        """An OAuth authorized_user file whose refresh token the fake accepts."""
        refresh = "1//fake-" + secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = email
        info = {
            "type": "authorized_user",
            "client_id": "fake-client.apps.googleusercontent.com",
            "client_secret": "fake-secret",
            "refresh_token": refresh,
            "token_uri": token_uri,
        }
        path.write_text(json.dumps(info), encoding="utf-8")
        return path


_LITERAL = r"'(?:[^'\\]|\\.)*'"
_CLAUSE = re.compile(
    rf"\s*(?:(?P<field>name|mimeType)\s*=\s*(?P<lit>{_LITERAL})"
    rf"|(?P<parent>{_LITERAL})\s+in\s+parents"
    r"|trashed\s*=\s*(?P<trashed>true|false))\s*(?:\band\b|$)"
)


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def parse_query(q: str) -> list[tuple[str, str]]:
    """The subset of Drive's query language photobot uses: `and` of name/mimeType/parents/trashed.

    Anything else raises ValueError, which the fake answers with 400 invalidQuery.
    """
    clauses: list[tuple[str, str]] = []
    position = 0
    while position < len(q.strip()):
        match = _CLAUSE.match(q, position)
        if not match or match.end() == position:
            raise ValueError(f"unsupported query at {q[position:][:40]!r}")
        if match["field"]:
            clauses.append((match["field"], _unquote(match["lit"])))
        elif match["parent"]:
            clauses.append(("parent", _unquote(match["parent"])))
        else:
            clauses.append(("trashed", match["trashed"]))
        position = match.end()
    return clauses


def matches(file: FakeFile, clauses: list[tuple[str, str]]) -> bool:
    for name, value in clauses:
        if name == "name" and file.name != value:
            return False
        if name == "mimeType" and file.mime_type != value:
            return False
        if name == "parent" and value not in file.parents:
            return False
        if name == "trashed" and file.trashed != (value == "true"):
            return False
    return True


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], bytes, str]:
    """(metadata, media, media type) from a multipart/related upload as googleapiclient sends it."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError("multipart upload without a boundary")
    delimiter = b"--" + match.group(1).encode()
    # The line break before each delimiter belongs to it. Which one the sender uses (googleapiclient:
    # LF; others: CRLF) is read off the first delimiter line, so a payload ending in "\r" keeps it.
    crlf = body.lstrip(b"\r\n").startswith(delimiter + b"\r\n")
    parts = (b"\n" + body).split(b"\n" + delimiter)
    sections = []
    for raw in parts[1:]:
        if raw.startswith(b"--"):
            break
        part = raw.removeprefix(b"\r\n") if raw.startswith(b"\r\n") else raw.removeprefix(b"\n")
        if crlf:
            part = part.removesuffix(b"\r")
        head, sep, payload = part.partition(b"\r\n\r\n")
        if not sep:
            head, sep, payload = part.partition(b"\n\n")
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in head.decode("latin-1").splitlines())
        }
        sections.append((headers, payload))
    if len(sections) != 2:
        raise ValueError(f"expected 2 parts, got {len(sections)}")
    metadata = json.loads(sections[0][1] or b"{}")
    return metadata, sections[1][1], sections[1][0].get("content-type", "application/octet-stream")
