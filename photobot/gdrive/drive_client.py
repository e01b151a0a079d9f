"""The synchronous Drive v3 client: credentials, the bundled discovery document, one Http per thread.

google-api-python-client is synchronous and httplib2 is not thread-safe, so each worker thread owns
its own `AuthorizedHttp(build_http())` and its own service object. `build_http()` matters: it tells
httplib2 that 308 is not a redirect, which resumable uploads rely on. The service is built from the
discovery document that ships inside googleapiclient (no fetch at start) with its rootUrl replaced
when GDRIVE_API_URL is set: the client's `api_endpoint` option would move only the host of upload
URLs, not their scheme and path.
"""

from __future__ import annotations

import copy
import json
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import google.oauth2.credentials
import google_auth_httplib2
from google.auth.credentials import Credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build_from_document
from googleapiclient.http import build_http

SCOPES = ("https://www.googleapis.com/auth/drive.file",)
HTTP_TIMEOUT_SECONDS = 60.0


class CredentialsProblem(Exception):
    """Credentials are missing or unreadable; the message is one line for the operator."""


def drive_document(api_url: str | None) -> dict[str, Any]:
    """Drive v3's discovery document from the installed googleapiclient, rooted at `api_url`."""
    text = (
        resources.files("googleapiclient")
        .joinpath("discovery_cache", "documents", "drive.v3.json")
        .read_text(encoding="utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    if api_url:
        root = api_url.rstrip("/") + "/"
        document["rootUrl"] = root
        document["mtlsRootUrl"] = root
        document["baseUrl"] = root + document["servicePath"]
    return document


def load_credentials(credentials_file: Path | None, token_file: Path | None) -> Credentials:
    """Service-account key or OAuth user token, whichever is configured (the key file first).

    The file's "type" decides how it is read, so an authorized_user file given as the credentials
    file still works.
    """
    if credentials_file is not None:
        return _from_file(credentials_file, "GDRIVE_CREDENTIALS_FILE")
    if token_file is not None:
        return _from_file(token_file, "GDRIVE_TOKEN_FILE")
    raise CredentialsProblem(
        "GDRIVE_CREDENTIALS_FILE or GDRIVE_TOKEN_FILE: neither is set; "
        "give a service-account JSON key or an OAuth user token file"
    )


def _from_file(path: Path, variable: str) -> Credentials:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsProblem(f"{variable}: {path} does not exist") from None
    except OSError as error:
        raise CredentialsProblem(f"{variable}: cannot read {path}: {error.strerror or error}") from None
    except ValueError:
        raise CredentialsProblem(f"{variable}: {path} is not JSON") from None
    if not isinstance(info, dict):
        raise CredentialsProblem(f"{variable}: {path} is not a credentials JSON object")
    kind = info.get("type")
    try:
        if kind == "service_account":
            sa: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=list(SCOPES)
            )
            return sa
        if kind == "authorized_user":
            user: Credentials = google.oauth2.credentials.Credentials.from_authorized_user_info(  # type: ignore[no-untyped-call]
                info, scopes=list(SCOPES)
            )
            # from_authorized_user_info always uses Google's token endpoint; honour the file's.
            if isinstance(info.get("token_uri"), str) and info["token_uri"]:
                user = user.with_token_uri(info["token_uri"])  # type: ignore[attr-defined]
            return user
    except (ValueError, KeyError) as error:
        raise CredentialsProblem(f"{variable}: {path} is incomplete or malformed: {error}") from None
    raise CredentialsProblem(
        f"{variable}: {path} has type {kind!r}; expected service_account or authorized_user"
    )


def principal(credentials: Credentials) -> str:
    """Who the credentials act as, for messages: the service account's email, or 'OAuth user'."""
    email = getattr(credentials, "service_account_email", None)
    return str(email) if email else "the OAuth user"


def is_service_account(credentials: Credentials) -> bool:
    return isinstance(credentials, service_account.Credentials)


class ThreadClients:
    """One (Http, service) pair per thread, built on first use in that thread."""

    def __init__(self, credentials: Credentials, document: dict[str, Any],
                 timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        self.credentials = credentials
        self.document = document
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all_http: list[Any] = []

    def http(self) -> Any:
        self._ensure()
        return self._local.http

    def service(self) -> Any:
        self._ensure()
        return self._local.service

    def _ensure(self) -> None:
        if getattr(self._local, "service", None) is not None:
            return
        raw = build_http()
        raw.timeout = self.timeout
        http = google_auth_httplib2.AuthorizedHttp(self.credentials, http=raw)
        service = build_from_document(copy.deepcopy(self.document), http=http)
        with self._lock:
            self._all_http.append(raw)
        self._local.http = http
        self._local.service = service

    def close(self) -> None:
        """Close every thread's connections (call once the threads are done)."""
        with self._lock:
            pool, self._all_http = self._all_http, []
        for raw in pool:
            raw.close()
