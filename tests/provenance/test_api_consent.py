"""Consent to share, for trust tokens: what is served, what is withheld, what is refused
(withdrawn, expired, out of scope, missing), and that auditors are not subject to it.

The scenario's consents to the trust: the centre's covers every family until 2099; the
theatre's covers ``agreement`` and ``commitment`` until 2030-06-30; the festival's was
withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.api.controllers import provenance as controller
from tests.api.conftest import assert_problem
from tests.provenance.conftest import Served
from tests.provenance.scenario import AID, CA, FR, OTHER_TRUST, TF, TRUST

pytestmark = pytest.mark.pg

BASE = "/v1/provenance"


def refused(response: Any, org: str, reason: str, family: str) -> dict[str, Any]:
    doc = assert_problem(response, 403, "consent-missing")
    assert (doc["organization"], doc["reason"], doc["family"]) == (org, reason, family), doc
    assert org in doc["detail"] and reason in doc["detail"]
    return doc


async def test_trust_gets_only_consented_data_of_an_agreement(served: Served) -> None:
    r = await served.get(f"{BASE}/agreements/{AID}", served.trust)
    assert r.status_code == 200, r.text
    doc = r.json()
    consent = doc["consent"]
    assert consent["applies"] and consent["trust_id"] == TRUST
    basis = {c["consent_id"]: c for c in consent["basis"]}
    assert basis["c-ca"]["in_force"] and basis["c-tf"]["in_force"]
    assert not basis["c-fr"]["in_force"] and basis["c-fr"]["withdrawn_at"]
    withheld = {(w["organization"], w["family"]): w for w in consent["withheld"]}
    assert withheld[(FR, "party")]["reason"] == "withdrawn"
    assert withheld[(TF, "party")]["reason"] == "out-of-scope"
    assert withheld[(TF, "fulfilment")]["consent_id"] == "c-tf"
    assert not any(org == CA for org, _ in withheld)
    actors = {c["actor"] for c in doc["chain"]}
    assert FR not in actors and CA in actors
    assert {c["type"] for c in doc["chain"] if c["actor"] == TF} == {
        "commitment.offered", "commitment.received_value_declared"}
    assert doc["ratifications"]["in_force"]["ratified_by"] == [CA, TF]
    assert FR not in {iv["organization"] for iv in doc["membership"]["intervals"]}


async def test_commitment_of_a_consenting_provider(served: Served) -> None:
    doc = (await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                            served.trust, year="2027")).json()
    assert [c["role"] for c in doc["chain"]] == ["generation", "amendment"]
    assert {v["organization"] for v in doc["declared_values"]} == {CA, TF}  # commitment
    fuls = {f["fulfilment_id"]: f for f in doc["fulfilments"]}
    assert fuls["compta-jan"]["history"] == []  # TF's confirmations: fulfilment family
    assert fuls["compta-jan"]["status"] == "unconfirmed"
    assert doc["reported_total"]["totals"] == [
        {"unit": "hour", "confirmed": "0", "recorded": "120"}]
    withheld = {(w["organization"], w["family"]) for w in doc["consent"]["withheld"]}
    assert withheld == {(TF, "fulfilment")}


async def test_refused_out_of_scope(served: Served) -> None:
    salle = f"{BASE}/agreements/{AID}/commitments/salle"
    assert (await served.get(salle, served.trust)).status_code == 200  # commitment: in scope
    doc = refused(await served.get(salle, served.trust, year="2027"), TF, "out-of-scope",
                  "fulfilment")
    assert doc["organizations"][0]["consent_id"] == "c-tf"
    refused(await served.get(f"{BASE}/agreements/{AID}/expectations/rapports-mensuels",
                             served.trust), TF, "out-of-scope", "expectation")
    refused(await served.get(f"{BASE}/agreements/{AID}/indicators/heures-comptables",
                             served.trust), TF, "out-of-scope", "indicator")


async def test_refused_withdrawn(served: Served) -> None:
    refused(await served.get(f"{BASE}/agreements/{AID}/commitments/campagne", served.trust),
            FR, "withdrawn", "commitment")
    # its role proposal is the centre's, which consents
    role = await served.get(f"{BASE}/agreements/{AID}/roles/coordination", served.trust)
    assert role.status_code == 200
    assert [c["actor"] for c in role.json()["chain"]] == [CA]  # FR's acceptance withheld


async def test_refused_expired(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    later = datetime(2031, 1, 15, tzinfo=UTC).timestamp()
    monkeypatch.setattr(controller, "clock", lambda: later)
    refused(await served.get(f"{BASE}/agreements/{AID}/commitments/salle", served.trust),
            TF, "expired", "commitment")
    ok = await served.get(f"{BASE}/agreements/{AID}/commitments/comptable", served.trust)
    assert ok.status_code == 200  # the centre's consent runs until 2099
    assert {v["organization"] for v in ok.json()["declared_values"]} == {CA}
    assert ok.json()["consent"]["date"] == "2031-01-15"


async def test_refused_missing(served: Served) -> None:
    doc = refused(await served.get(f"{BASE}/agreements/{AID}", served.other_trust),
                  CA, "missing", "agreement")
    assert doc["trust_id"] == OTHER_TRUST and doc["agreement_id"] == AID
    assert {(o["organization"], o["reason"]) for o in doc["organizations"]} == {
        (CA, "missing"), (TF, "missing"), (FR, "missing")}
    refused(await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                             served.other_trust), CA, "missing", "commitment")
    r = await served.get(f"{BASE}/organizations/{TF}", served.other_trust)
    assert_problem(r, 403, "consent-missing", organization=TF, reason="missing")


async def test_organization_and_search_for_a_trust(served: Served) -> None:
    fr = (await served.get(f"{BASE}/organizations/{FR}", served.trust)).json()
    kinds = {(s["stream"].split("/")[0], s["type"].split(".")[0]) for s in fr["statements"]}
    assert kinds == {("org", "organization"), ("agreement", "consent")}  # public + basis
    assert {w["reason"] for w in fr["consent"]["withheld"]} == {"withdrawn"}
    ca = (await served.get(f"{BASE}/organizations/{CA}", served.trust)).json()
    assert ca["consent"]["withheld"] == []
    found = (await served.get(f"{BASE}/search", served.trust)).json()
    assert [c["commitment_id"] for c in found["commitments"]] == ["comptable", "salle"]
    assert found["consent"]["withheld_commitments"] == 1


async def test_auditors_are_not_subject_to_consent(served: Served) -> None:
    for path in (f"{BASE}/agreements/{AID}/commitments/campagne",
                 f"{BASE}/agreements/{AID}/expectations/rapports-mensuels"):
        r = await served.get(path, served.auditor)
        assert r.status_code == 200 and r.json()["consent"]["applies"] is False
    agreement = (await served.get(f"{BASE}/agreements/{AID}", served.auditor)).json()
    assert FR in {c["actor"] for c in agreement["chain"]}


async def test_prov_exports_respect_consent(served: Served) -> None:
    trust = (await served.get(f"{BASE}/agreements/{AID}", served.trust, format="provn")).text
    full = (await served.get(f"{BASE}/agreements/{AID}", served.auditor, format="provn")).text
    campaign = f"mut:agreement/{AID}/commitment/campagne/v1"
    assert campaign in full and campaign not in trust  # FR's consent was withdrawn
    assert "'mut:PartyWithdrew'" in full and "'mut:PartyWithdrew'" not in trust
    assert "'mut:ConsentWithdrawn'" in trust  # the basis of the export is always shown
    refused(await served.get(f"{BASE}/agreements/{AID}", served.other_trust,
                             format="prov-json"), CA, "missing", "agreement")
