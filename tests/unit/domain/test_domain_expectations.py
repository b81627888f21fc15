"""Shared expectations: « des attentes différentes, pourvu qu'elles soient partagées et
écrites ». Acknowledging is not agreeing; acknowledgements bind to the exact text."""

from __future__ import annotations

from domain_gwt import A, B, C, D, T, ev, founded, given, join, state_of

from ledger.domain import (
    AcknowledgeExpectation,
    ReviseExpectation,
    StateExpectation,
    WithdrawExpectation,
    WithdrawFromAgreement,
    expectation_hash,
    is_shared,
)
from ledger.domain.state import AgreementState

PARTIES = (*founded(), join(C, 3))  # A, B, C


def state(eid: str = "e1", actor: str = A, to: object = "all") -> StateExpectation:
    return StateExpectation(expectation_id=eid, text="Être consultés avant tout achat commun",
                            addressed_to=to, actor=actor, at=T(4))  # type: ignore[arg-type]


def ack(s: AgreementState, actor: str, eid: str = "e1", day: int = 5) -> AcknowledgeExpectation:
    return AcknowledgeExpectation(expectation_id=eid,
                                  content_hash=expectation_hash(s.expectations[eid]),
                                  actor=actor, at=T(day))


def test_a_party_states_its_own_expectation_to_all() -> None:
    s = given(*PARTIES).when(state()).then(ev(
        "expectation.stated", expectation_id="e1",
        text="Être consultés avant tout achat commun"))
    e = s.expectations["e1"]
    assert e.holder == A and e.addressed_to == "all"
    assert not is_shared(s, e)


def test_or_to_some_parties() -> None:
    s = given(*PARTIES).when(state(to=[C])).then(ev(
        "expectation.stated", expectation_id="e1",
        text="Être consultés avant tout achat commun", addressed_to=[C]))
    assert s.expectations["e1"].addressed_to == [C]


def test_addressees_are_other_current_parties_listed_once() -> None:
    given(*PARTIES).when(state(to=[A, B])).rejects("expectation.self-addressed",
                                                   field="addressed_to")
    given(*PARTIES).when(state(to=[D])).rejects("expectation.addressee-not-party")
    given(*PARTIES).when(state(to=[B, B])).rejects("event.duplicate-item")
    given(*PARTIES).when(state(to=[])).rejects("event.malformed", field="addressed_to")


def test_expectation_ids_are_unique() -> None:
    given(*PARTIES, state()).when(state(actor=B)).rejects("expectation.duplicate")


def test_shared_when_every_addressee_acknowledged_the_current_text() -> None:
    s0 = state_of(*PARTIES, state())
    s1 = given(*PARTIES, state()).when(ack(s0, B)).then(ev(
        "expectation.acknowledged", expectation_id="e1",
        content_hash=expectation_hash(s0.expectations["e1"])))
    assert not is_shared(s1, s1.expectations["e1"])
    s2 = given(*PARTIES, state(), ack(s0, B)).when(ack(s0, C)).then(ev(
        "expectation.acknowledged", expectation_id="e1",
        content_hash=expectation_hash(s0.expectations["e1"])))
    assert is_shared(s2, s2.expectations["e1"])
    assert s2.terms_version == s0.terms_version  # acknowledging is not a term


def test_acknowledging_twice_is_idempotent() -> None:
    s0 = state_of(*PARTIES, state())
    given(*PARTIES, state(), ack(s0, B)).when(ack(s0, B, day=6)).then()


def test_only_addressees_acknowledge() -> None:
    s0 = state_of(*PARTIES, state(to=[C]))
    given(*PARTIES, state(to=[C])).when(ack(s0, B)).rejects("expectation.not-addressee")
    given(*PARTIES, state(to=[C])).when(ack(s0, A)).rejects("expectation.not-addressee")
    given(*PARTIES, state(to=[C])).when(ack(s0, D)).rejects("agreement.not-party")


def test_an_acknowledgement_binds_to_the_content_hash() -> None:
    wrong = AcknowledgeExpectation(expectation_id="e1", content_hash="0" * 64, actor=B,
                                   at=T(5))
    given(*PARTIES, state()).when(wrong).rejects("expectation.hash-mismatch",
                                                 field="content_hash")


def test_revision_by_the_holder_lapses_acknowledgements() -> None:
    s0 = state_of(*PARTIES, state())
    revise = ReviseExpectation(expectation_id="e1", text="Être consultés deux semaines avant",
                               actor=A, at=T(6))
    s1 = given(*PARTIES, state(), ack(s0, B), ack(s0, C)).when(revise).then(ev(
        "expectation.revised", expectation_id="e1", text="Être consultés deux semaines avant"))
    e = s1.expectations["e1"]
    assert e.acks == {} and e.revision == 2 and not is_shared(s1, e)
    # the old hash no longer acknowledges anything
    given(*PARTIES, state(), revise).when(ack(s0, B, day=7)).rejects(
        "expectation.hash-mismatch")


def test_revising_to_the_same_content_is_idempotent() -> None:
    same = ReviseExpectation(expectation_id="e1", text="Être consultés avant tout achat commun",
                             actor=A, at=T(6))
    given(*PARTIES, state()).when(same).then()


def test_only_the_holder_revises_or_withdraws() -> None:
    revise = ReviseExpectation(expectation_id="e1", text="autre", actor=B, at=T(6))
    given(*PARTIES, state()).when(revise).rejects("expectation.not-holder", field="actor")
    withdraw = WithdrawExpectation(expectation_id="e1", actor=B, at=T(6))
    given(*PARTIES, state()).when(withdraw).rejects("expectation.not-holder")


def test_withdrawn_expectations_are_closed() -> None:
    withdraw = WithdrawExpectation(expectation_id="e1", reason="Réglé", actor=A, at=T(6))
    s = given(*PARTIES, state()).when(withdraw).then(
        ev("expectation.withdrawn", expectation_id="e1", reason="Réglé"))
    assert s.expectations["e1"].withdrawn and not is_shared(s, s.expectations["e1"])
    s0 = state_of(*PARTIES, state())
    given(*PARTIES, state(), withdraw).when(withdraw).then()
    given(*PARTIES, state(), withdraw).when(ack(s0, B)).rejects("expectation.withdrawn")
    given(*PARTIES, state(), withdraw).when(
        ReviseExpectation(expectation_id="e1", text="x", actor=A, at=T(7))).rejects(
        "expectation.withdrawn")


def test_unknown_expectations_are_refused() -> None:
    given(*PARTIES).when(WithdrawExpectation(expectation_id="zz", actor=A, at=T(6))).rejects(
        "expectation.unknown", field="expectation_id")


def test_shared_is_judged_against_current_parties() -> None:
    s0 = state_of(*PARTIES, state())
    leave = WithdrawFromAgreement(effective_on="2026-02-01", reason="Départ", actor=C,
                                  at=T(7))
    s = state_of(*PARTIES, state(), ack(s0, B), leave)
    assert is_shared(s, s.expectations["e1"])
