"""Parties (invite, join, withdraw), porteurs and roles."""

from __future__ import annotations

from domain_gwt import A, B, C, D, T, draft, ev, founded, given, join, offer

from ledger.domain import (
    AcceptRole,
    DeclineRole,
    InviteParty,
    NamePorteur,
    ProposeRole,
    RecordFulfilment,
    RelinquishRole,
    StateExpectation,
    WithdrawCommitment,
    WithdrawFromAgreement,
)
from ledger.domain.values import Period, Quantity


def leave(org: str = B, day: int = 5, effective_on: str = "2026-03-31") -> WithdrawFromAgreement:
    return WithdrawFromAgreement(effective_on=effective_on, reason="Fin de notre mandat",
                                 actor=org, at=T(day))


# --- invitations and joining ---------------------------------------------------------


def test_an_invited_organization_joins() -> None:
    state = given(draft()).when(join(B)).then(ev("party.joined"))
    assert sorted(state.parties) == [A, B]
    assert B not in state.invited and state.terms_version == 2


def test_an_uninvited_organization_cannot_join() -> None:
    given(draft()).when(join(D)).rejects("party.not-invited", field="actor")


def test_a_party_cannot_join_again() -> None:
    given(*founded()).when(join(B, 3)).rejects("party.already-party")
    given(*founded()).when(join(A, 3)).rejects("party.already-party")


def test_any_party_invites_more() -> None:
    state = given(*founded()).when(InviteParty(org=D, actor=B, at=T(3))).then(
        ev("party.invited", org=D))
    assert state.invited[D] == B
    given(*founded(), InviteParty(org=D, actor=B, at=T(3)), join(D, 4)).when(join(D, 5)) \
        .rejects("party.already-party")


def test_inviting_an_invited_organization_again_is_idempotent() -> None:
    given(*founded()).when(InviteParty(org=C, actor=B, at=T(3))).then()


def test_inviting_a_party_or_the_collective_is_refused() -> None:
    given(*founded()).when(InviteParty(org=B, actor=A, at=T(3))).rejects(
        "party.already-party", field="org")
    given(*founded()).when(InviteParty(org="collective", actor=A, at=T(3))).rejects(
        "party.reserved-id", field="org")


def test_an_invited_organization_is_not_yet_a_party() -> None:
    given(*founded()).when(InviteParty(org=D, actor=C, at=T(3))).rejects(
        "agreement.not-party")


# --- withdrawal ----------------------------------------------------------------------


def test_a_party_withdraws_with_notice() -> None:
    state = given(*founded(), join(C, 3)).when(leave(B)).then(
        ev("party.withdrew", effective_on="2026-03-31", reason="Fin de notre mandat"))
    assert sorted(state.parties) == [A, C]
    assert state.former[B].effective_on == "2026-03-31"


def test_withdrawal_effective_the_same_day_is_fine() -> None:
    given(*founded()).when(leave(B, 5, "2026-01-05")).then(
        ev("party.withdrew", effective_on="2026-01-05", reason="Fin de notre mandat"))


def test_withdrawal_is_not_retroactive() -> None:
    given(*founded()).when(leave(B, 5, "2026-01-04")).rejects(
        "party.withdrawal-retroactive", field="effective_on")


def test_withdrawal_needs_a_real_date() -> None:
    given(*founded()).when(leave(B, 5, "2026-02-30")).rejects(
        "event.malformed", field="effective_on")


def test_the_last_party_terminates_instead_of_withdrawing() -> None:
    given(draft()).when(leave(A)).rejects("party.last-party")


def test_a_former_party_no_longer_acts_but_winds_down() -> None:
    history = (*founded(), offer("c1", actor=B, receiver=A), leave(B))
    given(*history).when(InviteParty(org=D, actor=B, at=T(6))).rejects("agreement.not-party")
    fulfil = RecordFulfilment(fulfilment_id="f1", commitment_id="c1",
                              quantity=Quantity("2", "hour"),
                              period=Period("2026-01-06", "2026-01-06"), actor=B, at=T(6))
    given(*history).when(fulfil).then(ev(
        "fulfilment.recorded", fulfilment_id="f1", commitment_id="c1",
        quantity={"amount": "2", "unit": "hour"},
        period={"start": "2026-01-06", "end": "2026-01-06"}))
    given(*history).when(WithdrawCommitment(commitment_id="c1", reason="Départ", actor=B,
                                            at=T(6))).then(
        ev("commitment.withdrawn", commitment_id="c1", reason="Départ"))


def test_withdrawal_ends_the_leavers_roles_and_expectations() -> None:
    history = (*founded(),
               ProposeRole(role_id="r1", name="Trésorerie", description="Tenir les comptes",
                           assignee=B, actor=A, at=T(3)),
               AcceptRole(role_id="r1", actor=B, at=T(3)),
               StateExpectation(expectation_id="e1", text="Être consultés", actor=B,
                                at=T(3)))
    state = given(*history).when(leave(B)).then(
        ev("party.withdrew", effective_on="2026-03-31", reason="Fin de notre mandat"))
    assert state.roles["r1"].status == "ended"
    assert state.expectations["e1"].withdrawn


def test_a_former_party_can_be_invited_and_rejoin() -> None:
    history = (*founded(), leave(B), InviteParty(org=B, actor=A, at=T(6)))
    state = given(*history).when(join(B, 7)).then(ev("party.joined"))
    assert B in state.parties and B not in state.former


# --- porteurs ------------------------------------------------------------------------


def test_a_party_names_its_own_porteur() -> None:
    state = given(*founded()).when(NamePorteur(person_id="p-7f3a", actor=B, at=T(3))).then(
        ev("porteur.named", person_id="p-7f3a"))
    assert state.parties[B].porteur == "p-7f3a"
    assert state.parties[A].porteur is None


def test_naming_a_new_porteur_replaces_the_old_one() -> None:
    first = NamePorteur(person_id="p-1", actor=A, at=T(3))
    state = given(*founded(), first).when(NamePorteur(person_id="p-2", actor=A, at=T(4))) \
        .then(ev("porteur.named", person_id="p-2"))
    assert state.parties[A].porteur == "p-2"
    given(*founded(), first).when(NamePorteur(person_id="p-1", actor=A, at=T(4))).then()


def test_an_invitee_cannot_name_a_porteur() -> None:
    given(*founded()).when(NamePorteur(person_id="p-1", actor=C, at=T(3))).rejects(
        "agreement.not-party")


def test_porteurs_are_pseudonymous_ids_not_names_or_emails() -> None:
    for person in ("Marie Tremblay", "marie@example.org", ""):
        given(*founded()).when(NamePorteur(person_id=person, actor=A, at=T(3))).rejects(
            "event.malformed", field="person_id")


# --- roles ---------------------------------------------------------------------------


def propose(role_id: str = "r1", assignee: str = B, actor: str = A) -> ProposeRole:
    return ProposeRole(role_id=role_id, name="Coordination des communications",
                       description="Animer le canal commun", assignee=assignee, actor=actor,
                       at=T(3))


def test_any_party_proposes_a_role_to_a_party() -> None:
    state = given(*founded()).when(propose()).then(ev(
        "role.proposed", role_id="r1", name="Coordination des communications",
        description="Animer le canal commun", assignee=B))
    assert state.roles["r1"].status == "proposed"
    assert state.terms_version == 2  # a proposal is not yet a term


def test_roles_go_to_parties_only_and_ids_are_unique() -> None:
    given(*founded()).when(propose(assignee=C)).rejects("role.assignee-not-party",
                                                        field="assignee")
    given(*founded(), propose()).when(propose()).rejects("role.duplicate")


def test_only_the_assignee_accepts() -> None:
    given(*founded(), propose()).when(AcceptRole(role_id="r1", actor=A, at=T(4))).rejects(
        "role.not-assignee", field="actor")
    state = given(*founded(), propose()).when(
        AcceptRole(role_id="r1", person_id="p-9", actor=B, at=T(4))).then(
        ev("role.accepted", role_id="r1", person_id="p-9"))
    assert state.roles["r1"].status == "accepted" and state.terms_version == 3


def test_accepting_again_is_idempotent_unless_the_person_changes() -> None:
    accepted = (*founded(), propose(), AcceptRole(role_id="r1", actor=B, at=T(4)))
    given(*accepted).when(AcceptRole(role_id="r1", actor=B, at=T(5))).then()
    given(*accepted).when(AcceptRole(role_id="r1", person_id="p-2", actor=B, at=T(5))).then(
        ev("role.accepted", role_id="r1", person_id="p-2"))


def test_only_the_assignee_declines() -> None:
    given(*founded(), propose()).when(DeclineRole(role_id="r1", actor=A, at=T(4))).rejects(
        "role.not-assignee")
    state = given(*founded(), propose()).when(
        DeclineRole(role_id="r1", reason="Pas de capacité", actor=B, at=T(4))).then(
        ev("role.declined", role_id="r1", reason="Pas de capacité"))
    assert state.roles["r1"].status == "declined"


def test_role_status_transitions() -> None:
    proposed = (*founded(), propose())
    accepted = (*proposed, AcceptRole(role_id="r1", actor=B, at=T(4)))
    declined = (*proposed, DeclineRole(role_id="r1", actor=B, at=T(4)))
    relinquish = RelinquishRole(role_id="r1", reason="Réorganisation", actor=B, at=T(5))
    given(*accepted).when(DeclineRole(role_id="r1", actor=B, at=T(5))).rejects(
        "role.already-accepted")
    given(*proposed).when(relinquish).rejects("role.not-accepted")
    given(*declined).when(AcceptRole(role_id="r1", actor=B, at=T(5))).rejects("role.closed")
    given(*declined).when(relinquish).rejects("role.closed")
    given(*declined).when(DeclineRole(role_id="r1", actor=B, at=T(5))).then()
    state = given(*accepted).when(relinquish).then(
        ev("role.relinquished", role_id="r1", reason="Réorganisation"))
    assert state.roles["r1"].status == "relinquished"
    given(*accepted, relinquish).when(relinquish).then()
    given(*accepted, relinquish).when(DeclineRole(role_id="r1", actor=B, at=T(6))).rejects(
        "role.closed")
    given(*accepted, relinquish).when(AcceptRole(role_id="r1", actor=B, at=T(6))).rejects(
        "role.closed")


def test_a_role_ended_by_withdrawal_is_closed() -> None:
    ended = (*founded(), join(C, 3), propose(assignee=C),
             WithdrawFromAgreement(effective_on="2026-02-01", reason="Départ", actor=C,
                                   at=T(4)),
             InviteParty(org=C, actor=A, at=T(5)), join(C, 6))
    given(*ended).when(AcceptRole(role_id="r1", actor=C, at=T(7))).rejects("role.closed")


def test_unknown_roles_are_refused() -> None:
    given(*founded()).when(AcceptRole(role_id="nope", actor=B, at=T(4))).rejects(
        "role.unknown", field="role_id")
