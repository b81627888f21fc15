"""Security headers on every HTTP answer: a ``before_send`` hook of the app.

Why: the API answers JSON, problem+json, Server-Sent Events and one HTML page (the
API documentation). None of it is meant to be sniffed as another type, framed by
another site, loaded by another origin as a script or image, or to leak its address
through a Referer. The hook runs on every response start the app sends (routed
answers, the append route's own answers, 404s and other errors alike), so no route
can forget them.

A response that sets its own ``Content-Security-Policy`` keeps it (the documentation
page sets one that lets its own scripts run, see :mod:`api.docs_ui`); every other
answer gets a policy that allows nothing, since a browser has nothing to run in JSON.
``Strict-Transport-Security`` is the TLS proxy's to send: the ledger itself speaks
plain HTTP behind it (docs/DEPLOYMENT.md).
"""

from __future__ import annotations

from litestar.types import Message, Scope

__all__ = ["API_CSP", "SECURITY_HEADERS", "add_security_headers"]

#: What a browser may do with an API answer: nothing (no scripts, styles, frames,
#: form targets or base URL).
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_CSP = b"content-security-policy"
_API_CSP = (_CSP, API_CSP.encode())


async def add_security_headers(message: Message, scope: Scope) -> None:
    """Add the headers to a response start (a new list: the message's own list may be
    shared by a response object that is sent again)."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or ())
    if not any(name.lower() == _CSP for name, _ in headers):
        headers.append(_API_CSP)
    headers.extend(SECURITY_HEADERS)
    message["headers"] = headers
