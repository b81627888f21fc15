"""``POST /v1/events`` answered in front of Litestar's routing, when it succeeds.

Why: appends are the hot path, and on the benchmark machine Litestar's request
machinery (routing, middleware, parameter resolution, response objects) took about a
quarter of each append's time on the one event loop, enough to hold single-event
appends over HTTP at ~2,000/s with 16 clients (``docs/PERFORMANCE.md``). This route does
exactly what the controller's handler does (``append_events``, shared) and sends the
same 201 answer, counted in the same metrics.

Anything else goes to Litestar unchanged, so every refusal keeps one implementation:
a request without a ``Content-Length`` or larger than the body limit is handed over
before its body is read; a request whose append raised is handed over with its body
(read again from memory), and the controller's handler runs it again, which answers
with the same problem document: a refused append wrote nothing, so running it again
is what a client retry would do. The controller also keeps documenting the route in
the OpenAPI schema.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from .controllers.events import append_events
from .ratelimit import Caller

__all__ = ["install_append_route"]

PATH = "/v1/events"
_HEADERS = [(b"content-type", b"application/json")]


def install_append_route(app: Litestar, max_body: int) -> None:
    """Put the route in front of ``app``'s ASGI handler (lifespan untouched)."""
    app.asgi_handler = _append_route(app, app.asgi_handler, max_body)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _append_route(app: Litestar, litestar: ASGIApp, max_body: int) -> ASGIApp:
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != ScopeType.HTTP or scope["path"] != PATH
                or scope.get("method") != "POST"):
            await litestar(scope, receive, send)
            return
        length = _content_length(scope)
        if length is None or length > max_body:
            await litestar(scope, receive, send)
            return
        start = time.perf_counter()
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        state: Any = app.state
        try:
            answer = await append_events(state.ledger, state.write_policy, body,
                                         Caller.from_scope(scope))
        except Exception:  # every refusal is answered by Litestar (see above)
            await litestar(scope, _replay(body), send)
            return
        start_message: Any = {"type": "http.response.start", "status": 201,
                              "headers": [*_HEADERS, (b"content-length", b"%d" % len(answer))]}
        body_message: Any = {"type": "http.response.body", "body": answer}
        await send(start_message)
        await send(body_message)
        metrics = getattr(state, "metrics", None)
        if metrics is not None:
            metrics.observe_request("POST", PATH, 201, time.perf_counter() - start)

    return route


def _replay(body: bytes) -> Receive:
    """A ``receive`` that gives ``body`` once, then waits as a quiet client would."""
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
