"""The agreement's life: drafting, revising, visibility, suspension, termination."""

from __future__ import annotations

from domain_gwt import A, B, C, D, T, draft, ev, founded, given, join

from ledger.domain import (
    INITIAL,
    ChangeVisibility,
    DraftAgreement,
    InviteParty,
    ResumeAgreement,
    ReviseAgreement,
    SuspendAgreement,
    TerminateAgreement,
    decide,
    is_terminal,
)
from ledger.domain.state import in_force


def test_drafting_makes_the_drafter_the_first_party() -> None:
    state = given().when(draft()).then(ev(
        "agreement.drafted", agreement_id="ent-2026", title="Locaux partagés",
        purpose="Mieux servir le quartier ensemble.", binding=False, invited=[B, C]))
    assert list(state.parties) == [A]
    assert state.invited == {B: A, C: A}
    assert state.status == "active" and state.terms_version == 1
    assert not in_force(state)


def test_defaults_are_omitted_from_the_event_data() -> None:
    given().when(draft(invited=(), public=False)).then(ev(
        "agreement.drafted", agreement_id="ent-2026", title="Locaux partagés",
        purpose="Mieux servir le quartier ensemble.", binding=False))


def test_a_public_binding_agreement() -> None:
    state = given().when(draft(invited=(), public=True, binding=True)).then(ev(
        "agreement.drafted", agreement_id="ent-2026", title="Locaux partagés",
        purpose="Mieux servir le quartier ensemble.", binding=True, public=True))
    assert state.public and state.binding


def test_drafting_twice_is_refused() -> None:
    given(draft()).when(draft(actor=B)).rejects("agreement.exists")


def test_nothing_but_drafting_before_the_draft() -> None:
    given().when(InviteParty(org=B, actor=A, at=T(1))).rejects("agreement.not-drafted")
    given().when(join(B)).rejects("agreement.not-drafted")


def test_the_drafter_does_not_invite_itself() -> None:
    given().when(draft(invited=(B, A))).rejects("party.self-invited", field="invited")


def test_invitees_are_listed_once() -> None:
    given().when(draft(invited=(B, B))).rejects("event.duplicate-item", field="invited")


def test_collective_is_reserved() -> None:
    given().when(draft(invited=("collective",))).rejects("party.reserved-id", field="invited")
    given().when(draft(actor="collective", invited=())).rejects("party.reserved-id",
                                                                field="actor")


def test_malformed_fields_are_refused_with_their_name() -> None:
    given().when(draft(agreement_id="has space")).rejects("event.malformed",
                                                          field="agreement_id")
    given().when(draft(title="")).rejects("event.malformed", field="title")
    given().when(draft(title="Cafe\u0301")).rejects("event.malformed", field="title")


def test_actor_and_time_must_be_well_formed() -> None:
    given().when(draft(actor="Centre A")).rejects("command.malformed", field="actor")
    bad_time = DraftAgreement(agreement_id="x", title="t", purpose="p", binding=False,
                              actor=A, at="2026-01-01 10:00")
    given().when(bad_time).rejects("command.malformed", field="at")
    impossible = DraftAgreement(agreement_id="x", title="t", purpose="p", binding=False,
                                actor=A, at="2026-02-30T10:00:00Z")
    given().when(impossible).rejects("command.malformed", field="at")


def test_an_object_that_is_not_a_command_is_refused() -> None:
    given().when(object()).rejects("command.unknown")


def test_any_party_revises_the_vision() -> None:
    cmd = ReviseAgreement(title="Locaux et équipements", purpose="Partager davantage.",
                          binding=True, actor=B, at=T(3))
    state = given(*founded()).when(cmd).then(ev(
        "agreement.revised", title="Locaux et équipements", purpose="Partager davantage.",
        binding=True))
    assert state.purpose == "Partager davantage." and state.terms_version == 3


def test_revising_to_the_same_text_is_an_idempotent_repeat() -> None:
    same = ReviseAgreement(title="Locaux partagés",
                           purpose="Mieux servir le quartier ensemble.", binding=False,
                           actor=A, at=T(3))
    given(*founded()).when(same).then()


def test_only_parties_act_on_the_agreement() -> None:
    cmd = ReviseAgreement(title="x", purpose="y", binding=True, actor=C, at=T(3))
    given(*founded()).when(cmd).rejects("agreement.not-party", field="actor")
    given(*founded()).when(ChangeVisibility(public=True, actor=D, at=T(3))).rejects(
        "agreement.not-party")


def test_any_party_marks_the_agreement_public_or_private() -> None:
    state = given(*founded()).when(ChangeVisibility(public=True, actor=B, at=T(3))).then(
        ev("agreement.visibility_changed", public=True))
    assert state.public
    assert state.terms_version == 2  # visibility is not a term
    given(*founded()).when(ChangeVisibility(public=False, actor=B, at=T(3))).then()


def test_suspension_and_resumption() -> None:
    suspend = SuspendAgreement(reason="Travaux dans l'immeuble", actor=B, at=T(4))
    state = given(*founded()).when(suspend).then(
        ev("agreement.suspended", reason="Travaux dans l'immeuble"))
    assert state.status == "suspended"
    resume = ResumeAgreement(actor=A, at=T(5))
    state = given(*founded(), suspend).when(resume).then(ev("agreement.resumed"))
    assert state.status == "active"


def test_a_suspended_agreement_only_winds_down() -> None:
    suspend = SuspendAgreement(reason="Pause", actor=B, at=T(4))
    given(*founded(), suspend).when(SuspendAgreement(reason="encore", actor=A, at=T(5))) \
        .rejects("agreement.suspended")
    given(*founded(), suspend).when(InviteParty(org=D, actor=A, at=T(5))) \
        .rejects("agreement.suspended")


def test_resuming_needs_a_suspension() -> None:
    given(*founded()).when(ResumeAgreement(actor=A, at=T(5))).rejects(
        "agreement.not-suspended")


def test_termination_is_terminal() -> None:
    end = TerminateAgreement(reason="Fin du projet pilote", actor=B, at=T(6))
    state = given(*founded()).when(end).then(
        ev("agreement.terminated", reason="Fin du projet pilote"))
    assert is_terminal(state)
    for cmd in (ResumeAgreement(actor=A, at=T(7)),
                TerminateAgreement(reason="encore", actor=A, at=T(7)),
                ChangeVisibility(public=True, actor=A, at=T(7)),
                join(C, 7)):
        given(*founded(), end).when(cmd).rejects("agreement.terminated")


def test_a_suspended_agreement_can_be_terminated() -> None:
    suspend = SuspendAgreement(reason="Pause", actor=B, at=T(4))
    end = TerminateAgreement(reason="Fin", actor=A, at=T(6))
    assert is_terminal(given(*founded(), suspend).when(end).then(
        ev("agreement.terminated", reason="Fin")))


def test_initial_state_is_not_terminal_and_never_mutated() -> None:
    assert not is_terminal(INITIAL)
    decide(draft(), INITIAL)
    assert INITIAL.status == "absent" and not INITIAL.parties
