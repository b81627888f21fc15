"""``GET /v1/agreements/{id}/proofs`` and ``GET /v1/organizations/{id}/proofs``: one
answer holds what a browser needs to verify a page (docs/API.md §5), under the stream's
own access rule, and every proof in it verifies against the checkpoint it carries."""

from __future__ import annotations

import pytest

from ledger import b64
from ledger.checkpoint import open_checkpoint, parse_vkey
from ledger.merkle import verify_consistency, verify_inclusion
from tests.api.conftest import Agreement, assert_problem, body, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg


async def _checked(client, answer: dict) -> dict[int, bytes]:
    """Verify the batch against the log key; the leaf hash of each position proven."""
    vkey = (await client.get("/v1/log/key")).text.strip()
    cp = open_checkpoint(answer["checkpoint"], parse_vkey(vkey))
    assert cp.size == answer["size"]
    proven = {}
    for p in answer["proofs"]:
        leaf = b64.decode(p["leaf_hash"])
        verify_inclusion(p["position"], cp.size, leaf, [b64.decode(h) for h in p["proof"]],
                         cp.root_hash)
        proven[p["position"]] = leaf
    return proven


async def test_a_public_agreement_and_its_signers_are_proven_to_anyone(client):
    a, b = org("centre-arts"), org("lieu-b")
    r = await client.post("/v1/events", json=body(a.registration("A"), b.registration("B")))
    assert r.status_code == 201, r.text
    agreement = Agreement(a, "pub")
    draft = agreement.next("agreement.drafted", {
        "agreement_id": "pub", "title": "Locaux", "purpose": "Partager", "binding": False,
        "public": True})
    assert (await client.post("/v1/events", json=body(draft, agreement.next()))).status_code == 201
    answer = (await client.get("/v1/agreements/pub/proofs")).json()
    # the two agreement events (positions 2, 3) and the registration of their signer (0)
    proven = await _checked(client, answer)
    assert sorted(proven) == [0, 2, 3]
    assert answer["consistency"] is None
    answer = (await client.get("/v1/organizations/lieu-b/proofs?seen=1")).json()
    assert sorted(await _checked(client, answer)) == [1]
    vkey = parse_vkey((await client.get("/v1/log/key")).text.strip())
    cp = open_checkpoint(answer["checkpoint"], vkey)
    c = answer["consistency"]
    assert (c["from"], c["to"]) == (1, cp.size)
    # the root of size 1 is the first leaf's hash: the log only grew since
    verify_consistency(1, cp.size, proven[0], cp.root_hash, [b64.decode(h) for h in c["proof"]])


async def test_a_private_agreement_follows_the_agreement_rule(client):
    a = org("centre-arts")
    await client.post("/v1/events", json=body(a.registration("A")))
    draft = Agreement(a, "a1").next()
    assert (await client.post("/v1/events", json=body(draft))).status_code == 201
    path = "/v1/agreements/a1/proofs"
    assert_problem(await client.get(path), 401, "token-missing")
    assert_problem(await client.get(path, headers=token_for(client, "org", "lieu-b")), 403,
                   "forbidden")
    answer = (await client.get(path, headers=token_for(client, "org", "centre-arts"))).json()
    assert sorted(await _checked(client, answer)) == [0, 1]


async def test_bad_arguments_are_problems(client):
    a = org("centre-arts")
    await client.post("/v1/events", json=body(a.registration("A")))
    assert_problem(await client.get("/v1/organizations/centre-arts/proofs?seen=5"), 404,
                   "not-found", log_size=1)
    assert_problem(await client.get("/v1/organizations/centre-arts/proofs?seen=0"), 400,
                   "request-invalid")
    assert_problem(await client.get("/v1/organizations/nobody/proofs"), 404, "not-found")
    assert_problem(await client.get("/v1/agreements/nothing/proofs"), 404, "not-found")


async def test_the_first_entry_of_a_one_entry_log_has_its_empty_proof(client):
    """In a tree of one leaf the proof is empty (RFC 9162 §2.1.3.1), not missing: a
    one-entry ledger's only organization is proven like any other."""
    a = org("centre-arts")
    assert (await client.post("/v1/events", json=body(a.registration("A")))).status_code == 201
    answer = (await client.get("/v1/organizations/centre-arts/proofs")).json()
    assert answer["size"] == 1
    assert [p["position"] for p in answer["proofs"]] == [0]
    assert answer["proofs"][0]["proof"] == []
    assert list(await _checked(client, answer)) == [0]
