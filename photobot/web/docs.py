"""/api/v1/docs: the API's reference as a page a person reads and tries, Swagger UI over
/api/v1/openapi.json. Swagger UI's files come from the swagger-ui-py package and are served by
photobot itself, so the page works without reaching any CDN. The routes sit on the root app, beside
the API sub-app, so neither its Bearer authentication nor its JSON errors apply to them."""

from __future__ import annotations

from importlib.resources import files

from aiohttp import web

DOCS_PATH = "/api/v1/docs"
ASSETS = {  # what the page loads, and its type; nothing else of the package is served
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>photobot API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null,
  persistAuthorization: true,
});
</script>
</body>
</html>
"""


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def docs_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in ASSETS:
        raise web.HTTPNotFound()
    data = (files("swagger_ui") / "static" / name).read_bytes()
    return web.Response(body=data, content_type=ASSETS[name], headers={"Cache-Control": "max-age=86400"})


async def docs_slash(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect(DOCS_PATH)  # relative links on the page resolve from /api/v1/


def add_docs_routes(app: web.Application) -> None:
    """Before the API sub-app is added: the root app then answers these paths first."""
    app.router.add_get(DOCS_PATH, docs_page)
    app.router.add_get(DOCS_PATH + "/", docs_slash)
    app.router.add_get(DOCS_PATH + "/{name}", docs_asset)
