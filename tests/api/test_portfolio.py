"""GET /v1/organizations/{id}/commitments: each side's declared values kept apart, totals
per unit of the organization's own declarations only, and who may read it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ledger import domain as d
from ledger.domain.values import FairValue, Period, Quantity
from ledger.envelope import Envelope
from ledger.signer import Signer
from ledger.statement import Statement
from tests.api.conftest import assert_problem, body, token_for
from tests.helpers import hash_of, org

pytestmark = pytest.mark.pg

YEAR = Period(start="2027-01-01", end="2027-12-31")
JANUARY = Period(start="2027-01-04", end="2027-01-29")


class Driver:
    """One agreement driven through the API: fold what was sent, decide, sign, post."""

    def __init__(self, client: Any, agreement_id: str) -> None:
        self.client = client
        self.agreement_id = agreement_id
        self.stream = f"agreement/{agreement_id}"
        self.sent: list[Envelope] = []

    def _state(self) -> d.AgreementState:
        return d.fold(d.fact_from_statement(msgspec.json.decode(e.payload_bytes(),
                                                                type=Statement))
                      for e in self.sent)

    async def do(self, signer: Signer, make: Any, **fields: Any) -> None:
        command = make(actor=signer.org_id, at=signer.now(), **fields)
        new = []
        for event in d.decide(command, self._state()):
            prev = hash_of(self.sent[-1]) if self.sent else None
            new.append(signer.event(self.stream, len(self.sent) + 1, prev, event.type,
                                    event.data))
            self.sent.append(new[-1])
        r = await self.client.post("/v1/events", json=body(*new))
        assert r.status_code == 201, r.text


def q(amount: str, unit: str) -> Quantity:
    return Quantity(amount=amount, unit=unit)


async def scenario(client: Any) -> None:
    """Three organizations, two agreements; values declared by both sides."""
    ca, tf, fr = org("centre-arts"), org("theatre"), org("festival")
    r = await client.post("/v1/events", json=body(*(o.registration(o.org_id)
                                                    for o in (ca, tf, fr))))
    assert r.status_code == 201, r.text

    rives = Driver(client, "rives")
    await rives.do(ca, d.DraftAgreement, agreement_id="rives", title="Rives",
                   purpose="Partager", binding=False, invited=["theatre", "festival"])
    await rives.do(tf, d.JoinAgreement)
    await rives.do(fr, d.JoinAgreement)
    await rives.do(ca, d.OfferCommitment, commitment_id="comptable",
                   category="function_accounting", description="Comptable partagée",
                   quantity=q("384", "hour"), period=YEAR, receiver="theatre",
                   value=q("18000", "CAD"),
                   fair_value=FairValue(amount="21000", unit="CAD", method="market"))
    await rives.do(tf, d.DeclareReceivedValue, commitment_id="comptable",
                   value=q("24000", "CAD"))
    await rives.do(fr, d.OfferCommitment, commitment_id="campagne", category="fundraising",
                   description="Campagne commune", quantity=q("1", "campaign"), period=YEAR,
                   receiver="collective", value=q("120", "hour"))
    await rives.do(ca, d.DeclareReceivedValue, commitment_id="campagne",
                   value=q("150", "hour"))
    await rives.do(tf, d.DeclareReceivedValue, commitment_id="campagne",
                   value=q("90.5", "hour"))
    await rives.do(ca, d.RecordFulfilment, fulfilment_id="janvier", commitment_id="comptable",
                   quantity=q("32", "hour"), period=JANUARY)
    await rives.do(tf, d.ConfirmFulfilment, fulfilment_id="janvier")
    await rives.do(ca, d.RecordFulfilment, fulfilment_id="fevrier", commitment_id="comptable",
                   quantity=q("30.5", "hour"), period=JANUARY)
    await rives.do(tf, d.ContestFulfilment, fulfilment_id="fevrier",
                   reason="Deux journées manquent.")

    salle = Driver(client, "salle")
    await salle.do(tf, d.DraftAgreement, agreement_id="salle", title="Salle",
                   purpose="Partager une salle", binding=False, invited=["centre-arts"])
    await salle.do(ca, d.JoinAgreement)
    await salle.do(ca, d.OfferCommitment, commitment_id="projecteur", category="equipment",
                   description="Projecteur", quantity=q("10", "day"), period=YEAR,
                   receiver="theatre", value=q("500.25", "CAD"))
    await salle.do(ca, d.OfferCommitment, commitment_id="camion", category="equipment",
                   description="Camion", quantity=q("3", "day"), period=YEAR,
                   receiver="theatre", value=q("900", "CAD"))
    await salle.do(ca, d.WithdrawCommitment, commitment_id="camion", reason="Vendu.")
    await salle.do(tf, d.OfferCommitment, commitment_id="salle-repetition",
                   category="premises", description="Salle", quantity=q("100", "evening"),
                   period=YEAR, receiver="centre-arts", value=q("6000", "CAD"))
    await salle.do(ca, d.DeclareReceivedValue, commitment_id="salle-repetition",
                   value=q("5000", "CAD"))


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["commitment_id"]: i for i in items}


async def test_each_side_keeps_its_own_values_and_totals_per_unit(client, auditor):
    await scenario(client)
    r = await client.get("/v1/organizations/centre-arts/commitments",
                         headers=token_for(client, "org", "centre-arts"))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["org_id"] == "centre-arts"
    given, received = by_id(doc["given"]), by_id(doc["received"])
    assert set(given) == {"comptable", "projecteur", "camion"}
    assert set(received) == {"campagne", "salle-repetition"}

    comptable = given["comptable"]
    assert comptable | {"fulfilment": None} == {
        "agreement_id": "rives", "agreement_status": "active", "commitment_id": "comptable",
        "role": "provider", "provider": "centre-arts", "receiver": "theatre",
        "category": "function_accounting", "description": "Comptable partagée",
        "quantity": {"amount": "384", "unit": "hour"},
        "period": {"start": "2027-01-01", "end": "2027-12-31"},
        "provider_value": {"amount": "18000", "unit": "CAD"},
        "receiver_values": {"theatre": {"amount": "24000", "unit": "CAD"}},
        "fair_value": {"amount": "21000", "unit": "CAD", "method": "market"},
        "withdrawn": False, "fulfilment": None}
    assert comptable["fulfilment"] == {
        "count": 2, "recorded": {"amount": "62.5", "unit": "hour"},
        "confirmed": {"amount": "32", "unit": "hour"},
        "contested": {"amount": "30.5", "unit": "hour"}}
    assert given["camion"]["withdrawn"] is True

    campagne = received["campagne"]  # to the collective: each receiver's value is its own
    assert (campagne["role"], campagne["receiver"], campagne["provider"]) == \
        ("receiver", "collective", "festival")
    assert campagne["provider_value"] == {"amount": "120", "unit": "hour"}
    assert campagne["receiver_values"] == {"centre-arts": {"amount": "150", "unit": "hour"},
                                           "theatre": {"amount": "90.5", "unit": "hour"}}
    assert campagne["fulfilment"]["count"] == 0

    # given: its own provider values (18000 + 500.25; the withdrawn truck is left out);
    # received: its own declared values (150 hours, 5000 CAD), never another party's
    assert doc["totals"] == {"given": {"CAD": "18500.25"},
                             "received": {"CAD": "5000", "hour": "150"}}

    r = await client.get("/v1/organizations/theatre/commitments", headers=auditor)
    assert r.status_code == 200, r.text
    theatre = r.json()
    assert set(by_id(theatre["given"])) == {"salle-repetition"}
    assert set(by_id(theatre["received"])) == {"comptable", "campagne", "projecteur", "camion"}
    assert theatre["totals"] == {"given": {"CAD": "6000"},
                                 "received": {"CAD": "24000", "hour": "90.5"}}

    r = await client.get("/v1/organizations/festival/commitments", headers=auditor)
    assert r.status_code == 200, r.text
    festival = r.json()
    assert set(by_id(festival["given"])) == {"campagne"} and festival["received"] == []
    assert festival["totals"] == {"given": {"hour": "120"}, "received": {}}

    # a trust reads what consents cover: none here (ledger.access)
    r = await client.get("/v1/organizations/festival/commitments",
                         headers=token_for(client, "trust", "witness"))
    assert r.status_code == 200, r.text
    assert r.json() == {"org_id": "festival", "given": [], "received": [],
                        "totals": {"given": {}, "received": {}}}


async def test_only_the_organization_itself_auditors_and_trusts_read_it(client):
    await client.post("/v1/events", json=body(org("centre-arts").registration("A"),
                                              org("theatre").registration("T")))
    url = "/v1/organizations/centre-arts/commitments"
    assert_problem(await client.get(url), 401, "token-missing")
    assert_problem(await client.get(url, headers={"Authorization": "Bearer nope"}),
                   401, "token-invalid")
    assert_problem(await client.get(url, headers=token_for(client, "org", "theatre")),
                   403, "forbidden")
    r = await client.get(url, headers=token_for(client, "org", "centre-arts"))
    assert r.status_code == 200, r.text
    assert r.json() == {"org_id": "centre-arts", "given": [], "received": [],
                        "totals": {"given": {}, "received": {}}}
    auditor = token_for(client, "auditor", "cour-des-comptes")
    assert_problem(await client.get("/v1/organizations/nobody/commitments", headers=auditor),
                   404, "not-found")
    assert_problem(await client.get("/v1/organizations/Not_An_Org/commitments",
                                    headers=auditor), 400, "request-invalid")


async def test_the_agreement_view_follows_its_stream(client):
    """GET /v1/agreements/{id} keeps the folded state per stream version (the portfolio's
    fold, cached): every new event shows at once, older versions are still folded."""
    ca, tf = org("centre-arts"), org("theatre")
    await client.post("/v1/events", json=body(ca.registration("A"), tf.registration("T")))
    deal = Driver(client, "deal")
    steps = [(ca, d.DraftAgreement, {"agreement_id": "deal", "title": "Deal", "binding": False,
                                     "purpose": "Partager", "invited": ["theatre"],
                                     "public": True}),
             (tf, d.JoinAgreement, {}),
             (ca, d.OfferCommitment, {"commitment_id": "c1", "category": "premises",
                                      "description": "Salle", "quantity": q("3", "day"),
                                      "period": YEAR, "receiver": "theatre"})]
    for signer, make, fields in steps:
        await deal.do(signer, make, **fields)
        r = await client.get("/v1/agreements/deal")
        assert r.status_code == 200, r.text
        view = r.json()
        assert view["version"] == len(deal.sent) and r.headers["etag"] == f'"{len(deal.sent)}"'
        assert view["state_hash"] == d.state_hash(deal._state())
    assert set(view["state"]["commitments"]) == {"c1"}
    r = await client.get("/v1/agreements/deal", params={"version": 1})
    assert r.json()["version"] == 1 and r.json()["state"]["commitments"] == {}
    r = await client.get("/v1/agreements/deal", headers={"If-None-Match": '"3"'})
    assert r.status_code == 304
    assert_problem(await client.get("/v1/agreements/deal", params={"version": 4}),
                   400, "range-invalid")
