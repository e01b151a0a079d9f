"""The fake VK's file endpoints: the upload servers and the downloads of photos and documents.

  /upload/<server>        the messages photo upload server (multipart field "photo")
  /docupload/<group_id>   the messages document upload server (multipart field "file")
  /photo/<owner>_<id>_<type>.jpg?key=   photo downloads
  /doc/<owner>_<id>?key=                document downloads
"""

from __future__ import annotations

import json
import secrets

from aiohttp import web

from . import api
from .limits import doc_problem, photo_problem
from .photos import image_dimensions
from .state import State, Upload


def _json(data: object) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), content_type="application/json")


async def _file_field(request: web.Request, name: str) -> tuple[str, bytes] | None:
    form = await request.post()
    field = form.get(name)
    if not isinstance(field, web.FileField):
        return None
    return field.filename or "", field.file.read()


def add_file_routes(app: web.Application, state: State) -> None:
    async def upload_photo(request: web.Request) -> web.Response:
        """VK's upload server answers 200 even for a file it refuses: "photo" is then "[]" and the
        following photos.saveMessagesPhoto fails with error 100."""
        state.log("upload", {"kind": "photo"})
        received = await _file_field(request, "photo")
        server = request.match_info["server"]
        if received is None or photo_problem(received[1]) is not None:
            return _json({"server": int(server), "photo": "[]", "hash": secrets.token_hex(16)})
        data = received[1]
        token = secrets.token_hex(12)
        state.uploads[token] = Upload(data, image_dimensions(data))
        described = json.dumps([{"photo": token, "sizes": [], "latitude": 0, "longitude": 0}])
        return _json({"server": int(server), "photo": described, "hash": api.upload_hash(state, token)})

    async def upload_doc(request: web.Request) -> web.Response:
        """A refused document is {"error": ...}: docs.save then has no "file" and fails."""
        state.log("upload", {"kind": "doc"})
        received = await _file_field(request, "file")
        if received is None:
            return _json({"error": "no file", "error_descr": "the field \"file\" is required"})
        filename, data = received
        problem = doc_problem(filename, data)
        if problem is not None:
            return _json({"error": "file refused", "error_descr": problem})
        token = secrets.token_hex(16)
        state.doc_uploads[token] = (filename or "file", data)
        return _json({"file": token})

    async def download_photo(request: web.Request) -> web.Response:
        name = request.match_info["name"].removesuffix(".jpg")
        state.log("download", {"photo": name})
        try:
            owner, photo_id, size_type = name.split("_")
            photo = state.photos[(int(owner), int(photo_id))]
        except (ValueError, KeyError):
            raise web.HTTPNotFound() from None
        data = photo.bytes_of(size_type)
        if data is None or request.query.get("key") != photo.access_key:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")

    async def download_doc(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state.log("download", {"doc": name})
        try:
            owner, doc_id = name.split("_")
            doc = state.docs[(int(owner), int(doc_id))]
        except (ValueError, KeyError):
            raise web.HTTPNotFound() from None
        if request.query.get("key") != doc.access_key:
            raise web.HTTPNotFound()
        return web.Response(body=doc.data, content_type="application/octet-stream")

    app.router.add_post("/upload/{server}", upload_photo)
    app.router.add_post("/docupload/{group_id}", upload_doc)
    app.router.add_get("/photo/{name}", download_photo)
    app.router.add_get("/doc/{name}", download_doc)
