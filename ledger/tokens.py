"""Bearer tokens, as stored: only their hashes.

A token is ``ml_`` + 32 random bytes in URL-safe base64 (no padding). The ledger keeps
only SHA-256(token), plus the token's first characters (``prefix``) so people can tell
tokens apart in a list. Four kinds: ``org`` (reads what concerns the organization
named by its subject), ``auditor`` and ``trust`` (read everything), and
``registration`` (admits one organization's registration, once: the operator's
admission credential; its subject is a note saying for whom).

Listing and finding tokens is SQL over the tokens tables of migrations 0002 and 0005;
creating, revoking and using a registration token go through the SECURITY DEFINER
functions of 0005, the only writes the runtime login may make to those tables. The
HTTP side (who may read what) is in ``api/auth.py``, the command line in ``ledger
token``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import asyncpg

from .admission import (
    Admitted,
    Receipt,
    RegistrationGate,
    RegistrationTokenInvalid,
    RegistrationTokenUsed,
    registration_to_admit,
)
from .statement import ORG_ID_PATTERN

__all__ = [
    "KINDS",
    "READ_KINDS",
    "TOKEN_PREFIX",
    "Kind",
    "TokenError",
    "TokenRecord",
    "admit_registration",
    "create_token",
    "find_token",
    "hash_token",
    "list_tokens",
    "lookup_token",
    "revoke_token",
    "use_registration_token",
]

Kind = Literal["org", "auditor", "trust", "registration"]
KINDS: tuple[Kind, ...] = ("org", "auditor", "trust", "registration")
READ_KINDS: tuple[Kind, ...] = ("org", "auditor", "trust")
TOKEN_PREFIX = "ml_"
PREFIX_CHARS = 10  # "ml_" + 7 characters (42 of the 256 random bits)
_TOKEN_RE = re.compile(r"^ml_[A-Za-z0-9_-]{43}$")
_ORG_RE = re.compile(ORG_ID_PATTERN)
_ID_RE = re.compile(r"^[0-9a-f]{12}$")


class TokenError(ValueError):
    """A token command cannot be done (bad subject, unknown or ambiguous token)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    prefix: str
    kind: str
    subject: str
    created_at: datetime
    revoked_at: datetime | None = None
    used_at: datetime | None = None  # when a registration token admitted its registration

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "prefix": self.prefix,
            "kind": self.kind,
            "subject": self.subject,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "used_at": self.used_at.isoformat() if self.used_at else None,
        }


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


# --- storage (SQL over the tokens tables of migration 0002) ----------------------------

_SELECT = ("SELECT t.id, t.prefix, t.kind, t.subject, t.created_at, r.revoked_at, u.used_at "
           "FROM tokens t LEFT JOIN token_revocations r ON r.token_id = t.id "
           "LEFT JOIN registration_token_uses u ON u.token_id = t.id ")


def _record(row: asyncpg.Record) -> TokenRecord:
    return TokenRecord(row["id"], row["prefix"], row["kind"], row["subject"],
                       row["created_at"], row["revoked_at"], row["used_at"])


def _check_subject(kind: str, subject: str) -> None:
    if kind not in KINDS:
        raise TokenError(f"unknown token kind {kind!r}, want one of {', '.join(KINDS)}")
    if kind == "org" and not _ORG_RE.match(subject):
        raise TokenError(f"organization id {subject!r} does not match {ORG_ID_PATTERN}")
    if not subject.strip() or len(subject) > 200 or any(c < " " for c in subject):
        raise TokenError("subject must be 1 to 200 printable characters")


async def create_token(conn: asyncpg.Connection, kind: str,
                       subject: str) -> tuple[str, TokenRecord]:
    """Create a token; returns it (shown once, never stored) and its record."""
    _check_subject(kind, subject)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = secrets.token_hex(6)
    created_at = await conn.fetchval(
        "SELECT ledger_issue_token($1, $2, $3, $4, $5)",
        token_id, hash_token(token), token[:PREFIX_CHARS], kind, subject)
    return token, TokenRecord(token_id, token[:PREFIX_CHARS], kind, subject, created_at)


async def lookup_token(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> TokenRecord | None:
    """The record of a token, revoked or not; None if unknown or malformed."""
    if not _TOKEN_RE.match(token):
        return None
    row = await conn.fetchrow(_SELECT + "WHERE t.token_hash = $1", hash_token(token))
    return None if row is None else _record(row)


async def list_tokens(conn: asyncpg.Connection) -> list[TokenRecord]:
    rows = await conn.fetch(_SELECT + "ORDER BY t.created_at, t.id")
    return [_record(r) for r in rows]


async def find_token(conn: asyncpg.Connection, ref: str) -> TokenRecord:
    """A token by id, by the whole token, or by a unique prefix (at least 6 characters)."""
    if _TOKEN_RE.match(ref):
        found = await lookup_token(conn, ref)
        rows = [found] if found else []
    elif _ID_RE.match(ref):
        rows = [_record(r) for r in await conn.fetch(_SELECT + "WHERE t.id = $1", ref)]
    elif ref.startswith(TOKEN_PREFIX) and len(ref) >= 6:
        probe = ref[:PREFIX_CHARS]
        rows = [_record(r) for r in await conn.fetch(
            _SELECT + "WHERE starts_with(t.prefix, $1) ORDER BY t.created_at", probe)]
    else:
        raise TokenError(f"{ref!r} is neither a token id (12 hex digits) nor a token prefix "
                         f"({TOKEN_PREFIX}... at least 6 characters)")
    if not rows:
        raise TokenError(f"no token matches {ref!r}")
    if len(rows) > 1:
        ids = ", ".join(r.id for r in rows)
        raise TokenError(f"{ref!r} matches several tokens ({ids}); give the token id")
    return rows[0]


async def revoke_token(conn: asyncpg.Connection, ref: str) -> tuple[TokenRecord, bool]:
    """Revoke a token (see :func:`find_token`); returns its record and whether it was
    revoked now (False if it already was)."""
    record = await find_token(conn, ref)
    if record.revoked_at is not None:
        return record, False
    revoked_at = await conn.fetchval("SELECT ledger_revoke_token($1)", record.id)
    if revoked_at is None:  # revoked concurrently
        return await find_token(conn, record.id), False
    return TokenRecord(record.id, record.prefix, record.kind, record.subject,
                       record.created_at, revoked_at, record.used_at), True


async def use_registration_token(conn: asyncpg.Connection, token: str, org_id: str,
                                 event_hash: str) -> str:
    """Record that ``token`` admitted the registration ``event_hash`` of ``org_id``, in
    the caller's transaction. Answers ``ok``, or why not (nothing written): ``unknown``
    (also for a malformed token), ``wrong-kind``, ``revoked`` or ``used``."""
    if not _TOKEN_RE.match(token):
        return "unknown"
    status: str = await conn.fetchval(
        "SELECT ledger_use_registration_token($1, $2, $3)",
        hash_token(token), org_id, bytes.fromhex(event_hash))
    return status


_REFUSALS = {
    "unknown": "unknown registration token",
    "wrong-kind": "this token is not a registration token (ledger token create --registration)",
    "revoked": "this registration token was revoked",
}


async def admit_registration(conn: asyncpg.Connection, gate: RegistrationGate | None,
                             placed: Sequence[Admitted | Receipt]) -> None:
    """Use the gate's token for the batch's new registration, if it has one, in the
    caller's transaction; raise the typed refusal (nothing written) otherwise."""
    item = registration_to_admit(gate, placed)
    if item is None:
        return
    assert gate is not None and gate.token is not None  # registration_to_admit checked
    index = placed.index(item)
    st = item.candidate.statement
    status = await use_registration_token(conn, gate.token, st.actor, item.candidate.event_hash)
    if status == "ok":
        return
    if status == "used":
        raise RegistrationTokenUsed(
            "this registration token already admitted another registration; ask the "
            "ledger's operator for a new one", field="type").at(index)
    raise RegistrationTokenInvalid(_REFUSALS.get(status, status), field="type").at(index)
