"""The register on the web: server-rendered pages at ``/``, served by the API's own
process and port (no other service, nothing to build).

``web_handlers()`` gives the pages (``pages.py``) and the router of their static files
(``/static``: the stylesheets, the pages' script and the in-browser verifier), and the
standalone verifier with its own policy (``standalone.py``). Words are
``i18n.py``'s, templates ``templates/``, charts plain SVG (``charts.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router

from .pages import PAGES
from .standalone import standalone_verifier

__all__ = ["STATIC", "web_handlers"]

STATIC = Path(__file__).with_name("static")


def web_handlers() -> list[Any]:
    """The pages and ``/static`` (cached for an hour: they change with a release)."""
    static = create_static_files_router(
        path="/static", directories=[STATIC], name="web-static",
        cache_control=CacheControlHeader(max_age=3600, public=True),
        include_in_schema=False)
    return [*PAGES, standalone_verifier, static]
