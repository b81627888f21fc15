"""Time travel: the state as of a stream version or a moment."""

from __future__ import annotations

import pytest
from domain_gwt import B, T, founded, history, offer

from ledger.domain import Fact, state_at
from ledger.errors import MalformedStatement


def facts() -> list[Fact]:
    return history(*founded(), offer(day=3)).facts  # versions 1..3 on days 1, 2, 3


def test_as_of_a_version() -> None:
    assert state_at(facts(), version=0).status == "absent"
    assert list(state_at(facts(), version=1).parties) == ["centre-a"]
    assert B in state_at(facts(), version=2).parties
    assert "c1" in state_at(facts(), version=3).commitments
    assert state_at(facts(), version=99).version == 3


def test_as_of_a_moment_uses_issued_at() -> None:
    assert state_at(facts(), at="2025-12-31T23:59:59Z").status == "absent"
    assert state_at(facts(), at=T(2)).version == 2  # inclusive
    assert state_at(facts(), at="2026-01-02T09:59:59.999999Z").version == 1


def test_recorded_at_wins_over_issued_at() -> None:
    fs = [Fact(f.type, f.data, f.actor, f.issued_at, f.stream_version,
               recorded_at="2026-02-01T00:00:00.5Z") for f in facts()]
    assert state_at(fs, at=T(3)).status == "absent"
    assert state_at(fs, at="2026-02-01T00:00:00Z").status == "absent"
    assert state_at(fs, at="2026-02-01T00:00:00.500000Z").version == 3


def test_prefix_only() -> None:
    fs = facts()
    late_first = [Fact(fs[0].type, fs[0].data, fs[0].actor, T(20), 1), *fs[1:]]
    assert state_at(late_first, at=T(10)).status == "absent"


def test_both_limits() -> None:
    assert state_at(facts(), version=2, at=T(3)).version == 2


def test_bad_moments_are_refused() -> None:
    with pytest.raises(MalformedStatement):
        state_at(facts(), at="2026-01-01")
