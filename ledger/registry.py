"""Organizations and their keys, as a pure state replayed from ``org/<id>`` events.

Key validity is defined by log position: a key added at position ``a`` signs events at
positions ``> a``; a key revoked at position ``r`` signs nothing after ``r`` (the
revocation itself may be signed by the key it revokes). Earlier events stay valid.

The same rules serve the store (fed with key rows read under the log lock) and the
offline auditor (fed with the bundle's own history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from . import b64
from .errors import ForeignKey, MalformedStatement, Rejected, RevokedKey, UnknownKey
from .keys import key_id as compute_key_id
from .profile import check_name, check_profile
from .statement import Statement

__all__ = [
    "ORG_KEY_ADDED",
    "ORG_KEY_REVOKED",
    "ORG_REGISTERED",
    "KeyRecord",
    "Registry",
    "check_org_statement",
]

ORG_REGISTERED = "organization.registered"
ORG_KEY_ADDED = "organization.key_added"
ORG_KEY_REVOKED = "organization.key_revoked"
ORG_PROFILE_UPDATED = "organization.profile_updated"
ORG_TYPES = frozenset({ORG_REGISTERED, ORG_KEY_ADDED, ORG_KEY_REVOKED, ORG_PROFILE_UPDATED})


@dataclass(slots=True)
class KeyRecord:
    """One signing key: who holds it, since when, until when (log positions)."""

    key_id: str
    org_id: str
    public_key: bytes
    added_at: int
    revoked_at: int | None = None

    def valid_at(self, position: int) -> bool:
        """True when this key may sign the event at ``position``."""
        return self.added_at <= position and (
            self.revoked_at is None or position <= self.revoked_at
        )


class RegistrationData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    public_key: str
    profile: dict[str, Any] = {}


class KeyAddedData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    public_key: str
    label: str = ""


class KeyRevokedData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key_id: str
    reason: str


class ProfileData(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str | None = None
    profile: dict[str, Any] = {}


_DATA_TYPES: dict[str, type[msgspec.Struct]] = {
    ORG_REGISTERED: RegistrationData,
    ORG_KEY_ADDED: KeyAddedData,
    ORG_KEY_REVOKED: KeyRevokedData,
    ORG_PROFILE_UPDATED: ProfileData,
}


def _data(st: Statement) -> Any:
    kind = _DATA_TYPES.get(st.type)
    if kind is None:
        raise Rejected(
            "organization.unknown-type",
            f"type {st.type!r} is not an organization event ({', '.join(sorted(ORG_TYPES))})",
            field="type",
        )
    try:
        return msgspec.convert(st.data, kind)
    except msgspec.ValidationError as exc:
        raise MalformedStatement(f"data: {exc}", field="data") from exc


def _public_key(text: str) -> bytes:
    try:
        raw = b64.decode(text)
    except ValueError as exc:
        raise MalformedStatement(f"public_key: {exc}", field="data.public_key") from exc
    if len(raw) != 32:
        raise MalformedStatement(
            f"wrong public key size {len(raw)}, want 32", field="data.public_key"
        )
    return raw


@dataclass(slots=True)
class Registry:
    """Known keys by id. Mutated in place by ``apply``; copy it to keep a snapshot."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)

    def signer_key(self, st: Statement, position: int) -> KeyRecord:
        """The key that must carry the actor's signature of ``st`` at ``position``.

        For a registration the key is the one being registered (self-signed).
        """
        if st.type == ORG_REGISTERED and st.stream == f"org/{st.actor}":
            data = _data(st)
            raw = _public_key(data.public_key)
            kid = compute_key_id(raw)
            if kid != st.key:
                raise MalformedStatement(
                    f"key {st.key} is not the id of the registered public key ({kid})",
                    field="key",
                )
            return KeyRecord(kid, st.actor, raw, position)
        record = self.keys.get(st.key)
        if record is None:
            raise UnknownKey(f"key {st.key} is not registered in this ledger", field="key")
        if record.org_id != st.actor:
            raise ForeignKey(
                f"key {st.key} belongs to {record.org_id}, not to {st.actor}", field="key"
            )
        if not record.valid_at(position):
            raise RevokedKey(
                f"key {st.key} was revoked at position {record.revoked_at}; "
                f"this event would be at position {position}",
                field="key",
            )
        return record

    def lookup(self, kid: str, position: int) -> KeyRecord | None:
        """A key valid at ``position``, whoever holds it, or None."""
        record = self.keys.get(kid)
        if record is None or not record.valid_at(position):
            return None
        return record

    def apply(self, st: Statement, position: int) -> None:
        """Record the key effects of an already-checked org statement."""
        if st.stream_kind != "org":
            return
        if st.type == ORG_REGISTERED:
            data = st.data
            raw = b64.decode(data["public_key"])
            self.keys[st.key] = KeyRecord(st.key, st.actor, raw, position)
        elif st.type == ORG_KEY_ADDED:
            raw = b64.decode(st.data["public_key"])
            kid = compute_key_id(raw)
            self.keys[kid] = KeyRecord(kid, st.actor, raw, position + 1)
        elif st.type == ORG_KEY_REVOKED:
            record = self.keys.get(st.data["key_id"])
            if record is not None and record.revoked_at is None:
                record.revoked_at = position


def check_org_statement(st: Statement, registry: Registry, position: int) -> None:
    """The core's rules for ``org/<id>`` streams. Raises a LedgerError if refused.

    * only the organization itself speaks in its stream;
    * version 1 is the registration, self-signed with the first key;
    * a key is never registered twice (by anyone);
    * a revocation names a key of the same organization still valid, and never the
      organization's last valid key.
    """
    org = st.stream_key
    if st.actor != org:
        raise Rejected(
            "organization.not-self",
            f"{st.actor} cannot make statements in {st.stream}; an organization speaks "
            "only for itself",
            field="actor",
        )
    data = _data(st)
    if st.type == ORG_REGISTERED:
        if st.version != 1:
            raise Rejected("organization.already-registered",
                           f"{org} is already registered", field="type")
        raw = _public_key(data.public_key)
        if compute_key_id(raw) in registry.keys:
            raise Rejected("key.already-registered",
                           "this public key is already registered", field="data.public_key")
        if not data.name.strip():
            raise MalformedStatement("name must not be empty", field="data.name")
        check_name(data.name)
        check_profile(data.profile)
        return
    if st.version == 1:
        raise Rejected("organization.not-registered",
                       f"{org} must first register (organization.registered)", field="type")
    if st.type == ORG_PROFILE_UPDATED:
        if data.name is not None:
            check_name(data.name)
        check_profile(data.profile)
    elif st.type == ORG_KEY_ADDED:
        raw = _public_key(data.public_key)
        if compute_key_id(raw) in registry.keys:
            raise Rejected("key.already-registered",
                           "this public key is already registered", field="data.public_key")
    elif st.type == ORG_KEY_REVOKED:
        target = registry.keys.get(data.key_id)
        if target is None or target.org_id != org:
            raise Rejected("key.not-own", f"{data.key_id} is not a key of {org}",
                           field="data.key_id")
        if target.revoked_at is not None:
            raise Rejected("key.already-revoked", f"{data.key_id} is already revoked",
                           field="data.key_id")
        others = [
            k for k in registry.keys.values()
            if k.org_id == org and k.key_id != data.key_id and k.revoked_at is None
        ]
        if not others:
            raise Rejected(
                "key.last-key",
                "cannot revoke the organization's last valid key; add a new key first",
                field="data.key_id",
            )
