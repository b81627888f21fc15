"""Properties of the one fold of an organization's stream (``ledger.orghistory``).

Histories are drawn as the rules would accept them: a registration, then key
additions, revocations of a key still valid (never the last one) and profile updates,
each at a later log position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import b64
from ledger.keys import key_id
from ledger.orghistory import (
    ORG_KEY_ADDED,
    ORG_KEY_REVOKED,
    ORG_PROFILE_UPDATED,
    ORG_REGISTERED,
    OrgHistory,
    apply,
    fold,
)
from ledger.registry import Registry
from ledger.statement import Statement

ORG = "centre-arts"


@dataclass(frozen=True)
class Event:
    position: int
    version: int
    type: str
    data: dict[str, Any]
    actor: str
    key: str
    recorded_at: str
    event_hash: str

    def statement(self) -> Statement:
        return Statement("test", f"org/{self.actor}", self.version, None, self.type,
                         self.data, self.actor, self.key, self.recorded_at)


def _public(n: int) -> str:
    return b64.encode(n.to_bytes(32, "big"))


@st.composite
def histories(draw: st.DrawFn) -> list[Event]:
    position = draw(st.integers(0, 1000))
    first = _public(0)
    valid = [key_id(b64.decode(first))]
    events = [Event(position, 1, ORG_REGISTERED,
                    {"name": "A", "public_key": first, "profile": {"region": "Estrie"}},
                    ORG, valid[0], "2026-01-01T00:00:00Z", "00" * 32)]
    fresh = 1
    for version in range(2, draw(st.integers(1, 12)) + 2):
        position += draw(st.integers(1, 50))
        kind = draw(st.sampled_from(["add", "revoke", "profile"]))
        signer = draw(st.sampled_from(valid))
        if kind == "revoke" and len(valid) > 1:
            target = draw(st.sampled_from(valid))
            valid.remove(target)
            data: dict[str, Any] = {"key_id": target, "reason": draw(
                st.sampled_from(["compromised", "rotated"]))}
            type_ = ORG_KEY_REVOKED
        elif kind == "profile":
            data = {"profile": {"region": draw(st.sampled_from(["Estrie", None, "Laval"]))}}
            if draw(st.booleans()):
                data["name"] = draw(st.sampled_from(["B", "C"]))
            type_ = ORG_PROFILE_UPDATED
        else:
            public = _public(fresh)
            fresh += 1
            valid.append(key_id(b64.decode(public)))
            data = {"public_key": public, "label": draw(st.sampled_from(["", "laptop"]))}
            type_ = ORG_KEY_ADDED
        events.append(Event(position, version, type_, data, ORG, signer,
                            f"2026-01-01T00:00:{version:02d}Z", f"{version:064x}"))
    return events


@settings(max_examples=200, deadline=None)
@given(histories(), st.data())
def test_folding_in_parts_or_with_replays_is_folding_once(events: list[Event],
                                                          data: st.DataObject) -> None:
    whole = fold(ORG, events)
    cut = data.draw(st.integers(0, len(events)))
    parts = OrgHistory(ORG)
    for e in events[:cut]:
        apply(parts, e)
    for e in events[:cut] + events[cut:]:  # a late reader replays what it had
        apply(parts, e)
    assert parts == whole
    assert whole.version == len(events) and whole.head_hash == events[-1].event_hash


@settings(max_examples=200, deadline=None)
@given(histories())
def test_admission_and_the_fold_agree_on_every_key(events: list[Event]) -> None:
    registry = Registry()
    for e in events:
        registry.apply(e.statement(), e.position)
    history = fold(ORG, events)
    assert set(registry.keys) == set(history.keys)
    for kid, held in history.keys.items():
        record = registry.keys[kid]
        assert (record.added_at, record.revoked_at, record.public_key) == (
            held.valid_from, held.revoked_at, held.public_key)
        for p in range(events[0].position, events[-1].position + 2):
            assert record.valid_at(p) == held.valid_at(p)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_validity_by_log_position(events: list[Event]) -> None:
    history = fold(ORG, events)
    registration = events[0]
    first = history.keys[registration.key]
    assert first.valid_at(registration.position)  # self-signed: valid at its own entry
    assert not first.valid_at(registration.position - 1)
    for e in events[1:]:
        if e.type == ORG_KEY_ADDED:
            added = history.keys[key_id(b64.decode(e.data["public_key"]))]
            assert not added.valid_at(e.position) and added.valid_at(e.position + 1)
            assert added.label == e.data["label"]
        elif e.type == ORG_KEY_REVOKED:
            revoked = history.keys[e.data["key_id"]]
            assert revoked.valid_at(e.position) and not revoked.valid_at(e.position + 1)
            assert revoked.revocation_reason == e.data["reason"]
    assert any(k.revoked_at is None for k in history.keys.values())  # never the last


@settings(max_examples=100, deadline=None)
@given(histories())
def test_the_profile_is_the_registration_updated_in_order(events: list[Event]) -> None:
    name, profile = "A", {"region": "Estrie"}
    for e in events[1:]:
        if e.type == ORG_PROFILE_UPDATED:
            name = e.data.get("name", name)
            for member, value in e.data["profile"].items():
                if value is None:
                    profile.pop(member, None)
                else:
                    profile[member] = value
    history = fold(ORG, events)
    assert (history.name, history.profile) == (name, profile)
