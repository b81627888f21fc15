"""What provenance is built from: log entries, key histories, the latest checkpoint.

Why its own types: the answers need what the log knows about each event (position,
ledger time, event hash, leaf hash) beside what the organization signed (type, data,
actor, key, claimed time). The shell reads those from the store and hands them over as
``Entry`` values; nothing here does I/O.

Key validity follows ``ledger.registry``: a key registered at position ``p`` signs from
``p`` (the registration is self-signed), a key added at ``p`` signs from ``p + 1``, and a
key revoked at ``r`` signs up to ``r`` inclusive (the revocation may be signed by the key
it revokes). ``OrgKeys`` is folded from the organization's own ``org/<id>`` stream, so the
revocation reason and times come with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from .. import b64
from ..domain.catalogue import Fact

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

ORG_REGISTERED = "organization.registered"
ORG_KEY_ADDED = "organization.key_added"
ORG_KEY_REVOKED = "organization.key_revoked"


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


class KeyValidity(msgspec.Struct, gc=False):
    """One signing key of an organization and its validity range (log positions)."""

    key_id: str
    org: str
    valid_from: int
    added_position: int
    added_recorded_at: str
    label: str = ""
    revoked_at: int | None = None
    revoked_recorded_at: str | None = None
    revocation_reason: str | None = None

    def valid_at(self, position: int) -> bool:
        """True when this key may sign the event at ``position``."""
        return self.valid_from <= position and (
            self.revoked_at is None or position <= self.revoked_at)


class OrgKeys(msgspec.Struct, gc=False):
    """Every key an organization ever held, folded from ``org/<org>`` up to ``version``."""

    org: str
    version: int = 0
    keys: dict[str, KeyValidity] = {}


def _key_id(public_key: Any) -> str | None:
    if not isinstance(public_key, str):
        return None
    try:
        return hashlib.sha256(b64.decode(public_key)).hexdigest()
    except ValueError:
        return None


def apply_org_entry(keys: OrgKeys, entry: Entry) -> None:
    """Record the key effect of one ``org/<org>`` entry (in stream order), in place.

    An entry at or below the version already folded is ignored, so catching up twice
    (two readers refreshing one cache) never replays history over itself."""
    if entry.version <= keys.version:
        return
    keys.version = entry.version
    if entry.actor != keys.org:
        return
    if entry.type == ORG_REGISTERED:
        keys.keys[entry.key] = KeyValidity(entry.key, keys.org, entry.position, entry.position,
                                       entry.recorded_at)
    elif entry.type == ORG_KEY_ADDED:
        kid = _key_id(entry.data.get("public_key"))
        if kid is not None and kid not in keys.keys:
            label = entry.data.get("label", "")
            keys.keys[kid] = KeyValidity(kid, keys.org, entry.position + 1, entry.position,
                                     entry.recorded_at,
                                     label if isinstance(label, str) else "")
    elif entry.type == ORG_KEY_REVOKED:
        record = keys.keys.get(str(entry.data.get("key_id")))
        if record is not None and record.revoked_at is None:
            record.revoked_at = entry.position
            record.revoked_recorded_at = entry.recorded_at
            reason = entry.data.get("reason")
            record.revocation_reason = reason if isinstance(reason, str) else None


def org_keys(org: str, entries: Iterable[Entry]) -> OrgKeys:
    """The key history of ``org`` from its stream's entries (in stream order)."""
    keys = OrgKeys(org)
    for entry in entries:
        apply_org_entry(keys, entry)
    return keys


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
