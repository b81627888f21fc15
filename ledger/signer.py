"""Build and sign statements on the organization's side.

A ``Signer`` holds one organization's private key and the ledger id it speaks to, and
turns (stream, version, prev, type, data) into a signed DSSE envelope. The ledger
never sees the private key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import b64
from .envelope import Envelope, seal
from .keys import Ed25519PrivateKey, key_id, raw_public_key
from .registry import ORG_KEY_ADDED, ORG_KEY_REVOKED, ORG_REGISTERED
from .statement import Statement, format_time

__all__ = ["Signer"]


class Signer:
    """Signs statements as ``org_id`` with ``key`` for the ledger ``ledger_id``."""

    def __init__(
        self,
        org_id: str,
        key: Ed25519PrivateKey,
        ledger_id: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.org_id = org_id
        self.key = key
        self.ledger_id = ledger_id
        self.clock = clock

    @property
    def key_id(self) -> str:
        return key_id(self.key)

    @property
    def stream(self) -> str:
        return f"org/{self.org_id}"

    def now(self) -> str:
        return format_time(datetime.fromtimestamp(self.clock(), UTC))

    def statement(
        self,
        stream: str,
        version: int,
        prev: str | None,
        type: str,
        data: dict[str, Any],
        *,
        issued_at: str | None = None,
    ) -> Statement:
        return Statement(
            ledger=self.ledger_id,
            stream=stream,
            version=version,
            prev=prev,
            type=type,
            data=data,
            actor=self.org_id,
            key=self.key_id,
            issued_at=issued_at or self.now(),
        )

    def sign(self, statement: Statement, *cosigners: Ed25519PrivateKey) -> Envelope:
        """Seal ``statement`` with this organization's key (and any co-signers)."""
        return seal(statement, self.key, *cosigners)

    def event(
        self,
        stream: str,
        version: int,
        prev: str | None,
        type: str,
        data: dict[str, Any],
        *,
        issued_at: str | None = None,
    ) -> Envelope:
        """Build and sign in one step."""
        return self.sign(self.statement(stream, version, prev, type, data,
                                        issued_at=issued_at))

    def registration(self, name: str, **profile: Any) -> Envelope:
        """The self-signed ``organization.registered`` event (version 1 of the org stream)."""
        data: dict[str, Any] = {"name": name, "public_key": b64.encode(raw_public_key(self.key))}
        if profile:
            data["profile"] = profile
        return self.event(self.stream, 1, None, ORG_REGISTERED, data)

    def key_addition(self, version: int, prev: str, new_key: Ed25519PrivateKey,
                     label: str = "") -> Envelope:
        data: dict[str, Any] = {"public_key": b64.encode(raw_public_key(new_key))}
        if label:
            data["label"] = label
        return self.event(self.stream, version, prev, ORG_KEY_ADDED, data)

    def key_revocation(self, version: int, prev: str, revoked_key_id: str,
                       reason: str = "rotation") -> Envelope:
        return self.event(self.stream, version, prev, ORG_KEY_REVOKED,
                          {"key_id": revoked_key_id, "reason": reason})
