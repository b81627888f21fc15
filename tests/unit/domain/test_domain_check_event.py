"""check_event: the server's admission check re-decides every signed agreement event."""

from __future__ import annotations

from typing import Any

import pytest
from domain_gwt import A, B, T, founded, offer, state_of

import ledger.domain.check as check_module
from ledger.domain import (
    EVENTS,
    AcknowledgeExpectation,
    NewEvent,
    OfferCommitment,
    check_event,
    check_stream,
    command_from_event,
)
from ledger.errors import Rejected
from ledger.statement import Statement

OFFER = {"commitment_id": "c2", "category": "equipment", "description": "Projecteur",
         "quantity": {"amount": "1", "unit": "unit"},
         "period": {"start": "2026-02-01", "end": "2026-02-28"}, "receiver": B}


AT = T(5)


def rule_of(type_: Any, data: Any, actor: Any = A, at: Any = AT) -> tuple[str, Any]:
    with pytest.raises(Rejected) as info:
        check_event(state_of(*founded(), offer()), type_, data, actor, at)
    return info.value.rule, info.value.field


def test_a_decided_event_is_admitted() -> None:
    check_event(state_of(*founded()), "commitment.offered", OFFER, A, T(5))


def test_command_from_event_rebuilds_the_command() -> None:
    cmd = command_from_event("commitment.offered", OFFER, A, T(5))
    assert isinstance(cmd, OfferCommitment)
    assert cmd.actor == A and cmd.at == T(5) and cmd.quantity.amount == "1"


def test_unknown_types_are_refused() -> None:
    assert rule_of("commitment.stolen", OFFER) == ("event.unknown-type", "type")
    assert rule_of(None, OFFER) == ("event.unknown-type", "type")
    assert rule_of("org.registered", {}) == ("event.unknown-type", "type")


def test_data_must_be_an_object_of_the_right_shape() -> None:
    assert rule_of("commitment.offered", ["not", "an", "object"]) == ("event.malformed", "data")
    assert rule_of("commitment.offered", {**OFFER, "extra": 1}) == ("event.malformed", "extra")
    assert rule_of("commitment.offered", {**OFFER, "quantity": {"amount": "1", "unit": "u",
                                                                 "x": 2}}) == (
        "event.malformed", "quantity.x")
    missing = {k: v for k, v in OFFER.items() if k != "receiver"}
    assert rule_of("commitment.offered", missing) == ("event.malformed", "receiver")
    assert rule_of("commitment.offered", {**OFFER, "description": 7}) == (
        "event.malformed", "description")
    assert rule_of("agreement.visibility_changed", {"public": 1}) == ("event.malformed",
                                                                      "public")
    assert rule_of("agreement.ratified", {"terms_version": True, "state_hash": "0" * 64}) == (
        "event.malformed", "terms_version")
    assert rule_of("agreement.ratified", {"terms_version": 2**60, "state_hash": "0" * 64}) \
        == ("event.malformed", "terms_version")


def test_data_must_be_in_normal_form() -> None:
    explicit_default = {**OFFER, "conditions": ""}
    assert rule_of("commitment.offered", explicit_default) == ("event.not-normal",
                                                               "conditions")
    assert rule_of("commitment.offered", {**OFFER, "value": None}) == ("event.not-normal",
                                                                       "value")


def test_the_signer_is_the_actor_and_must_be_allowed() -> None:
    assert rule_of("commitment.offered", OFFER, actor="centre-z")[0] == "agreement.not-party"
    assert rule_of("commitment.offered", OFFER, actor="Not An Org")[0] == "command.malformed"
    assert rule_of("commitment.offered", OFFER, at="yesterday")[0] == "command.malformed"


def test_an_event_that_changes_nothing_is_refused() -> None:
    s = state_of(*founded())
    with pytest.raises(Rejected) as info:
        check_event(s, "party.invited", {"org": "centre-c"}, A, T(5))
    assert info.value.rule == "event.redundant"


def test_an_event_decide_would_make_differently_is_refused(monkeypatch: Any) -> None:
    monkeypatch.setattr(check_module, "decide",
                        lambda command, state: [NewEvent("party.invited", {"org": "x"})])
    with pytest.raises(Rejected) as info:
        check_event(state_of(*founded()), "commitment.offered", OFFER, A, T(5))
    assert info.value.rule == "event.mismatch"


GARBAGE: tuple[Any, ...] = ({}, {"x": 1}, {"": None}, None, "x", 3, {"commitment_id": [1]})


def test_every_type_refuses_empty_and_garbage_data_with_rejected_only() -> None:
    """Each garbage datum of each type is refused, and refused with ``Rejected`` (an
    accepted one, or any other exception, fails the test)."""
    s = state_of(*founded(), offer())
    accepted = []
    for type_ in EVENTS:
        for data in GARBAGE:
            try:
                check_event(s, type_, data, B, T(6))
            except Rejected:
                continue
            accepted.append((type_, data))
    assert accepted == []


def test_acknowledgement_events_carry_the_hash() -> None:
    cmd = AcknowledgeExpectation(expectation_id="e1", content_hash="0" * 64, actor=B, at=T(5))
    assert command_from_event("expectation.acknowledged",
                              {"expectation_id": "e1", "content_hash": "0" * 64}, B, T(5)) == cmd


def _statement(stream: str, type_: str, data: dict[str, Any]) -> Statement:
    return Statement(ledger="test", stream=stream, version=1, prev=None, type=type_,
                     data=data, actor=A, key="0" * 64, issued_at=AT)


def test_check_stream_says_which_statements_the_agreement_rules_judge() -> None:
    assert check_stream(_statement("agreement/a1", "party.joined", {})) is True
    assert check_stream(_statement("org/centre-a", "organization.registered", {})) is False
    drafted = {"agreement_id": "a1"}
    assert check_stream(_statement("agreement/a1", "agreement.drafted", drafted)) is True


def test_check_stream_refuses_unknown_kinds_and_drafts_in_another_stream() -> None:
    with pytest.raises(Rejected) as info:
        check_stream(_statement("invoice/7", "invoice.sent", {}))
    assert (info.value.rule, info.value.field) == ("stream.unknown-kind", "stream")
    with pytest.raises(Rejected) as info:
        check_stream(_statement("agreement/a2", "agreement.drafted", {"agreement_id": "a1"}))
    assert (info.value.rule, info.value.field) == ("agreement.wrong-stream",
                                                   "data.agreement_id")


@pytest.mark.parametrize("from_statement", [False, True])
def test_both_paths_refuse_alike(from_statement: bool) -> None:
    state = state_of(*founded(), offer())
    with pytest.raises(Rejected) as info:
        check_event(state, "commitment.offered", {**OFFER, "commitment_id": "c1"}, A, AT,
                    from_statement=from_statement)
    assert info.value.rule == "commitment.duplicate"
    with pytest.raises(Rejected) as info:
        check_event(state, "commitment.offered", OFFER, "centre-z", AT,
                    from_statement=from_statement)
    assert info.value.rule == "agreement.not-party"
    check_event(state, "commitment.offered", OFFER, A, AT, from_statement=from_statement)
