"""Bearer tokens for reading: who may read what.

Tokens and their storage are ``ledger.tokens``; this module is the HTTP side. A token
is ``ml_`` + 32 random bytes in URL-safe base64. Three kinds:

``org``      reads what concerns the organization named by its subject;
``auditor``  reads everything;
``trust``    reads everything (e.g. a trust service or witness).

A ``registration`` token reads nothing: it is the operator's admission credential for
one organization's registration, presented on ``POST /v1/events`` and consumed by the
store (``ledger.tokens.use_registration_token``). Other writes need no token: each
event is authenticated by its own signatures.

Guards for handlers: :func:`require_kinds` (any of the given kinds) and
:func:`require_org_reader` (the organization named by a path parameter, or an
auditor/trust). Both leave the :class:`Principal` on ``connection.state.principal``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from ledger.tokens import READ_KINDS, Kind, lookup_token

from .problems import Forbidden, TokenInvalid, TokenMissing

__all__ = [
    "Principal",
    "principal_of",
    "require_kinds",
    "require_org_reader",
]

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    token_id: str
    kind: str
    subject: str

    def reads_everything(self) -> bool:
        return self.kind in ("auditor", "trust")

    def can_read_org(self, org_id: str) -> bool:
        """Org tokens read their own organization; auditors and trusts read all."""
        return self.reads_everything() or (self.kind == "org" and self.subject == org_id)


# --- request side ------------------------------------------------------------------


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal of the request's bearer token; raises TokenMissing/TokenInvalid."""
    cached = getattr(connection.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise TokenMissing("send Authorization: Bearer <token>")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenMissing("the Authorization header must be 'Bearer <token>'")
    record = await lookup_token(connection.app.state.ledger.pool, token.strip())
    if record is None:
        raise TokenInvalid("unknown token")
    if record.revoked_at is not None:
        raise TokenInvalid("this token was revoked")
    principal = Principal(record.id, record.kind, record.subject)
    connection.state.principal = principal
    return principal


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The principal a guard left on the connection (use in guarded handlers only)."""
    principal: Principal = connection.state.principal
    return principal


def require_kinds(*kinds: Kind) -> Guard:
    """A guard admitting valid tokens of the given kinds (all reading kinds if none
    given: a registration token reads nothing)."""
    allowed = frozenset(kinds or READ_KINDS)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if principal.kind not in allowed:
            raise Forbidden(f"a {principal.kind} token cannot read this; "
                            f"needs one of: {', '.join(sorted(allowed))}")

    return guard


def require_org_reader(param: str = "org_id") -> Guard:
    """A guard admitting tokens that may read the organization in path parameter ``param``."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        org_id = str(connection.path_params.get(param, ""))
        if not principal.can_read_org(org_id):
            raise Forbidden(f"a token of {principal.subject} cannot read {org_id}")

    return guard
