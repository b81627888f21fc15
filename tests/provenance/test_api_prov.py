"""W3C PROV exports through the API, read back with the ``prov`` package (a test-only
dependency): agents, entities and relations of an agreement's whole history, of one
commitment, of an organization's statements and of a search; PROV-N compared,
statement by statement, with what ``prov`` writes from the PROV-JSON."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from prov.model import PROV, ProvDocument

from tests.provenance.conftest import Served
from tests.provenance.scenario import AID, CA, FR, TF

pytestmark = pytest.mark.pg

BASE = "/v1/provenance"
MUT = "https://mutualisation-ledger.org/ns#"
_STATEMENT = re.compile(r"^\s*(\w+)\((.*)\)\s*$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")


def provn_statements(text: str) -> Counter[tuple[str, ...]]:
    """(keyword, identifier arguments...) of each PROV-N statement: attributes and times
    left out, since the two writers format literals differently."""
    out: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        m = _STATEMENT.match(line)
        if not m or m.group(1) in ("document", "prefix"):
            continue
        args = m.group(2).split(", [", 1)[0]
        parts = [a.strip() for a in args.split(",")]
        out[(m.group(1), *[p for p in parts if not _TIME.match(p)])] += 1
    return out


def read(response: Any) -> ProvDocument:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return ProvDocument.deserialize(content=response.text, format="json")


def names(doc: ProvDocument, record_type: Any) -> dict[str, Any]:
    return {str(r.identifier): r for r in doc.get_records(record_type)}


def relations(doc: ProvDocument, kind: type) -> set[tuple[str, ...]]:
    return {tuple(str(v) for _, v in r.formal_attributes if v is not None)
            for r in doc.get_records(kind)}


def mut(local: str) -> str:
    return f"mut:{local}"


async def test_agreement_export_reads_back_with_prov(served: Served) -> None:
    from prov.model import (
        ProvActivity,
        ProvAgent,
        ProvAssociation,
        ProvAttribution,
        ProvDelegation,
        ProvDerivation,
        ProvEntity,
        ProvGeneration,
        ProvInvalidation,
        ProvUsage,
    )

    answer = (await served.get(f"{BASE}/agreements/{AID}")).json()
    doc = read(await served.get(f"{BASE}/agreements/{AID}", format="prov-json"))
    agents = names(doc, ProvAgent)
    for org in (CA, TF, FR):
        assert PROV["Organization"] in agents[mut(f"org/{org}")].get_asserted_types()
    first, second = served.world.first_key[CA], served.world.signers[CA].key_id
    for key in (first, second):
        assert mut(f"key/{key}") in agents
    revoked = agents[mut(f"key/{first}")]
    assert {str(v) for k, v in revoked.extra_attributes if str(k) == "mut:revocationReason"} == {
        "compromised"}

    entities = names(doc, ProvEntity)
    terms = [mut(f"agreement/{AID}/terms/{n}") for n in range(1, 17)]
    assert set(terms) <= set(entities)
    assert {mut(f"agreement/{AID}/commitment/comptable/v1"),
            mut(f"agreement/{AID}/commitment/comptable/v2"),
            mut(f"agreement/{AID}/fulfilment/compta-jan"),
            mut(f"agreement/{AID}/measure/heures-janvier"),
            mut(f"agreement/{AID}/consent/c-ca")} <= set(entities)

    activities = names(doc, ProvActivity)
    by_hash = {c["event_hash"]: c for c in answer["chain"]}
    drafted = answer["chain"][0]
    act = activities[mut(f"event/{drafted['event_hash']}")]
    extra = {str(k): v for k, v in act.extra_attributes}
    assert act.get_startTime().isoformat().replace("+00:00", "Z") == drafted["issued_at"]
    assert int(extra["mut:logIndex"].value) == drafted["position"]
    assert extra["mut:eventHash"] == drafted["event_hash"]
    assert extra["mut:recordedAt"].isoformat().replace("+00:00", "Z") == drafted["recorded_at"]
    org_events = 3 + 2  # registrations, the key added and the key revoked
    assert len(activities) == len(served.world.envelopes) - org_events
    assert by_hash  # every chain event is an activity:
    assert {mut(f"event/{h}") for h in by_hash} <= set(activities)

    withdrew = mut(f"event/{answer['chain'][-1]['event_hash']}")
    assert (terms[15], withdrew) in {r[:2] for r in relations(doc, ProvGeneration)}
    assert (terms[14], withdrew) in {r[:2] for r in relations(doc, ProvInvalidation)}
    revisions = {tuple(str(v) for _, v in r.formal_attributes if v is not None)[:2]
                 for r in doc.get_records(ProvDerivation)
                 if PROV["Revision"] in r.get_asserted_types()}
    assert (terms[1], terms[0]) in revisions
    assert (mut(f"agreement/{AID}/commitment/comptable/v2"),
            mut(f"agreement/{AID}/commitment/comptable/v1")) in revisions
    assert (terms[0], mut(f"org/{CA}")) in relations(doc, ProvAttribution)
    drafted_act = mut(f"event/{drafted['event_hash']}")
    assert (mut(f"key/{first}"), mut(f"org/{CA}"), drafted_act) in relations(
        doc, ProvDelegation)
    assert {(drafted_act, mut(f"key/{first}")), (drafted_act, mut(f"org/{CA}"))} <= {
        r[:2] for r in relations(doc, ProvAssociation)}
    ratified = [s["event"]["event_hash"] for v in answer["ratifications"]["terms_versions"]
                for s in v["signatures"]]
    used = {r[:2] for r in relations(doc, ProvUsage)}
    assert all((mut(f"event/{h}"), terms[14]) in used for h in ratified)

    provn = await served.get(f"{BASE}/agreements/{AID}", format="provn")
    assert provn.headers["content-type"].startswith("text/provenance-notation")
    assert provn.text.startswith("document\n") and provn.text.endswith("endDocument\n")
    assert provn_statements(provn.text) == provn_statements(doc.get_provn())


async def test_item_organization_and_search_exports(served: Served) -> None:
    from prov.model import ProvActivity, ProvEntity

    doc = read(await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                                format="prov-json"))
    entities = names(doc, ProvEntity)
    assert mut(f"agreement/{AID}/commitment/comptable/v2") in entities
    assert mut(f"agreement/{AID}/fulfilment/compta-apr") in entities
    assert not any("/salle" in e for e in entities)
    types = {str(a.get_asserted_types() and next(iter(a.get_asserted_types())))
             for a in names(doc, ProvActivity).values()}
    assert types == {"mut:CommitmentOffered", "mut:CommitmentAmended",
                     "mut:CommitmentReceivedValueDeclared", "mut:FulfilmentRecorded",
                     "mut:FulfilmentConfirmed", "mut:FulfilmentContested"}
    provn = (await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                              format="provn")).text
    assert provn_statements(provn) == provn_statements(doc.get_provn())

    for path in (f"{BASE}/agreements/{AID}/expectations/rapports-mensuels",
                 f"{BASE}/agreements/{AID}/roles/coordination",
                 f"{BASE}/agreements/{AID}/indicators/heures-comptables",
                 f"{BASE}/search?category=premises"):
        item = read(await served.get(path, format="prov-json"))
        assert list(item.get_records(ProvActivity))

    org = read(await served.get(f"{BASE}/organizations/{FR}", format="prov-json"))
    acts = names(org, ProvActivity).values()
    assert acts and all(
        str(dict((str(k), v) for k, v in a.extra_attributes)["mut:keyId"])
        == served.world.first_key[FR] for a in acts)
