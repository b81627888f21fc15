"""Bearer tokens for reading: who is asking, and the refusals of the reading policy.

Tokens and their storage are ``ledger.tokens``; this module is the HTTP side. A token
is ``ml_`` + 32 random bytes in URL-safe base64. Three kinds:

``org``      reads what concerns the organization named by its subject;
``auditor``  reads everything;
``trust``    reads what the organizations' consents to it cover (its subject is the
             trust's id), and public agreements.

What each may read is decided in one place, ``ledger.access`` (pure); a request's
:func:`reader` is its input, :func:`refusal` turns its "no" into a problem.

A ``registration`` token reads nothing: it is the operator's admission credential for
one organization's registration, presented on ``POST /v1/events`` and consumed by the
store (``ledger.tokens.use_registration_token``). Other writes need no token: each
event is authenticated by its own signatures.

Guards for handlers: :func:`require_kinds` (any of the given kinds) and
:func:`require_org_reader` (the organization named by a path parameter, or an
auditor/trust). Both leave the :class:`Principal` on ``connection.state.principal``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from ledger.access import READER_KINDS, AgreementAccess, Reader
from ledger.domain.state import AgreementState
from ledger.tokens import READ_KINDS, Kind, lookup_token

from .problems import Forbidden, TokenInvalid, TokenMissing

__all__ = [
    "ConsentMissing",
    "Principal",
    "optional_principal",
    "principal_of",
    "reader",
    "refusal",
    "require_kinds",
    "require_org_reader",
]

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]

#: The server's clock for the consent date (tests replace it).
clock: Callable[[], float] = time.time


def today() -> str:
    """The request date for consents (``YYYY-MM-DD``, UTC)."""
    return datetime.fromtimestamp(clock(), UTC).date().isoformat()


class ConsentMissing(Forbidden):
    """A trust asked for data no consent in force covers."""

    code = "consent-missing"
    title = "No consent in force covers this data"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token speaks for."""

    token_id: str
    kind: str
    subject: str

    def reads_everything(self) -> bool:
        """Auditors only: a trust reads what consents cover (``ledger.access``)."""
        return self.kind == "auditor"

    def can_read_org(self, org_id: str) -> bool:
        """Whether the token may open what concerns ``org_id`` (org tokens their own
        organization, auditors and trusts all, a trust then filtered by consent)."""
        return self.kind in ("auditor", "trust") or (
            self.kind == "org" and self.subject == org_id)

    def reader(self) -> Reader:
        for kind in READER_KINDS:
            if kind == self.kind:
                return Reader(kind, self.subject)
        return Reader("public")


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


async def optional_principal(connection: ASGIConnection[Any, Any, Any, Any]
                             ) -> Principal | None:
    """The principal of the request's token, or None when it sends none."""
    if not connection.headers.get("authorization"):
        return None
    return await authenticate(connection)


async def reader(connection: ASGIConnection[Any, Any, Any, Any]) -> Reader:
    """Who asks, for the reading policy (``public`` without a token)."""
    principal = await optional_principal(connection)
    return Reader("public") if principal is None else principal.reader()


def refusal(reader: Reader, state: AgreementState, access: AgreementAccess,
            when: str) -> Exception:
    """The problem for a reader the policy refused an agreement to."""
    if reader.kind == "public":
        return TokenMissing("this agreement is not public: send Authorization: Bearer <token>")
    if reader.kind == "trust":
        c = access.withheld
        org, reason, family = (c.org, c.reason, c.family) if c else ("", "missing", "agreement")
        detail = c.detail if c else ""
        return ConsentMissing(
            f"agreement {state.agreement_id}: no consent to {reader.subject} in force on "
            f"{when} covers {'all of ' if access.some else ''}it — {org}: {reason} "
            f"({detail})",
            organization=org, reason=reason, family=family,
            agreement_id=state.agreement_id, trust_id=reader.subject)
    return Forbidden(f"a token of {reader.subject} cannot read this agreement")


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
