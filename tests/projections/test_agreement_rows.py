"""A realistic agreement, from drafting to a second terms version, projects to the rows
a reader expects: who the parties are, what was written, promised, done and ratified."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import ledger.domain as d
from ledger.domain import expectation_hash, state_hash
from ledger.domain.values import FairValue, Period, Quantity
from ledger.projections import ProjectionRunner, rebuild
from tests.projections.builders import World, snapshot

pytestmark = pytest.mark.pg

CA, TN, AS = "centre-arts", "theatre-nord", "atelier-sud"
AID = "ent-2026"
YEAR = Period("2026-01-01", "2026-12-31")


def _ack(w: World, eid: str, actor: str) -> None:
    e = w.state(AID).expectations[eid]
    w.do(AID, d.AcknowledgeExpectation(expectation_id=eid, content_hash=expectation_hash(e),
                                       actor=actor, at=w.at()))


def _ratify_all(w: World) -> None:
    for org in sorted(w.state(AID).parties):
        s = w.state(AID)
        w.do(AID, d.RatifyAgreement(terms_version=s.terms_version, state_hash=state_hash(s),
                                    actor=org, at=w.at()))


def story(w: World) -> dict[str, Any]:
    """The agreement's life; returns facts the assertions need."""
    do, at = w.do, w.at
    do(AID, d.DraftAgreement(agreement_id=AID, title="Locaux partagés", binding=False,
                             purpose="Mieux servir le quartier ensemble.", invited=[TN, AS],
                             actor=CA, at=at()))
    do(AID, d.JoinAgreement(actor=TN, at=at()))
    do(AID, d.JoinAgreement(actor=AS, at=at()))
    for org, person in ((CA, "p-ca"), (TN, "p-tn"), (AS, "p-as")):
        do(AID, d.NamePorteur(person_id=person, actor=org, at=at()))
    do(AID, d.StateExpectation(expectation_id="e1", text="Une rencontre par mois.",
                               actor=CA, at=at()))
    do(AID, d.StateExpectation(expectation_id="e2", text="Accès aux locaux le soir.",
                               addressed_to=[CA], actor=TN, at=at()))
    _ack(w, "e1", TN)
    _ack(w, "e1", AS)
    _ack(w, "e2", CA)
    do(AID, d.ReviseExpectation(expectation_id="e1", text="Deux rencontres par mois.",
                                actor=CA, at=at()))
    _ack(w, "e1", TN)  # AS has not acknowledged the new text yet
    do(AID, d.ProposeRole(role_id="r1", name="Coordination", description="Animer",
                          assignee=TN, actor=CA, at=at()))
    do(AID, d.AcceptRole(role_id="r1", person_id="p-tn", actor=TN, at=at()))
    do(AID, d.ProposeRole(role_id="r2", name="Trésorerie", description="Tenir les comptes",
                          assignee=CA, actor=AS, at=at()))
    do(AID, d.DeclineRole(role_id="r2", reason="Pas cette année", actor=CA, at=at()))
    do(AID, d.OfferCommitment(commitment_id="c1", category="premises",
                              description="Salle de répétition, les lundis",
                              quantity=Quantity("40", "hour"), period=YEAR,
                              receiver="collective", value=Quantity("2000", "CAD"),
                              fair_value=FairValue("3000", "CAD", "market"),
                              actor=CA, at=at()))
    do(AID, d.OfferCommitment(commitment_id="c2", category="equipment",
                              description="Sonorisation", quantity=Quantity("12", "month"),
                              period=YEAR, receiver=AS, value=Quantity("600", "CAD"),
                              actor=TN, at=at()))
    do(AID, d.DeclareReceivedValue(commitment_id="c1", value=Quantity("1500", "CAD"),
                                   actor=TN, at=at()))
    do(AID, d.DeclareReceivedValue(commitment_id="c1", value=Quantity("800", "CAD"),
                                   actor=AS, at=at()))
    do(AID, d.DeclareReceivedValue(commitment_id="c2", value=Quantity("400", "CAD"),
                                   actor=AS, at=at()))
    do(AID, d.RecordFulfilment(fulfilment_id="f1", commitment_id="c1",
                               quantity=Quantity("10", "hour"),
                               period=Period("2026-01-05", "2026-01-31"), actor=CA, at=at()))
    do(AID, d.ConfirmFulfilment(fulfilment_id="f1", comment="Merci", actor=TN, at=at()))
    do(AID, d.RecordFulfilment(fulfilment_id="f2", commitment_id="c2",
                               quantity=Quantity("1", "month"),
                               period=Period("2026-01-01", "2026-01-31"), actor=TN, at=at()))
    do(AID, d.ContestFulfilment(fulfilment_id="f2", reason="Matériel absent", actor=AS,
                                at=at()))
    do(AID, d.StartStage(stage="know_yourself", actor=CA, at=at()))
    for org in (CA, TN, AS):
        do(AID, d.AcknowledgeStageCompletion(stage="know_yourself", actor=org, at=at()))
    do(AID, d.StartStage(stage="framework", actor=TN, at=at()))
    do(AID, d.AcknowledgeStageCompletion(stage="framework", actor=CA, at=at()))
    do(AID, d.DefineIndicator(indicator_id="i1", name="Heures partagées", unit="hour",
                              method="Somme des heures", target="100", actor=CA, at=at()))
    do(AID, d.RecordMeasurement(measurement_id="m1", indicator_id="i1",
                                period=Period("2026-01-01", "2026-01-31"), value="12",
                                evidence_sha256="a" * 64, actor=CA, at=at()))
    do(AID, d.RecordMeasurement(measurement_id="m2", indicator_id="i1",
                                period=Period("2026-02-01", "2026-02-28"), value="15.5",
                                evidence_sha256="b" * 64, actor=TN, at=at()))
    do(AID, d.GiveConsent(consent_id="k1", trust_id="culturepedia", purpose="Statistiques",
                          scope=["indicator", "commitment"], licence="CC BY 4.0",
                          expires_on="2030-12-31", actor=CA, at=at()))
    ratified = w.state(AID)
    v1, hash1 = ratified.terms_version, state_hash(ratified)
    _ratify_all(w)
    do(AID, d.StateExpectation(expectation_id="e3", text="Partager les bilans.", actor=AS,
                               at=at()))  # changes the terms: a new version is pending
    return {"v1": v1, "hash1": hash1}


async def _project(w: World, ledger: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    pool, store = ledger
    await store.append(w.registrations())
    facts = story(w)
    await w.flush(store)
    runner = ProjectionRunner(pool, page_size=7)
    assert await runner.catch_up() == await store.size()
    return facts, await snapshot(pool)


def _by(rows: list[Any], *key: Any) -> Any:
    found = [r for r in rows if tuple(r[:len(key)]) == key]
    assert len(found) == 1, (key, rows)
    return found[0]


async def test_agreement_projects_to_expected_rows(ledger):
    w = World([CA, TN, AS])
    facts, snap = await _project(w, ledger)
    final = w.state(AID)

    [a] = snap["agreements"]
    assert a[:8] == (AID, "Locaux partagés", "Mieux servir le quartier ensemble.", False,
                     False, "in_force", None, CA)
    assert a[9:] [:1] == ("framework",)  # current stage: started last
    party_count, terms_version, terms_hash, pending, force_v, force_h = a[10:16]
    assert party_count == 3
    assert terms_version == facts["v1"] + 1 == final.terms_version
    assert terms_hash == state_hash(final)
    assert pending is True
    assert (force_v, force_h) == (facts["v1"], facts["hash1"])
    assert a[17] == final.version  # last stream version

    parties = {r[1]: r for r in snap["agreement_parties"]}
    assert {o: (r[2], r[5]) for o, r in parties.items()} == {
        CA: ("party", "p-ca"), TN: ("party", "p-tn"), AS: ("party", "p-as")}
    assert parties[TN][3] == CA  # invited by

    e1 = _by(snap["agreement_expectations"], AID, "e1")
    assert e1[2:8] == (CA, "Deux rencontres par mois.", None, [AS, TN], 2,
                       expectation_hash(final.expectations["e1"]))
    assert (e1[11], e1[12], e1[13]) == (False, 1, 2)  # not shared: the revision lapsed acks
    e2 = _by(snap["agreement_expectations"], AID, "e2")
    assert (e2[4], e2[5], e2[11]) == ([CA], [CA], True)
    acks = {(r[1], r[2]) for r in snap["agreement_expectation_acks"]}
    assert acks == {("e1", TN), ("e2", CA)}

    roles = {r[1]: r for r in snap["agreement_roles"]}
    assert roles["r1"][4:8] == (TN, CA, "accepted", "p-tn")
    assert roles["r2"][6:9] == ("declined", None, "Pas cette année")

    c1 = _by(snap["agreement_commitments"], AID, "c1")
    assert c1[2:8] == (CA, "collective", "premises", "Salle de répétition, les lundis",
                       Decimal("40"), "hour")
    assert c1[8:10] == (date(2026, 1, 1), date(2026, 12, 31))
    assert c1[11:16] == (Decimal("2000"), "CAD", Decimal("3000"), "CAD", "market")
    assert c1[18:] == ("active", None, 1, Decimal("10"), Decimal("10"))
    c2 = _by(snap["agreement_commitments"], AID, "c2")
    assert c2[18:] == ("active", None, 1, Decimal("1"), Decimal("0"))  # contested
    receivers = {(r[1], r[2]): r[3:] for r in snap["agreement_commitment_receivers"]}
    assert receivers == {
        ("c1", TN): (True, Decimal("1500"), "CAD"),
        ("c1", AS): (True, Decimal("800"), "CAD"),
        ("c2", AS): (True, Decimal("400"), "CAD"),
    }

    fulfilments = {r[1]: r[11:] for r in snap["agreement_fulfilments"]}
    assert fulfilments == {"f1": ("confirmed", [TN], []), "f2": ("contested", [], [AS])}

    [i1] = snap["agreement_indicators"]
    assert i1[1:6] == ("i1", "Heures partagées", "hour", "Somme des heures", Decimal("100"))
    assert i1[8:12] == (2, "m2", Decimal("15.5"), date(2026, 2, 1))

    stages = {r[1]: r for r in snap["agreement_stages"]}
    assert stages["know_yourself"][2:4] == (1, 1) and stages["know_yourself"][6] is True
    assert stages["framework"][2] == 4 and stages["framework"][6:] [:1] == (False,)
    assert stages["framework"][8] == 1
    assert len(snap["agreement_stage_acks"]) == 4

    ratifications = snap["agreement_ratifications"]
    assert {(r[1], r[2]) for r in ratifications} == {(o, facts["v1"]) for o in (CA, TN, AS)}
    assert all(r[3] == facts["hash1"] and r[8] is True for r in ratifications)
    assert all(r[4] == w.signers[r[1]].key_id and r[5] is not None for r in ratifications)

    [k1] = snap["agreement_consents"]
    assert k1[1:6] == ("k1", CA, "culturepedia", "Statistiques", ["indicator", "commitment"])


async def test_history_has_one_summarised_row_per_agreement_event(ledger):
    _, store = ledger
    w = World([CA, TN, AS])
    _, snap = await _project(w, ledger)
    history = snap["agreement_history"]
    assert [h[2] for h in history] == list(range(1, w.state(AID).version + 1))
    summaries = [h[11] for h in history]
    assert summaries[0] == (f"{CA} drafted “Locaux partagés”, inviting {TN}, {AS}; "
                            "terms version 1")
    assert f"{CA} stated expectation e1; terms version 7" in summaries  # after 3 porteurs
    assert f"{AS} acknowledged expectation e1; now shared" in summaries
    assert any(s.startswith(f"{CA} revised expectation e1; its acknowledgements lapse")
               for s in summaries)
    assert f"{AS} contested fulfilment f2: Matériel absent" in summaries
    assert any(s.endswith(" in force") and s.startswith(f"{sorted([CA, TN, AS])[-1]} ratified")
               for s in summaries)
    first = history[0]
    stored = (await store.read_log(first[0], 1))[0]
    assert first[3] == _utc(stored.recorded_at) and first[6] == CA  # recorded_at, actor
    assert first[7] == w.signers[CA].key_id and first[8] == stored.event_hash
    assert json.loads(first[12])["title"] == "Locaux partagés"  # the signed data (jsonb)
    assert all(h[9] for h in history)  # every event applied


async def test_portfolio_keeps_each_side_s_declared_value(ledger):
    _, snap = await _project(World([CA, TN, AS]), ledger)
    rows = {(r[0], r[1], r[3]): (r[11], r[12]) for r in snap["org_commitments"]}
    assert rows == {
        (CA, "given", "c1"): (Decimal("2000"), "CAD"),
        (TN, "received", "c1"): (Decimal("1500"), "CAD"),
        (AS, "received", "c1"): (Decimal("800"), "CAD"),
        (TN, "given", "c2"): (Decimal("600"), "CAD"),
        (AS, "received", "c2"): (Decimal("400"), "CAD"),
    }
    totals = {(r[0], r[2]): (r[1], r[3], r[4], r[5]) for r in snap["org_declared_totals"]}
    assert totals[(AS, "received")] == (AS, "CAD", Decimal("1200"), 2)
    assert totals[(CA, "given")] == (CA, "CAD", Decimal("2000"), 1)


async def test_rebuild_gives_the_same_rows(ledger):
    pool, _ = ledger
    _, incremental = await _project(World([CA, TN, AS]), ledger)
    report = await rebuild(pool)
    assert report.agreements == 1 and report.position == incremental["checkpoint"][0][1]
    assert await snapshot(pool) == incremental


def wind_down(w: World) -> None:
    """After the story: every event type the story did not use, to the very end."""
    do, at = w.do, w.at
    do(AID, d.ChangeVisibility(public=True, actor=TN, at=at()))
    do(AID, d.ReviseAgreement(title="Locaux et matériel", purpose="Mieux servir.",
                              binding=True, actor=CA, at=at()))
    do(AID, d.InviteParty(org="cafe-est", actor=CA, at=at()))
    do(AID, d.RelinquishRole(role_id="r1", reason="Trop de travail", actor=TN, at=at()))
    do(AID, d.WithdrawExpectation(expectation_id="e2", actor=TN, at=at()))
    do(AID, d.AmendCommitment(commitment_id="c1", category="premises",
                              description="Salle, les lundis et mardis",
                              quantity=Quantity("80", "hour"), period=YEAR,
                              receiver="collective", value=Quantity("3500", "CAD"),
                              actor=CA, at=at()))
    do(AID, d.WithdrawConsent(consent_id="k1", reason="Révision", actor=CA, at=at()))
    do(AID, d.SuspendAgreement(reason="Travaux dans la salle", actor=AS, at=at()))
    do(AID, d.WithdrawCommitment(commitment_id="c2", reason="Matériel vendu", actor=TN,
                                 at=at()))
    do(AID, d.ResumeAgreement(reason="Travaux finis", actor=AS, at=at()))
    do(AID, d.WithdrawFromAgreement(effective_on="2026-12-31", reason="Déménagement",
                                    actor=AS, at=at()))
    do(AID, d.TerminateAgreement(reason="Mission accomplie", actor=CA, at=at()))


async def test_every_event_type_projects_the_same_incrementally_and_rebuilt(ledger):
    pool, store = ledger
    w = World([CA, TN, AS, "cafe-est"])
    await store.append(w.registrations())
    story(w)
    wind_down(w)
    await w.flush(store)
    await ProjectionRunner(pool, page_size=3, rebuild_from=None).catch_up()
    incremental = await snapshot(pool)
    assert {r[5] for r in incremental["agreement_history"]} == set(d.EVENTS)
    [a] = incremental["agreements"]
    assert (a[5], a[6]) == ("terminated", "Mission accomplie")
    parties = {r[1]: r[2] for r in incremental["agreement_parties"]}
    assert parties == {CA: "party", TN: "party", AS: "former", "cafe-est": "invited"}
    c1 = _by(incremental["agreement_commitments"], AID, "c1")
    assert (c1[6], c1[12], c1[17]) == (Decimal("80"), "CAD", 1)  # amended once
    receivers = {(r[1], r[2]): r[3:] for r in incremental["agreement_commitment_receivers"]}
    assert receivers[("c1", TN)] == (True, None, None)  # declared values lapsed
    assert ("c1", AS) not in receivers  # a former party no longer receives
    await rebuild(pool)
    assert await snapshot(pool) == incremental


def _utc(text: str) -> Any:
    from datetime import datetime
    return datetime.fromisoformat(text)
