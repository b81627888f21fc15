"""What provenance is built from: log entries, key histories, the latest checkpoint.

Why its own types: the answers need what the log knows about each event (position,
ledger time, event hash, leaf hash) beside what the organization signed (type, data,
actor, key, claimed time). The shell reads those from the store and hands them over as
``Entry`` values; nothing here does I/O.

Key validity is ``ledger.orghistory``'s, the one fold of an organization's stream: a
key registered at position ``p`` signs from ``p`` (the registration is self-signed), a
key added at ``p`` signs from ``p + 1``, and a key revoked at ``r`` signs up to ``r``
inclusive (the revocation may be signed by the key it revokes). ``OrgKeys`` is that
fold of the organization's own ``org/<id>`` stream, so the revocation reason and times
come with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from ..domain.catalogue import Fact
from ..orghistory import (
    ORG_KEY_ADDED,
    ORG_KEY_REVOKED,
    ORG_REGISTERED,
    HeldKey,
    OrgHistory,
    apply,
    fold,
)

__all__ = [
    "ORG_KEY_ADDED",
    "ORG_KEY_REVOKED",
    "ORG_REGISTERED",
    "CheckpointInfo",
    "Entry",
    "KeyValidity",
    "OrgKeys",
    "apply_org_entry",
    "key_verdict",
    "org_keys",
]

class Entry(msgspec.Struct, frozen=True, gc=False):
    """One log entry as provenance sees it.

    ``recorded_at`` is the ledger's time (RFC 3339 UTC with microseconds), ``issued_at``
    the time the actor claims, ``event_hash`` the hex SHA-256 of the signed payload and
    ``leaf_hash`` the RFC 9162 leaf hash of the entry (empty when unknown).
    """

    position: int
    recorded_at: str
    stream: str
    version: int
    event_hash: str
    type: str
    data: dict[str, Any]
    actor: str
    key: str
    issued_at: str
    leaf_hash: bytes = b""

    @property
    def family(self) -> str:
        """The event family: the first segment of the type (``commitment``, ``party``...)."""
        return self.type.split(".", 1)[0]

    @property
    def stream_kind(self) -> str:
        return self.stream.split("/", 1)[0]

    @property
    def stream_key(self) -> str:
        return self.stream.split("/", 1)[1] if "/" in self.stream else ""

    def fact(self) -> Fact:
        """The domain's view of this entry, for ``ledger.domain.evolve``."""
        return Fact(type=self.type, data=self.data, actor=self.actor,
                    issued_at=self.issued_at, stream_version=self.version, key=self.key,
                    position=self.position, recorded_at=self.recorded_at,
                    event_hash=self.event_hash)


class CheckpointInfo(msgspec.Struct, frozen=True):
    """The latest signed checkpoint: tree size, root hash and the signed note."""

    size: int
    root_hash: bytes
    note: str


#: One key of an organization and its validity range: ``ledger.orghistory``'s.
KeyValidity = HeldKey

#: Every key an organization ever held, folded from ``org/<org>``: ``ledger.orghistory``'s.
OrgKeys = OrgHistory


def apply_org_entry(keys: OrgKeys, entry: Entry) -> None:
    """Fold one ``org/<org>`` entry (in stream order) into ``keys``, in place
    (``ledger.orghistory.apply``: an entry already folded is ignored)."""
    apply(keys, entry)


def org_keys(org: str, entries: Iterable[Entry]) -> OrgKeys:
    """The key history of ``org`` from its stream's entries (in stream order)."""
    return fold(org, entries)


def key_verdict(keys: Mapping[str, OrgKeys], actor: str, key_id: str,
                position: int) -> dict[str, Any]:
    """What the key history says about ``key_id`` signing for ``actor`` at ``position``.

    ``valid``: the key belongs to the actor and may sign at that position.
    ``revoked_later``: it was revoked after that position (the event stays valid; see
    ``revocation_reason``, e.g. ``compromised``).
    """
    history = keys.get(actor)
    record = history.keys.get(key_id) if history is not None else None
    if record is None:
        return {"key_id": key_id, "known": False, "valid": False, "added_at": None,
                "revoked_at": None, "revoked_later": False, "revocation_reason": None}
    return {
        "key_id": key_id,
        "known": True,
        "valid": record.valid_at(position),
        "added_at": record.valid_from,
        "revoked_at": record.revoked_at,
        "revoked_later": record.revoked_at is not None and record.revoked_at > position,
        "revocation_reason": record.revocation_reason,
    }
