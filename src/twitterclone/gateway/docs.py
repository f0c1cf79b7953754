"""The API docs page at /schema: Swagger UI 5 (it renders OpenAPI 3.1, which Litestar writes).

Swagger UI's files come from the ``swagger-ui-py`` package (its ``static`` folder holds the
swagger-ui-dist build) and are served by the gateway itself under /schema/assets: no CDN. The
page holds no inline script or style, so it runs under a strict Content-Security-Policy
(``DOCS_CSP``, set by gateway/headers.py): a small script of ours (docs_assets/swagger-init.js)
starts Swagger UI with the document URL the page names in a data attribute.
"""

from __future__ import annotations

import importlib.util
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

ASSETS_PATH = "/schema/assets"
OWN_ASSETS = Path(__file__).parent / "docs_assets"

#: What the docs page may load: only this origin's scripts and styles; no inline script.
#: Swagger UI sets element styles from script (allowed) and shows schema images as data: URLs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def swagger_ui_dist() -> Path:
    """The folder of Swagger UI's built files inside the installed ``swagger_ui`` package.

    Found without importing the package (its import pulls in web-framework adapters we never use).
    """
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not (folder / "swagger-ui-bundle.js").is_file():
        raise RuntimeError(f"no swagger-ui-bundle.js in {folder}")
    return folder


class LocalSwaggerUI(OpenAPIRenderPlugin):
    """Swagger UI from local files, started by an external script (no inline code)."""

    def __init__(self, path: str = "/") -> None:
        favicon = f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>"
        super().__init__(path=path, favicon=favicon, style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema.get("info", {}).get("title", "API")))
        document = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API</title>
{self.favicon}
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="stylesheet" href="{ASSETS_PATH}/docs.css">
<script src="{ASSETS_PATH}/swagger-ui-bundle.js" defer></script>
<script src="{ASSETS_PATH}/swagger-init.js" defer></script>
</head>
<body>
<noscript><p>The interactive docs need JavaScript; the document itself is at
<a href="{document}">{document}</a>.</p></noscript>
<div id="swagger-ui" data-openapi-url="{document}"></div>
</body>
</html>
""".encode()


def docs_assets_router() -> ControllerRouterHandler:
    """Serve Swagger UI's files and ours under /schema/assets (ours first: they are few)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[OWN_ASSETS, swagger_ui_dist()],
        include_in_schema=False,
        name="docs-assets",
    )
