"""Commitments of resources (troc: each side declares its own value) and fulfilments."""

from __future__ import annotations

from domain_gwt import HOURS, YEAR, A, B, C, T, ev, founded, given, join, offer

from ledger.domain import (
    AmendCommitment,
    ConfirmFulfilment,
    ContestFulfilment,
    DeclareReceivedValue,
    RecordFulfilment,
    SuspendAgreement,
    WithdrawCommitment,
)
from ledger.domain.values import FairValue, Period, Quantity

OFFERED = {"commitment_id": "c1", "category": "premises",
           "description": "Salle de répétition, les lundis",
           "quantity": {"amount": "10", "unit": "hour"},
           "period": {"start": "2026-01-01", "end": "2026-12-31"}, "receiver": B}
PARTIES = (*founded(), join(C, 3))


def fulfil(fid: str = "f1", actor: str = A, cid: str = "c1", amount: str = "2.5",
           unit: str = "hour", day: int = 6) -> RecordFulfilment:
    return RecordFulfilment(fulfilment_id=fid, commitment_id=cid,
                            quantity=Quantity(amount, unit),
                            period=Period("2026-01-05", "2026-01-05"), actor=actor, at=T(day))


def amend(actor: str = A, **kw: object) -> AmendCommitment:
    fields: dict[str, object] = {"commitment_id": "c1", "category": "premises",
                                 "description": "Salle de répétition, lundis et mardis",
                                 "quantity": Quantity("20", "hour"), "period": YEAR,
                                 "receiver": B}
    fields.update(kw)
    return AmendCommitment(**fields, actor=actor, at=T(5))  # type: ignore[arg-type]


def test_the_provider_offers_with_its_own_declared_value() -> None:
    cmd = offer(value=Quantity("1500", "CAD"), conditions="Clés au secrétariat",
                fair_value=FairValue("2000", "CAD", "market"))
    s = given(*founded()).when(cmd).then(ev(
        "commitment.offered", **OFFERED, conditions="Clés au secrétariat",
        value={"amount": "1500", "unit": "CAD"},
        fair_value={"amount": "2000", "unit": "CAD", "method": "market"}))
    c = s.commitments["c1"]
    assert c.provider == A and c.value == Quantity("1500", "CAD")
    assert c.receiver_values == {}


def test_commitments_to_the_collective() -> None:
    s = given(*PARTIES).when(offer(receiver="collective")).then(
        ev("commitment.offered", **{**OFFERED, "receiver": "collective"}))
    assert s.commitments["c1"].receiver == "collective"


def test_commitment_rules() -> None:
    given(*founded()).when(offer(receiver=A)).rejects("commitment.self-receiver",
                                                      field="receiver")
    given(*founded()).when(offer(receiver=C)).rejects("commitment.receiver-not-party")
    given(*founded(), offer()).when(offer(actor=B, receiver=A)).rejects(
        "commitment.duplicate")
    given(*founded()).when(offer(period=Period("2026-12-31", "2026-01-01"))).rejects(
        "period.inverted", field="period")
    given(*founded()).when(offer(category="lunch")).rejects("event.malformed",
                                                           field="category")


def test_amounts_are_decimal_strings_never_floats() -> None:
    for amount in ("1.0e3", "-5", "01", "1.1234567", "", "1,5"):
        given(*founded()).when(offer(quantity=Quantity(amount, "hour"))).rejects(
            "event.malformed", field="quantity.amount")
    given(*founded()).when(offer(quantity={"amount": 10.5, "unit": "hour"})).rejects(
        "event.malformed", field="quantity.amount")


def test_the_receiver_declares_the_value_it_receives() -> None:
    declare = DeclareReceivedValue(commitment_id="c1", value=Quantity("800", "CAD"), actor=B,
                                   at=T(4))
    s = given(*founded(), offer()).when(declare).then(ev(
        "commitment.received_value_declared", commitment_id="c1",
        value={"amount": "800", "unit": "CAD"}))
    assert s.commitments["c1"].receiver_values == {B: Quantity("800", "CAD")}
    assert s.commitments["c1"].value is None  # kept apart from the provider's
    given(*founded(), offer(), declare).when(declare).then()


def test_each_side_declares_only_its_own_value() -> None:
    by_provider = DeclareReceivedValue(commitment_id="c1", value=Quantity("1", "CAD"),
                                       actor=A, at=T(4))
    given(*PARTIES, offer()).when(by_provider).rejects("commitment.not-receiver",
                                                       field="actor")
    by_other = DeclareReceivedValue(commitment_id="c1", value=Quantity("1", "CAD"), actor=C,
                                    at=T(4))
    given(*PARTIES, offer()).when(by_other).rejects("commitment.not-receiver")


def test_for_the_collective_each_other_party_declares_its_own() -> None:
    history = (*PARTIES, offer(receiver="collective"))
    for org in (B, C):
        given(*history).when(DeclareReceivedValue(
            commitment_id="c1", value=Quantity("5", "hour"), actor=org, at=T(4))).then(
            ev("commitment.received_value_declared", commitment_id="c1",
               value={"amount": "5", "unit": "hour"}))


def test_only_the_provider_amends() -> None:
    given(*founded(), offer()).when(amend(actor=B, receiver=A)).rejects(
        "commitment.not-provider", field="actor")
    s = given(*founded(), offer()).when(amend()).then(ev(
        "commitment.amended", **{**OFFERED, "description": "Salle de répétition, lundis et mardis",
                                 "quantity": {"amount": "20", "unit": "hour"}}))
    assert s.commitments["c1"].quantity == Quantity("20", "hour")


def test_amending_lapses_the_receivers_declared_value() -> None:
    declare = DeclareReceivedValue(commitment_id="c1", value=Quantity("800", "CAD"), actor=B,
                                   at=T(4))
    s = given(*founded(), offer(), declare).when(amend()).then(ev(
        "commitment.amended", **{**OFFERED, "description": "Salle de répétition, lundis et mardis",
                                 "quantity": {"amount": "20", "unit": "hour"}}))
    assert s.commitments["c1"].receiver_values == {}


def test_amending_to_the_same_terms_is_idempotent() -> None:
    same = amend(description="Salle de répétition, les lundis", quantity=HOURS)
    given(*founded(), offer()).when(same).then()


def test_amendments_follow_the_offer_rules() -> None:
    given(*founded(), offer()).when(amend(receiver=A)).rejects("commitment.self-receiver")
    given(*founded()).when(amend()).rejects("commitment.unknown", field="commitment_id")


def test_only_the_provider_withdraws_and_withdrawn_is_closed() -> None:
    withdraw = WithdrawCommitment(commitment_id="c1", reason="Salle vendue", actor=A, at=T(5))
    given(*founded(), offer()).when(
        WithdrawCommitment(commitment_id="c1", reason="x", actor=B, at=T(5))).rejects(
        "commitment.not-provider")
    s = given(*founded(), offer()).when(withdraw).then(
        ev("commitment.withdrawn", commitment_id="c1", reason="Salle vendue"))
    assert s.commitments["c1"].withdrawn
    closed = (*founded(), offer(), withdraw)
    given(*closed).when(withdraw).then()
    given(*closed).when(amend()).rejects("commitment.withdrawn")
    given(*closed).when(fulfil()).rejects("commitment.withdrawn")
    given(*closed).when(DeclareReceivedValue(commitment_id="c1", value=HOURS, actor=B,
                                             at=T(6))).rejects("commitment.withdrawn")


# --- fulfilments ---------------------------------------------------------------------


def test_the_provider_records_fulfilment() -> None:
    s = given(*founded(), offer()).when(fulfil()).then(ev(
        "fulfilment.recorded", fulfilment_id="f1", commitment_id="c1",
        quantity={"amount": "2.5", "unit": "hour"},
        period={"start": "2026-01-05", "end": "2026-01-05"}))
    assert s.fulfilments["f1"].provider == A
    assert s.terms_version == 3  # fulfilments are not terms


def test_fulfilment_rules() -> None:
    history = (*founded(), offer())
    given(*history).when(fulfil(actor=B)).rejects("fulfilment.not-provider", field="actor")
    given(*history).when(fulfil(unit="day")).rejects("fulfilment.unit-mismatch",
                                                     field="quantity.unit")
    given(*history).when(fulfil(cid="nope")).rejects("commitment.unknown")
    given(*history, fulfil()).when(fulfil()).rejects("fulfilment.duplicate")
    inverted = RecordFulfilment(fulfilment_id="f9", commitment_id="c1", quantity=HOURS,
                                period=Period("2026-01-05", "2026-01-04"), actor=A, at=T(6))
    given(*history).when(inverted).rejects("period.inverted")


def test_fulfilment_may_exceed_the_commitment() -> None:
    given(*founded(), offer()).when(fulfil(amount="999")).then(ev(
        "fulfilment.recorded", fulfilment_id="f1", commitment_id="c1",
        quantity={"amount": "999", "unit": "hour"},
        period={"start": "2026-01-05", "end": "2026-01-05"}))


def test_only_the_receiver_confirms_or_contests() -> None:
    history = (*PARTIES, offer(), fulfil())
    for org in (A, C):
        given(*history).when(ConfirmFulfilment(fulfilment_id="f1", actor=org, at=T(7))) \
            .rejects("fulfilment.not-receiver", field="actor")
        given(*history).when(ContestFulfilment(fulfilment_id="f1", reason="Non", actor=org,
                                               at=T(7))).rejects("fulfilment.not-receiver")
    s = given(*history).when(ConfirmFulfilment(fulfilment_id="f1", comment="Merci!",
                                               actor=B, at=T(7))).then(
        ev("fulfilment.confirmed", fulfilment_id="f1", comment="Merci!"))
    assert s.fulfilments["f1"].positions[B].kind == "confirmed"


def test_a_receiver_may_change_its_position_but_not_repeat_it() -> None:
    contest = ContestFulfilment(fulfilment_id="f1", reason="La salle était fermée", actor=B,
                                at=T(7))
    confirm = ConfirmFulfilment(fulfilment_id="f1", actor=B, at=T(8))
    history = (*founded(), offer(), fulfil())
    s = given(*history).when(contest).then(
        ev("fulfilment.contested", fulfilment_id="f1", reason="La salle était fermée"))
    assert s.fulfilments["f1"].positions[B].kind == "contested"
    given(*history, contest).when(contest).then()
    given(*history, contest).when(confirm).then(ev("fulfilment.confirmed", fulfilment_id="f1"))
    given(*history, confirm).when(confirm).then()


def test_unknown_fulfilments_are_refused() -> None:
    given(*founded(), offer()).when(ConfirmFulfilment(fulfilment_id="zz", actor=B, at=T(7))) \
        .rejects("fulfilment.unknown", field="fulfilment_id")


def test_collective_fulfilments_are_confirmed_by_any_other_party() -> None:
    history = (*PARTIES, offer(receiver="collective"), fulfil())
    given(*history).when(ConfirmFulfilment(fulfilment_id="f1", actor=C, at=T(7))).then(
        ev("fulfilment.confirmed", fulfilment_id="f1"))
    given(*history).when(ConfirmFulfilment(fulfilment_id="f1", actor=A, at=T(7))).rejects(
        "fulfilment.not-receiver")


def test_while_suspended_no_new_work_but_positions_are_taken() -> None:
    suspended = (*founded(), offer(), fulfil(), SuspendAgreement(reason="Pause", actor=A,
                                                                 at=T(7)))
    given(*suspended).when(fulfil("f2", day=8)).rejects("agreement.suspended")
    given(*suspended).when(offer("c2", day=8)).rejects("agreement.suspended")
    given(*suspended).when(ConfirmFulfilment(fulfilment_id="f1", actor=B, at=T(8))).then(
        ev("fulfilment.confirmed", fulfilment_id="f1"))
