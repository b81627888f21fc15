"""Read your writes over replicas: the ``Ledger-Position`` an answer reflects, and the
``min_position`` a read asks for.

Every read goes through the ``reads`` dependency, which asks the ledger's
``ReadRouter`` for a route (``ledger.reads.routing``): the position asked for comes
from the ``min_position`` query parameter or the ``Ledger-Min-Position`` header (the
larger if both), and the route's position is sent back as ``Ledger-Position`` (the
last log position the answer is known to reflect; -1 for an empty log). An append
answers the position of its last event. A client that sends that position with its
next read sees its append, whichever process and replica answer.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types import Message, Scope

from ledger.reads import Reads

from .problems import RequestMalformed

__all__ = ["MIN_POSITION_HEADER", "POSITION_HEADER", "add_position_header", "min_position_of",
           "note_position", "provide_reads", "read_from_replica"]

POSITION_HEADER = "Ledger-Position"
MIN_POSITION_HEADER = "Ledger-Min-Position"
_KEY = "ledger_position"
_SOURCE = "ledger_read_source"
_HEADER = POSITION_HEADER.lower().encode()


def note_position(scope: Scope, position: int) -> None:
    """Record that the answer to ``scope`` reflects the log up to ``position`` (the
    largest noted wins)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    if position > state.get(_KEY, -2):
        state[_KEY] = position


def _parse(value: str, where: str) -> int:
    try:
        position = int(value)
    except ValueError:
        position = -1
    if position < 0 or not value.strip().isdigit():
        raise RequestMalformed(f"{where} must be a log position (an integer ≥ 0), "
                               f"not {value[:40]!r}", field="min_position")
    return position


def min_position_of(request: Request[Any, Any, Any]) -> int | None:
    """The position the read must reflect at least (None: any)."""
    asked = []
    query = request.query_params.get("min_position")
    if query is not None:
        asked.append(_parse(query, "min_position"))
    header = request.headers.get(MIN_POSITION_HEADER)
    if header is not None:
        asked.append(_parse(header, MIN_POSITION_HEADER))
    return max(asked) if asked else None


async def provide_reads(request: Request[Any, Any, Any]) -> Reads:
    """The ``reads`` dependency: the routed pool for this request's read."""
    route = await request.app.state.ledger.router.route(min_position_of(request))
    note_position(request.scope, route.position)
    request.scope.setdefault("state", {})[_SOURCE] = route.source
    reads: Reads = route.reads
    return reads


def read_from_replica(request: Request[Any, Any, Any]) -> bool:
    """Whether this request's reads go to a replica. Then this process's log watermark
    (the primary's) says nothing of what the replica holds: a cache must not be
    trusted on it (``controllers.agreements.watermark``)."""
    state: Any = request.scope.get("state") or {}
    return bool(state.get(_SOURCE, "primary") != "primary")


async def add_position_header(message: Message, scope: Scope) -> None:
    """Before send: ``Ledger-Position`` on answers whose position was noted."""
    if message["type"] != "http.response.start":
        return
    state: Any = scope.get("state") or {}
    position = state.get(_KEY)
    if position is None:
        return
    message["headers"] = [*(message.get("headers") or ()),
                          (_HEADER, str(position).encode())]
