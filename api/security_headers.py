"""Security headers on every HTTP answer: a ``before_send`` hook of the app.

Why: the API answers JSON, problem+json, Server-Sent Events and one HTML page (the
API documentation). None of it is meant to be sniffed as another type, framed by
another site, loaded by another origin as a script or image, or to leak its address
through a Referer. The hook runs on every response start the app sends (routed
answers, the append route's own answers, 404s and other errors alike), so no route
can forget them.

A response that sets its own ``Content-Security-Policy`` keeps it: the register's
pages (:mod:`api.web`) send ``WEB_CSP``. An HTML page (the
API documentation, :mod:`api.docs_ui`) gets ``PAGE_CSP``, which lets the ledger's own
scripts and styles run and nothing from elsewhere; every other answer gets
``API_CSP``, which allows nothing, since a browser has nothing to run in JSON.
``Strict-Transport-Security`` is the TLS proxy's to send: the ledger itself speaks
plain HTTP behind it (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

from litestar.types import Message, Scope

__all__ = ["API_CSP", "PAGE_CSP", "SECURITY_HEADERS", "WEB_CSP", "add_security_headers"]

#: What a browser may do with an API answer: nothing (no scripts, styles, frames,
#: form targets or base URL).
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

#: What an HTML page of the ledger may do: its own scripts, styles, images and the
#: schema, nothing else. Styles allow 'unsafe-inline' because the documentation viewer
#: sets style attributes as it draws.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

#: What a page of the register (``api/web``) may do: the ledger's own scripts, styles
#: and images, fetches to the ledger, forms sent to the ledger (search, filters); no
#: inline script or style at all. The pages set it themselves.
WEB_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
           "form-action 'self'")

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_CSP = b"content-security-policy"
_API_CSP = (_CSP, API_CSP.encode())
_PAGE_CSP = (_CSP, PAGE_CSP.encode())


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Add the headers to a response start (a new list: the message's own list may be
    shared by a response object that is sent again)."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or ())
    html = False
    for name, value in headers:
        name = name.lower()
        if name == _CSP:
            break
        if name == b"content-type":
            html = value.startswith(b"text/html")
    else:  # no policy of its own
        headers.append(_PAGE_CSP if html else _API_CSP)
    headers.extend(SECURITY_HEADERS)
    message["headers"] = headers
