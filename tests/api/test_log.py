"""/v1/log: checkpoints, key, entries and proofs, checked with the core's verifiers."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from ledger import b64, merkle
from ledger.canonical import canonical_bytes
from ledger.checkpoint import Checkpoint, open_checkpoint, parse_vkey
from ledger.leaf import decode_leaf
from tests.api.conftest import Agreement, assert_problem, body, in_app, token_for
from tests.helpers import LEDGER_ID, org

pytestmark = pytest.mark.pg


async def _checkpoint(ledger: Any) -> None:
    await ledger.log.checkpoint()


async def append_events(client: Any, n: int) -> list[Any]:
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    envelopes = [acme.registration("Centre d'arts")] + [chain.next() for _ in range(n - 1)]
    r = await client.post("/v1/events", json=body(*envelopes))
    assert r.status_code == 201, r.text
    return envelopes


async def signed_checkpoint(client: Any, headers: dict[str, str]) -> Checkpoint:
    in_app(client, _checkpoint)
    note = await client.get("/v1/log/checkpoint", headers=headers)
    assert note.status_code == 200
    assert note.headers["content-type"] == "text/plain; charset=utf-8"
    key = await client.get("/v1/log/key", headers=headers)
    assert key.status_code == 200 and key.headers["content-type"].startswith("text/plain")
    return open_checkpoint(note.text, parse_vkey(key.text.strip()))


async def test_checkpoint_verifies_with_the_log_key(client, auditor):
    first = await signed_checkpoint(client, auditor)  # signed on demand: nothing yet
    assert (first.origin, first.size, first.root_hash) == (LEDGER_ID, 0, merkle.EMPTY_ROOT)
    await append_events(client, 5)
    cp = await signed_checkpoint(client, auditor)
    assert cp.size == 5


async def test_entries_page_through_the_log_with_exact_leaves(client, auditor, trust):
    envelopes = await append_events(client, 7)
    r = await client.get("/v1/log/entries", params={"start": 0, "limit": 3}, headers=auditor)
    assert r.status_code == 200
    page = r.json()
    assert [e["index"] for e in page["entries"]] == [0, 1, 2] and page["next"] == 3
    seen = list(page["entries"])
    while page["next"] is not None:
        r = await client.get("/v1/log/entries", params={"start": page["next"], "limit": 3},
                             headers=auditor)
        page = r.json()
        seen += page["entries"]
    assert [e["index"] for e in seen] == list(range(7))
    for entry, env in zip(seen, envelopes, strict=True):
        index, _, envelope = decode_leaf(b64.decode(entry["leaf"]))
        assert index == entry["index"]
        assert envelope == canonical_bytes(env.to_json())
        assert msgspec.json.decode(envelope) == entry["envelope"] == env.to_json()
        assert b64.decode(entry["leaf_hash"]) == merkle.hash_leaf(b64.decode(entry["leaf"]))
    r = await client.get("/v1/log/entries", params={"start": 7}, headers=trust)
    assert r.json() == {"entries": [], "next": None}
    # a trust without consent: the public register in full, the private agreement's
    # entries as leaf hashes only (the log stays verifiable, its content stays private)
    hashed = (await client.get("/v1/log/entries", headers=trust)).json()["entries"]
    assert hashed[0] == seen[0]
    for entry, full in zip(hashed[1:], seen[1:], strict=True):
        assert entry == {"index": full["index"], "leaf": None, "envelope": None,
                         "leaf_hash": full["leaf_hash"]}


async def test_inclusion_proofs_verify_against_the_checkpoint(client, auditor):
    await append_events(client, 6)
    cp = await signed_checkpoint(client, auditor)
    for index in range(cp.size):
        r = await client.get("/v1/log/proof/inclusion",
                             params={"index": index, "size": cp.size}, headers=auditor)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert (doc["index"], doc["size"]) == (index, cp.size)
        leaf_hash = b64.decode(doc["leaf_hash"])
        merkle.verify_inclusion(index, cp.size, leaf_hash, [b64.decode(p) for p in doc["proof"]],
                                cp.root_hash)
        entry = (await client.get("/v1/log/entries", params={"start": index, "limit": 1},
                                  headers=auditor)).json()["entries"][0]
        assert merkle.hash_leaf(b64.decode(entry["leaf"])) == leaf_hash


async def test_consistency_proofs_verify_between_checkpoints(client, auditor):
    await append_events(client, 3)
    old = await signed_checkpoint(client, auditor)
    acme = org("lieu-b")
    chain = Agreement(acme, "b1")
    await client.post("/v1/events", json=body(acme.registration("B"),
                                              *[chain.next() for _ in range(4)]))
    new = await signed_checkpoint(client, auditor)
    assert (old.size, new.size) == (3, 8)
    for size1 in range(0, new.size + 1):
        r = await client.get("/v1/log/proof/consistency",
                             params={"from": size1, "to": new.size}, headers=auditor)
        assert r.status_code == 200, r.text
        doc = r.json()
        assert (doc["from"], doc["to"]) == (size1, new.size)
        proof = [b64.decode(p) for p in doc["proof"]]
        if size1 == old.size:
            merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
        if size1 == 0:
            assert proof == []
            merkle.verify_consistency(0, new.size, merkle.EMPTY_ROOT, new.root_hash, proof)


BAD_ARGUMENTS = [
    ("/v1/log/proof/inclusion", {"index": 3, "size": 3}, 400, "range-invalid", "index"),
    ("/v1/log/proof/inclusion", {"index": 0, "size": 0}, 400, "range-invalid", "index"),
    ("/v1/log/proof/inclusion", {"index": 0, "size": 4}, 404, "not-found", "size"),
    ("/v1/log/proof/inclusion", {"index": 0, "size": 2**70}, 404, "not-found", "size"),
    ("/v1/log/proof/inclusion", {"index": -1, "size": 2}, 400, "request-invalid", "index"),
    ("/v1/log/proof/inclusion", {"index": "x", "size": 2}, 400, "request-invalid", "index"),
    ("/v1/log/proof/inclusion", {"size": 2}, 400, "request-invalid", "index"),
    ("/v1/log/proof/consistency", {"from": 3, "to": 2}, 400, "range-invalid", "from"),
    ("/v1/log/proof/consistency", {"from": 1, "to": 9}, 404, "not-found", "to"),
    ("/v1/log/proof/consistency", {"to": 2}, 400, "request-invalid", "from"),
    ("/v1/log/entries", {"start": 4}, 404, "not-found", "start"),
    ("/v1/log/entries", {"limit": 0}, 400, "request-invalid", "limit"),
    ("/v1/log/entries", {"limit": 5000}, 400, "request-invalid", "limit"),
]


async def test_bad_log_arguments_are_problems(client, auditor):
    await append_events(client, 3)
    for path, params, status, code, field in BAD_ARGUMENTS:
        r = await client.get(path, params=params, headers=auditor)
        assert_problem(r, status, code, field=field)


AUDIT_ONLY = ["/v1/log/checkpoint", "/v1/log/entries", "/v1/log/proof/inclusion?index=0&size=1",
              "/v1/log/proof/consistency?from=0&to=0"]


async def test_log_reads_need_an_auditor_or_trust_token(client):
    org_token = token_for(client, "org", "centre-arts")
    bogus = {"Authorization": "Bearer ml_" + "A" * 43}
    for path in AUDIT_ONLY:
        r = await client.get(path)
        assert_problem(r, 401, "token-missing")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert_problem(await client.get(path, headers={"Authorization": "Basic abc"}), 401,
                       "token-missing")
        assert_problem(await client.get(path, headers=bogus), 401, "token-invalid")
        assert_problem(await client.get(path, headers=org_token), 403, "forbidden")


async def test_the_log_key_is_public(client):
    r = await client.get("/v1/log/key")
    assert r.status_code == 200
    assert r.text.startswith(LEDGER_ID + "+")
