"""The snapshot seal: what it binds, and what opening a snapshot refuses."""

from __future__ import annotations

import dataclasses

import pytest

from ledger.domain import AgreementState, state_hash
from ledger.snapshot import FORMAT, SnapshotRejected, open_snapshot, seal_key, seal_snapshot

KEY = seal_key(b"\x01" * 32)
EVENT = "ab" * 32


def _state() -> AgreementState:
    return AgreementState(agreement_id="a1", status="active", version=7, title="Entente",
                          invited={"org-b": "org-a"})


def test_a_sealed_snapshot_opens_to_the_same_state() -> None:
    sealed = seal_snapshot(KEY, "agreement/a1", 7, EVENT, _state())
    assert sealed.format == FORMAT and sealed.state_hash == state_hash(_state())
    assert open_snapshot(KEY, sealed, EVENT) == _state()


@pytest.mark.parametrize("change", [
    {"stream": "agreement/a2"}, {"version": 8}, {"event_hash": "cd" * 32},
    {"state": b"\x80"}, {"seal": b"\0" * 32}, {"state_hash": "0" * 64},
    {"format": FORMAT + 1}])
def test_any_change_is_refused(change: dict[str, object]) -> None:
    sealed = dataclasses.replace(seal_snapshot(KEY, "agreement/a1", 7, EVENT, _state()),
                                 **change)
    with pytest.raises(SnapshotRejected):
        open_snapshot(KEY, sealed, sealed.event_hash)


def test_another_key_or_another_event_at_that_version_is_refused() -> None:
    sealed = seal_snapshot(KEY, "agreement/a1", 7, EVENT, _state())
    with pytest.raises(SnapshotRejected):
        open_snapshot(seal_key(b"\x02" * 32), sealed, EVENT)
    with pytest.raises(SnapshotRejected):
        open_snapshot(KEY, sealed, "cd" * 32)
    with pytest.raises(SnapshotRejected):
        open_snapshot(KEY, sealed, None)


def test_a_state_past_its_version_is_refused() -> None:
    sealed = seal_snapshot(KEY, "agreement/a1", 6, EVENT, _state())  # state at 7
    with pytest.raises(SnapshotRejected):
        open_snapshot(KEY, sealed, EVENT)


def test_the_seal_is_an_hmac_over_the_documented_layout() -> None:
    """Snapshots already stored must keep opening: the MAC's bytes are pinned here (the
    format and the name's length as 4-byte integers, the numbers as 8-byte ones, all
    big-endian, then the name and the parts), for snapshots and the runner's images."""
    import hashlib
    import hmac
    import struct

    from ledger.snapshot import derive_key, seal_mac

    key = derive_key(b"label\n", b"s" * 32)
    assert key == hashlib.sha256(b"label\n" + b"s" * 32).digest()
    message = (struct.pack(">IIQQ", 1001, 1, 7, 99) + b"x" + b"ab" + b"cd")
    assert seal_mac(key, 1001, "x", (7, 99), b"ab", b"cd") == hmac.new(
        key, message, hashlib.sha256).digest()
    assert seal_mac(key, 1, "agreement/x", (7,), b"s") == hmac.new(
        key, struct.pack(">IIQ", 1, 11, 7) + b"agreement/x" + b"s", hashlib.sha256).digest()
