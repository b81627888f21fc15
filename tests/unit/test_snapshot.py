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
