"""The standalone verifier (``static/verify.html``) as the ledger serves it, at
``/verify.html`` (the register's download link) and ``/static/verify.html``.

Why a route of its own: the file's one inline module script is allowed by its hash in
the file's ``<meta>`` Content-Security-Policy, and a browser enforces every policy it is
given. Served as a plain static file it would get the pages' policy (``script-src
'self'``, no inline script) on top of its own, and do nothing. It is sent with its own
policy instead (the one of its ``<meta>``, which make_html.py keeps in step with the
script's hash), plus what only a header can say (``frame-ancestors``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from litestar import Response, get

__all__ = ["standalone_verifier"]

_META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">')


@cache
def _file() -> tuple[bytes, str]:
    """The file and the policy it carries (read once: it changes with a release)."""
    body = (Path(__file__).with_name("static") / "verify.html").read_bytes()
    found = _META.search(body.decode())
    if found is None:  # make_html.py always writes one; without it, allow no script
        return body, "default-src 'none'; frame-ancestors 'none'"
    return body, found[1] + "; frame-ancestors 'none'"


@get(["/verify.html", "/static/verify.html"], include_in_schema=False)
async def standalone_verifier() -> Response[bytes]:
    """verify.html with the Content-Security-Policy that lets its script run."""
    body, policy = _file()
    return Response(body, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": policy, "Cache-Control": "public, max-age=3600"})
