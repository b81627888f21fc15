"""The provenance queries against a real ledger, as an auditor (consent does not apply):
chains, key validity, inclusion proofs that verify, ratifications, membership at a date,
reported totals, organizations' statements and compromised keys, search, access."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import b64, merkle
from ledger.provenance import NOT_CHECKPOINTED
from tests.api.conftest import assert_problem, token_for
from tests.provenance.conftest import Served
from tests.provenance.scenario import AID, CA, FR, TF

pytestmark = pytest.mark.pg

BASE = "/v1/provenance"


def verify_all(served: Served, answer: dict[str, Any]) -> tuple[int, int]:
    """Verify every inclusion proof in ``answer`` against its checkpoint, opened with
    the log's key. Returns (verified, not yet checkpointed)."""
    cp = answer["checkpoint"]
    opened = served.checkpoint(cp["note"])
    assert opened.size == cp["size"] == served.checkpoint_size
    assert b64.encode(opened.root_hash) == cp["root_hash"]
    verified = pending = 0

    def walk(node: Any) -> None:
        nonlocal verified, pending
        if isinstance(node, dict):
            inc = node.get("inclusion")
            if isinstance(inc, dict) and "position" in node:
                if inc["status"] == NOT_CHECKPOINTED:
                    assert node["position"] >= opened.size
                    pending += 1
                else:
                    assert inc["status"] == "checkpointed", inc
                    assert inc["leaf_index"] == node["position"] < opened.size
                    merkle.verify_inclusion(inc["leaf_index"], inc["tree_size"],
                                            b64.decode(inc["leaf_hash"]),
                                            [b64.decode(h) for h in inc["proof"]],
                                            opened.root_hash)
                    verified += 1
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(answer)
    return verified, pending


async def test_agreement_chain_ratifications_and_proofs(served: Served) -> None:
    r = await served.get(f"{BASE}/agreements/{AID}")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["consent"]["applies"] is False
    chain = doc["chain"]
    assert chain[0]["role"] == "generation" and chain[0]["type"] == "agreement.drafted"
    assert [c["terms_version"] for c in chain] == list(range(1, 17))
    assert {c["role"] for c in chain[1:]} == {"revision"}
    assert chain[-1]["type"] == "party.withdrew" and chain[-1]["actor"] == FR
    assert doc["agreement"]["terms_version"] == 16
    assert doc["agreement"]["state_hash"] == chain[-1]["state_hash"]
    for c in chain:
        assert set(c) >= {"actor", "key_id", "key", "issued_at", "recorded_at", "position",
                          "event_hash", "inclusion", "data"}

    rat = doc["ratifications"]
    assert rat["in_force"]["terms_version"] == 15
    assert rat["in_force"]["all_ratified_same_hash"] is True
    assert rat["in_force"]["ratified_by"] == sorted([CA, TF, FR])
    v15 = next(v for v in rat["terms_versions"] if v["terms_version"] == 15)
    assert v15["state_hash"] == rat["in_force"]["state_hash"] == chain[14]["state_hash"]
    assert v15["all_same_hash"] and v15["all_match_terms"] and v15["ratified_by_all_parties"]
    for sig in v15["signatures"]:
        assert sig["state_hash"] == v15["state_hash"]
        assert sig["event"]["type"] == "agreement.ratified"
        assert sig["event"]["key"]["valid"] is True
    v16 = next(v for v in rat["terms_versions"] if v["terms_version"] == 16)
    assert v16["signatures"] == [] and v16["not_ratified_by"] == sorted([CA, TF])

    verified, pending = verify_all(served, doc)
    assert verified == 15 + 3 and pending == 1  # FR's withdrawal came after the checkpoint


async def test_key_validity_flags_a_key_revoked_later(served: Served) -> None:
    doc = (await served.get(f"{BASE}/agreements/{AID}")).json()
    drafted = doc["chain"][0]
    assert drafted["key_id"] == served.world.first_key[CA]
    assert drafted["key"]["valid"] is True
    assert drafted["key"]["revoked_later"] is True
    assert drafted["key"]["revocation_reason"] == "compromised"
    assert drafted["key"]["revoked_at"] > drafted["position"]
    joined = doc["chain"][1]
    assert joined["key"] == joined["key"] | {"valid": True, "revoked_later": False,
                                             "revoked_at": None}


async def test_membership_over_time_and_at_a_date(served: Served) -> None:
    doc = (await served.get(f"{BASE}/agreements/{AID}")).json()
    intervals = {iv["organization"]: iv for iv in doc["membership"]["intervals"]}
    assert intervals[CA]["how"] == "drafted" and intervals[TF]["how"] == "joined"
    left = intervals[FR]["left"]
    assert left is not None and left["type"] == "party.withdrew" and left["effective_on"]
    before = intervals[FR]["joined"]["recorded_at"]
    at_join = (await served.get(f"{BASE}/agreements/{AID}", at=before)).json()
    assert at_join["membership"]["at"]["parties"] == sorted([CA, TF, FR])
    after = (await served.get(f"{BASE}/agreements/{AID}", at=left["recorded_at"])).json()
    assert after["membership"]["at"]["parties"] == sorted([CA, TF])
    assert after["membership"]["at"]["withdrawn_in_notice_period"] == [FR]
    past = (await served.get(f"{BASE}/agreements/{AID}", at="2020-01-01")).json()
    assert past["membership"]["at"]["parties"] == []
    today = left["recorded_at"][:10]
    day = (await served.get(f"{BASE}/agreements/{AID}", at=today)).json()
    assert day["membership"]["at"]["parties"] == sorted([CA, TF])
    assert_problem(await served.get(f"{BASE}/agreements/{AID}", at="2026-02-30"), 400,
                   "request-malformed", field="at")


async def test_commitment_chain_values_fulfilments(served: Served) -> None:
    for path in (f"{BASE}/agreements/{AID}/commitments/comptable",
                 f"{BASE}/commitments/{AID}/comptable"):
        r = await served.get(path)
        assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["commitment"]["provider"] == CA and doc["commitment"]["version"] == 2
    assert [(c["role"], c["commitment_version"]) for c in doc["chain"]] == [
        ("generation", 1), ("amendment", 2)]
    values = [(v["organization"], v["side"], v["value"]["amount"], v["current"])
              for v in doc["declared_values"]]
    assert values == [(CA, "provider", "18000", False), (TF, "receiver", "24000", False),
                      (CA, "provider", "18000", True), (TF, "receiver", "25000", True)]
    assert "lapsed" in doc["declared_values"][1]
    fuls = {f["fulfilment_id"]: f for f in doc["fulfilments"]}
    assert set(fuls) == {"compta-jan", "compta-feb", "compta-mar", "compta-dec", "compta-apr"}
    assert fuls["compta-mar"]["status"] == "contested"
    assert fuls["compta-jan"]["recorded_by"] == CA
    assert [(p["organization"], p["stance"]) for p in fuls["compta-jan"]["positions"]] == [
        (TF, "confirmed")]
    assert fuls["compta-jan"]["recorded"]["key"]["revoked_later"] is True
    apr = fuls["compta-apr"]["recorded"]
    assert apr["key_id"] == served.world.signers[CA].key_id != served.world.first_key[CA]
    assert apr["key"]["valid"] is True and apr["key"]["revoked_later"] is False
    assert apr["inclusion"] == {"status": NOT_CHECKPOINTED}
    verified, pending = verify_all(served, doc)
    assert verified == 2 + 4 + 4 and pending == 2  # apr recorded and confirmed


async def test_reported_total_for_a_year_never_adds_values(served: Served) -> None:
    doc = (await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                            year="2027")).json()
    total = doc["reported_total"]
    assert total["totals"] == [{"unit": "hour", "confirmed": "92", "recorded": "120"}]
    behind = {f["fulfilment_id"]: f for f in total["fulfilments"]}
    assert set(behind) == {"compta-jan", "compta-feb", "compta-mar", "compta-apr"}
    assert behind["compta-jan"]["confirmed_by"] == [TF]
    assert behind["compta-mar"]["contested_by"] == [TF]
    assert total["partial_overlap"] == ["compta-dec"]
    declared = {(v["organization"], v["side"]): v for v in total["declared_values"]}
    assert declared[(CA, "provider")]["pro_rata_for_confirmed"] == {
        "amount": "4140", "unit": "CAD", "according_to": CA}
    assert declared[(TF, "receiver")]["pro_rata_for_confirmed"]["amount"] == "5750"
    assert "43000" not in str(total) and "9890" not in str(total)  # never summed
    window = (await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                               **{"from": "2027-02-01", "to": "2027-03-31"})).json()
    assert window["reported_total"]["totals"] == [
        {"unit": "hour", "confirmed": "30", "recorded": "58"}]
    assert_problem(await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                                    year="27"), 400, "request-malformed")
    assert_problem(await served.get(f"{BASE}/agreements/{AID}/commitments/comptable",
                                    **{"from": "2027-05-01", "to": "2027-01-01"}),
                   400, "request-malformed")


async def test_expectation_role_indicator_chains(served: Served) -> None:
    exp = (await served.get(f"{BASE}/agreements/{AID}/expectations/rapports-mensuels")).json()
    assert [c["role"] for c in exp["chain"]] == ["generation"]
    assert exp["chain"][0]["actor"] == TF
    assert sorted(a["organization"] for a in exp["acknowledgements"]) == sorted([CA, FR])
    assert all(a["revision"] == 1 and a["current"] for a in exp["acknowledgements"])

    role = (await served.get(f"{BASE}/agreements/{AID}/roles/coordination")).json()
    assert [c["role"] for c in role["chain"]] == [
        "generation", "acceptance", "invalidation (the assignee withdrew)"]
    assert role["role"]["status"] == "ended" and role["role"]["person_id"] == "p-coord-fr"

    ind = (await served.get(f"{BASE}/agreements/{AID}/indicators/heures-comptables")).json()
    assert [c["role"] for c in ind["chain"]] == ["generation"]
    (m,) = ind["measures"]
    assert (m["measurement_id"], m["value"], m["unit"], m["measured_by"]) == (
        "heures-janvier", "32", "hour", TF)
    assert m["event"]["inclusion"] == {"status": NOT_CHECKPOINTED}
    for path, field in ((f"{BASE}/agreements/{AID}/roles/nope", "role_id"),
                        (f"{BASE}/agreements/{AID}/commitments/nope", "commitment_id"),
                        (f"{BASE}/agreements/nope", "agreement_id")):
        assert_problem(await served.get(path), 404, "not-found", field=field)


async def test_organization_statements_and_compromised_key_report(served: Served) -> None:
    r = await served.get(f"{BASE}/organizations/{CA}")
    assert r.status_code == 200, r.text
    doc = r.json()
    statements = doc["statements"]
    assert all(s["actor"] == CA for s in statements)
    assert {s["stream"] for s in statements} == {f"org/{CA}", f"agreement/{AID}"}
    positions = [s["position"] for s in statements]
    assert positions == sorted(positions)
    first, second = doc["keys"]
    assert first["revocation_reason"] == "compromised" and second["revoked_at"] is None
    revoked = doc["signed_with_keys_revoked_later"]
    assert revoked and all(x["key_id"] == first["key_id"] and x["compromised"]
                           and x["position"] < first["revoked_at"] == x["revoked_at"]
                           for x in revoked)
    assert {x["type"] for x in revoked} >= {"organization.registered", "agreement.drafted",
                                            "fulfilment.recorded"}
    later = [s for s in statements if s["position"] > first["revoked_at"]]
    assert later and all(s["key_id"] == second["key_id"] and s["key"]["valid"]
                         for s in later)
    verify_all(served, doc)

    tf = (await served.get(f"{BASE}/organizations/{TF}")).json()
    assert tf["signed_with_keys_revoked_later"] == []
    empty = (await served.get(f"{BASE}/organizations/{CA}", to="2020-01-01")).json()
    assert empty["statements"] == []
    some = (await served.get(f"{BASE}/organizations/{CA}", limit=3)).json()
    assert len(some["statements"]) == 3 and some["query"]["truncated"] is True
    assert_problem(await served.get(f"{BASE}/organizations/nobody"), 404, "not-found")


async def test_search_by_category_org_and_period(served: Served) -> None:
    async def ids(**params: Any) -> list[str]:
        r = await served.get(f"{BASE}/search", **params)
        assert r.status_code == 200, r.text
        return [c["commitment_id"] for c in r.json()["commitments"]]

    assert await ids() == ["campagne", "comptable", "salle"]
    assert await ids(category="function_accounting") == ["comptable"]
    assert await ids(org=FR) == ["campagne", "salle"]  # provider; receiver of salle
    assert await ids(org=CA) == ["campagne", "comptable"]  # campagne: collective receiver
    assert await ids(category="premises", org=TF) == ["salle"]
    assert await ids(**{"from": "2028-01-01"}) == []
    assert await ids(**{"from": "2027-06-01", "to": "2027-06-30"}) == [
        "campagne", "comptable", "salle"]
    assert_problem(await served.get(f"{BASE}/search", category="cheese"), 400,
                   "request-malformed", field="category")


async def test_only_trust_and_auditor_tokens(served: Served) -> None:
    client = served.client
    org = token_for(client, "org", CA)
    for path in (f"{BASE}/agreements/{AID}", f"{BASE}/search",
                 f"{BASE}/agreements/{AID}/commitments/comptable",
                 f"{BASE}/organizations/{CA}"):
        assert_problem(await client.get(path, headers=org), 403, "forbidden")
        assert_problem(await client.get(path), 401, "token-missing")
        assert (await client.get(path, headers=served.auditor)).status_code == 200


async def test_cached_key_histories_follow_a_later_revocation(
        client: Any, auditor: dict[str, str]) -> None:
    from tests.provenance.conftest import post_all
    from tests.provenance.scenario import World

    w = World()
    w.phase_one()
    await post_all(client, w.take())
    before = (await client.get(f"{BASE}/agreements/{AID}", headers=auditor)).json()
    assert before["chain"][0]["key"]["revoked_later"] is False  # the cache is filled
    assert before["checkpoint"] is None
    assert before["chain"][0]["inclusion"] == {"status": NOT_CHECKPOINTED}
    w.phase_two()
    await post_all(client, w.take())
    after = (await client.get(f"{BASE}/agreements/{AID}", headers=auditor)).json()
    assert after["chain"][0]["key"]["revoked_later"] is True
    assert after["chain"][0]["key"]["revocation_reason"] == "compromised"
