"""One organization's history, folded from its ``org/<id>`` stream: the one definition.

Why here, once: admission (``ledger.registry``), the provenance answers, the
``/v1/organizations`` route and the client all need what an organization's stream says
— its registration, profile, keys added and revoked, and above all *which key may sign
at which log position*. Written three times, the rule drifted; here it is written once.
Pure: no I/O, no database, no HTTP.

Key validity by log position:

* the key of a registration (self-signed: the statement's ``key``) signs from the
  registration's position ``p`` on;
* a key added at ``p`` signs from ``p + 1`` (the addition is signed by an older key);
* a key revoked at ``r`` signs up to ``r`` inclusive (the revocation may be signed by the
  key it revokes) and nothing after; a second revocation of it changes nothing.

The profile: the registration's ``name`` and ``profile``, then each
``organization.profile_updated`` in order — a new ``name`` replaces the old, and the
``profile`` members it carries replace those of the same name (a member set to null
removes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

import msgspec

from . import b64
from .keys import key_id as compute_key_id

__all__ = [
    "ORG_KEY_ADDED",
    "ORG_KEY_REVOKED",
    "ORG_PROFILE_UPDATED",
    "ORG_REGISTERED",
    "ORG_TYPES",
    "HeldKey",
    "KeyAdded",
    "KeyRevoked",
    "OrgEvent",
    "OrgHistory",
    "apply",
    "fold",
    "key_effect",
    "key_id_of",
]

ORG_REGISTERED = "organization.registered"
ORG_KEY_ADDED = "organization.key_added"
ORG_KEY_REVOKED = "organization.key_revoked"
ORG_PROFILE_UPDATED = "organization.profile_updated"
ORG_TYPES = frozenset({ORG_REGISTERED, ORG_KEY_ADDED, ORG_KEY_REVOKED, ORG_PROFILE_UPDATED})


class KeyAdded(NamedTuple):
    """A key an event introduces: its id, raw public key, first position it signs."""

    key_id: str
    public_key: bytes
    valid_from: int
    label: str


class KeyRevoked(NamedTuple):
    """A key an event revokes, at the event's position."""

    key_id: str
    position: int
    reason: str | None


def key_id_of(public_key: Any) -> str | None:
    """The key id (hex SHA-256) of a base64 public key; None when it is not one."""
    raw = _raw(public_key)
    return None if raw is None else compute_key_id(raw)


def _raw(public_key: Any) -> bytes | None:
    if not isinstance(public_key, str):
        return None
    try:
        return b64.decode(public_key)
    except ValueError:
        return None


def key_effect(type_: str, data: Mapping[str, Any], key: str,
               position: int) -> KeyAdded | KeyRevoked | None:
    """What an organization event at ``position`` does to its keys (see the module
    docstring); None for events that touch no key or whose key data is unreadable."""
    if type_ == ORG_REGISTERED:
        raw = _raw(data.get("public_key"))
        return None if raw is None else KeyAdded(key, raw, position, "")
    if type_ == ORG_KEY_ADDED:
        raw = _raw(data.get("public_key"))
        if raw is None:
            return None
        label = data.get("label", "")
        return KeyAdded(compute_key_id(raw), raw, position + 1,
                        label if isinstance(label, str) else "")
    if type_ == ORG_KEY_REVOKED:
        reason = data.get("reason")
        return KeyRevoked(str(data.get("key_id")), position,
                          reason if isinstance(reason, str) else None)
    return None


class HeldKey(msgspec.Struct, gc=False):
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
    public_key: bytes = b""

    def valid_at(self, position: int) -> bool:
        """True when this key may sign the event at ``position``."""
        return self.valid_from <= position and (
            self.revoked_at is None or position <= self.revoked_at)


class OrgHistory(msgspec.Struct, gc=False):
    """An organization as its stream says, folded up to ``version``."""

    org: str
    version: int = 0
    registered_at: int | None = None
    head_hash: str = ""
    name: str = ""
    profile: dict[str, Any] = {}
    keys: dict[str, HeldKey] = {}


class OrgEvent(Protocol):
    """What the fold reads of an entry of the stream (the store's, provenance's...)."""

    @property
    def position(self) -> int: ...
    @property
    def version(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def actor(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def recorded_at(self) -> str: ...
    @property
    def event_hash(self) -> str: ...


def apply(history: OrgHistory, event: OrgEvent) -> None:
    """Fold one entry of ``org/<org>`` (in stream order) into ``history``, in place.

    An entry at or below the version already folded is ignored, so catching up twice
    (two readers refreshing one cache) never replays history over itself. Only the
    organization itself speaks in its stream (the rules refuse anyone else; an entry
    by another actor changes nothing here)."""
    if event.version <= history.version:
        return
    history.version = event.version
    history.head_hash = event.event_hash
    if event.actor != history.org:
        return
    data = event.data
    if event.type == ORG_REGISTERED:
        history.registered_at = event.position
        name = data.get("name")
        history.name = name if isinstance(name, str) else ""
        profile = data.get("profile", {})
        history.profile = dict(profile) if isinstance(profile, dict) else {}
    elif event.type == ORG_PROFILE_UPDATED:
        if isinstance(data.get("name"), str):
            history.name = data["name"]
        profile = data.get("profile", {})
        for member, value in (profile.items() if isinstance(profile, dict) else ()):
            if value is None:
                history.profile.pop(member, None)
            else:
                history.profile[member] = value
    effect = key_effect(event.type, data, event.key, event.position)
    if isinstance(effect, KeyAdded):
        if effect.key_id not in history.keys:
            history.keys[effect.key_id] = HeldKey(
                effect.key_id, history.org, effect.valid_from, event.position,
                event.recorded_at, effect.label, public_key=effect.public_key)
    elif isinstance(effect, KeyRevoked):
        record = history.keys.get(effect.key_id)
        if record is not None and record.revoked_at is None:
            record.revoked_at = effect.position
            record.revoked_recorded_at = event.recorded_at
            record.revocation_reason = effect.reason


def fold(org: str, events: Iterable[OrgEvent]) -> OrgHistory:
    """The history of ``org`` from its stream's entries (in stream order)."""
    history = OrgHistory(org)
    for event in events:
        apply(history, event)
    return history
