"""The API documentation page (``/schema``), served whole by the ledger itself.

Why: the page used to load its viewer from a public CDN at ``@latest``: blank on a
machine without internet, and a different viewer whenever the CDN's changed. The
viewer is Swagger UI, pinned (``VIEWER``): its files, as published in the npm package
``swagger-ui-dist``, are in ``assets/`` with their licence (Apache-2.0: ``LICENSE``,
``NOTICE`` and the bundle's third-party notices), and are served under
``ASSETS_PATH``. The page holds no inline script (``assets/docs-init.js`` starts the
viewer), so its Content-Security-Policy (``api.security_headers.PAGE_CSP``) lets only
the ledger's own scripts run; the viewer's validator badge, which would call a public
service, is off. To update the viewer: ``npm pack swagger-ui-dist@<version>``, copy
the same files from the tarball, change ``VIEWER``.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.static_files import create_static_files_router

__all__ = ["ASSETS", "ASSETS_PATH", "VIEWER", "SwaggerUIPlugin", "assets_router"]

VIEWER = "swagger-ui-dist 5.35.0"
ASSETS = Path(__file__).with_name("assets")
ASSETS_PATH = "/schema-assets"


def assets_router() -> Router:
    """The viewer's files, cached for a day (they change only with ``VIEWER``)."""
    return create_static_files_router(
        path=ASSETS_PATH, directories=[ASSETS], name="docs-assets",
        cache_control=CacheControlHeader(max_age=86400, public=True),
        include_in_schema=False)


class SwaggerUIPlugin(OpenAPIRenderPlugin):
    """Renders the page from the ledger's own copy of Swagger UI."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = escape(str(openapi_schema["info"]["title"]))
        schema_url = escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
</head>
<body>
<noscript>La documentation de l'API demande JavaScript; le schéma brut est à
<a href="{schema_url}">{schema_url}</a>. / The API documentation needs JavaScript; the
raw schema is at <a href="{schema_url}">{schema_url}</a>.</noscript>
<div id="swagger-ui" data-schema-url="{schema_url}"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/docs-init.js"></script>
</body>
</html>
""".encode()
