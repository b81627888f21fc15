"""Rendering a page: the Jinja2 environment, the page's language, its headers, and the
error page every refusal becomes.

Why Jinja2: it is the template engine Litestar supports first (``litestar[jinja]``),
autoescapes HTML, compiles templates once per process and is widely kept. The
environment is ours (not Litestar's ``TemplateConfig``) so that an error raised
anywhere in a page's reads can be rendered as a page with the same words and layout.

Each page sets its own Content-Security-Policy (``WEB_CSP``): the ledger's own scripts
and styles only, no inline script or style, forms sent to the ledger only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response

from ledger.errors import LedgerError, NotFound, Unavailable
from ledger.reads import DATABASE_DOWN
from ledger.store import UNAVAILABLE_DETAIL

from ..problems import RequestMalformed, status_of
from ..security_headers import WEB_CSP
from .i18n import Words, choose_lang, words

__all__ = ["LANG_COOKIE", "Page", "error_page", "not_found_page", "page_of", "wants_page"]

TEMPLATES = Path(__file__).with_name("templates")
LANG_COOKIE = "lang"

_env = Environment(loader=FileSystemLoader(TEMPLATES),
                   autoescape=select_autoescape(["html"]), trim_blocks=True,
                   lstrip_blocks=True, auto_reload=False)


class Page:
    """What every template gets: the request's language and a link helper."""

    def __init__(self, request: Request[Any, Any, Any]) -> None:
        query = request.query_params.get("lang")
        self.lang = choose_lang(query, request.cookies.get(LANG_COOKIE),
                                request.headers.get("accept-language"))
        self.t: Words = words(self.lang)
        self.path = request.url.path
        self.query = {k: v for k, v in request.query_params.items() if k != "lang"}
        self.set_cookie = query in ("fr", "en")
        self.has_token = bool(request.headers.get("authorization"))

    def switch_url(self) -> str:
        """This page in the other language."""
        other = "en" if self.lang == "fr" else "fr"
        return self.path + "?" + urlencode({**self.query, "lang": other})

    def url(self, path: str, **query: object) -> str:
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return path + ("?" + urlencode(kept) if kept else "")


def page_of(request: Request[Any, Any, Any], template: str, context: Mapping[str, Any],
            status: int = 200, extra: Mapping[str, str] | None = None) -> Response[bytes]:
    """Render ``template`` with ``context`` as an HTML answer of the request's language."""
    page = Page(request)
    html = _env.get_template(template).render(page=page, t=page.t, **context)
    headers = {"Content-Security-Policy": WEB_CSP, "Content-Language": page.lang,
               "Vary": "Accept-Language, Cookie, Authorization",
               "Cache-Control": "no-store", **(extra or {})}
    response = Response(html.encode(), status_code=status, headers=headers,
                        media_type="text/html; charset=utf-8")
    if page.set_cookie:
        response.set_cookie(LANG_COOKIE, page.lang, max_age=365 * 86400, samesite="lax",
                            httponly=True)
    return response


def error_page(request: Request[Any, Any, Any], exc: BaseException) -> Response[bytes]:
    """A refusal or an absence as a page: its status, its words, and the API's detail.
    The database down is "unavailable, retry" (503); a value PostgreSQL cannot hold (a
    NUL character) a malformed request (400), as the API answers them."""
    if not isinstance(exc, LedgerError):
        exc = (Unavailable(UNAVAILABLE_DETAIL) if isinstance(exc, DATABASE_DOWN)
               else RequestMalformed("a parameter holds a character that cannot be stored or "
                              "searched (U+0000)"))
    status = status_of(exc)
    key = {404: "error.404", 401: "error.401", 403: "error.403"}.get(status, "error.other")
    return page_of(request, "error.html", {
        "status": status, "heading": key, "detail": exc.detail, "code": exc.code,
        "token_hint": status in (401, 403) and not isinstance(exc, NotFound)}, status,
        {"Retry-After": "1"} if status == 503 else None)


def wants_page(request: Request[Any, Any, Any]) -> bool:
    """A browser asking for a page (not the API, its docs or a file)."""
    path = request.url.path
    return "text/html" in request.headers.get("accept", "") and not path.startswith(
        ("/v1/", "/schema", "/static/", "/metrics", "/healthz", "/readyz"))


def not_found_page(request: Request[Any, Any, Any]) -> Response[bytes]:
    """An address that is no page, for a browser: the 404 page."""
    return error_page(request, NotFound(f"no page {request.url.path}"))
