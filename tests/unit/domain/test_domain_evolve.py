"""evolve is total and cheap: it records, it never judges, it never raises."""

from __future__ import annotations

import copy

from domain_gwt import A, B, T, founded, history, offer

from ledger.domain import INITIAL, Fact, evolve, fold, initial_state, state_hash


def test_unknown_types_and_garbage_leave_the_state_unchanged() -> None:
    h = history(*founded(), offer())
    before = copy.deepcopy(h.state)
    for fact in (Fact("commitment.exploded", {}, A, T(5), 9),
                 Fact("commitment.offered", {"commitment_id": 3}, A, T(5), 9),
                 Fact("commitment.offered", "not a dict", A, T(5), 9),  # type: ignore[arg-type]
                 Fact(None, {}, A, T(5), 9),  # type: ignore[arg-type]
                 Fact(["unhashable"], {}, A, T(5), 9)):  # type: ignore[arg-type]
        assert evolve(h.state, fact) == before


def test_facts_referencing_unknown_things_change_nothing_but_the_version() -> None:
    h = history(*founded())
    before = copy.deepcopy(h.state)
    after = evolve(h.state, Fact("fulfilment.confirmed", {"fulfilment_id": "nope"}, B, T(5),
                                 3))
    assert after.fulfilments == before.fulfilments and after.version == 3


def test_evolve_never_touches_initial() -> None:
    drafted = history(*founded()).facts[0]
    s = evolve(INITIAL, drafted)
    assert s is not INITIAL and initial_state() == INITIAL and s.status == "active"


def test_evolve_does_not_judge_history() -> None:
    # a fulfilment by someone other than the provider is recorded as it was admitted
    h = history(*founded(), offer())
    fact = Fact("fulfilment.recorded", {
        "fulfilment_id": "f1", "commitment_id": "c1",
        "quantity": {"amount": "not checked here", "unit": "hour"},
        "period": {"start": "2026-01-05", "end": "2026-01-05"}}, B, T(5), 4)
    assert evolve(h.state, fact).fulfilments["f1"].provider == B


def test_fold_replays_a_history_to_the_same_state() -> None:
    h = history(*founded(), offer())
    assert fold(h.facts) == h.state
    assert state_hash(fold(h.facts)) == state_hash(h.state)
    assert fold(h.facts).version == len(h.facts)
