"""``POST /v1/events`` answered by a middleware of its own route, every answer once.

Why: appends are the hot path, and Litestar's per-request machinery behind the
routing (the request object, parameter and dependency resolution, the response
object) took about a quarter of each append's time on the one event loop
(``docs/PERFORMANCE.md``). This middleware sits on the route (Litestar routes the
request, runs the app's middleware and before-send hooks as for any route) and does
the append itself from the ASGI messages: it reads the body, runs ``append_events``
(shared with the controller's handler) once, and sends the 201 answer, or the problem
document of the error it raised, made by the same handler Litestar would call
(:func:`api.problems.problem_for`). Nothing is run twice: a refused append is
answered from its one run.

A request without a ``Content-Length``, or declaring more than the route's body limit,
goes on unread to the controller's handler, which reads the body under Litestar's
limit (``413`` beyond it) and runs the same ``append_events`` once. The controller
also documents the route in the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from .controllers.events import EventsController, append_events
from .problems import problem_for
from .ratelimit import Caller

__all__ = ["AppendMiddleware", "events_router"]

_HEADERS = [(b"content-type", b"application/json")]


def events_router() -> Router:
    """``EventsController`` with the append middleware on its route."""
    return Router(path="/", route_handlers=[EventsController], middleware=[AppendMiddleware])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class AppendMiddleware:
    """ASGI middleware of the ``POST /v1/events`` route (see the module's docstring)."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app  # the route's handler, behind Litestar's exception handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        handler = scope["route_handler"]
        limit = (handler.resolve_request_max_body_size()
                 if isinstance(handler, HTTPRouteHandler) else None)
        length = _content_length(scope)
        if length is None or limit is None or length > limit:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        state: Any = scope["litestar_app"].state
        try:
            answer = await append_events(state.ledger, state.write_policy, b"".join(chunks),
                                         Caller.from_scope(scope), scope=scope)
        except Exception as exc:  # a refusal (or a bug): answered as Litestar would
            request: Request[Any, Any, Any] = Request(scope, receive)
            await problem_for(request, exc).to_asgi_response(None, request)(
                scope, receive, send)
            return
        start: Any = {"type": "http.response.start", "status": 201,
                      "headers": [*_HEADERS, (b"content-length", b"%d" % len(answer))]}
        body: Any = {"type": "http.response.body", "body": answer}
        await send(start)
        await send(body)
