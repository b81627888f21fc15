"""docs/API.md, checked against the running API: what a receipt lets a client compute,
what a replay answers (with an extra co-signature, long after the clock window, twice
in one batch), and which routes need which token.

The leaf is computed here from first principles (struct, json, hashlib), not with the
ledger's own encoders, so the test holds the document to the bytes, not the code to
itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
from datetime import datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger import b64
from ledger.checkpoint import parse_body
from ledger.envelope import Envelope, Signature, pae
from ledger.keys import generate_private_key, key_id
from ledger.merkle import verify_inclusion
from tests.api.conftest import Agreement, assert_problem, body, in_app, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg

Client = AsyncTestClient[Litestar]
Headers = dict[str, str]


def canonical_envelope(envelope: dict[str, Any]) -> bytes:
    """JCS of an envelope: every member and value is ASCII, so sorted keys and no
    whitespace are the whole of RFC 8785 here."""
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("ascii")


def leaf_hash_from_receipt(receipt: dict[str, Any], envelope: dict[str, Any]) -> bytes:
    """docs/API.md: leaf = u64be(position) || u64be(recorded_at_us) || canonical envelope;
    leaf hash = SHA-256(0x00 || leaf)."""
    leaf = struct.pack(">QQ", receipt["position"], receipt["recorded_at_us"])
    return hashlib.sha256(b"\x00" + leaf + canonical_envelope(envelope)).digest()


def cosigned(env: Envelope, *keys: Any, sig: bytes | None = None) -> Envelope:
    """``env`` with one more signature per key (over the same PAE), or a given ``sig``."""
    message = pae(env.payloadType, env.payload_bytes())
    extra = [Signature(key_id(k.public_key()),
                       b64.encode(sig if sig is not None else k.sign(message))) for k in keys]
    return Envelope(env.payloadType, env.payload, [*env.signatures, *extra])


async def _size(ledger: Any) -> int:
    return int(await ledger.store.size())


async def test_a_client_computes_its_leaf_from_the_receipt_alone(
        client: Client, auditor: Headers) -> None:
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    sent = [acme.registration("Centre d'arts"), chain.next(), chain.next()]
    r = await client.post("/v1/events", json=body(*sent))
    assert r.status_code == 201, r.text
    receipts = r.json()["receipts"]
    note = (await client.get("/v1/log/checkpoint", headers=auditor)).text
    text = note.split("\n\n")[0] + "\n"
    checkpoint = parse_body(text)
    assert checkpoint.size == 3
    for receipt, env in zip(receipts, sent, strict=True):
        # the two times of the receipt are one instant
        moment = datetime.fromisoformat(receipt["recorded_at"].replace("Z", "+00:00"))
        assert int(moment.timestamp()) * 1_000_000 + moment.microsecond \
            == receipt["recorded_at_us"]
        mine = leaf_hash_from_receipt(receipt, env.to_json())
        proof = (await client.get("/v1/log/proof/inclusion", headers=auditor, params={
            "index": receipt["position"], "size": checkpoint.size})).json()
        assert base64.b64decode(proof["leaf_hash"]) == mine
        verify_inclusion(receipt["position"], checkpoint.size, mine,
                         [base64.b64decode(h) for h in proof["proof"]], checkpoint.root_hash)


async def test_a_replay_answers_the_stored_receipt_and_drops_an_extra_cosignature(
        client: Client, auditor: Headers) -> None:
    acme, lieu = org("centre-arts"), org("lieu-b")
    await client.post("/v1/events", json=body(acme.registration("A"), lieu.registration("B")))
    event = Agreement(acme, "a1").next()
    first = await client.post("/v1/events", json=body(event))
    assert first.status_code == 201, first.text
    again = await client.post("/v1/events", json=body(cosigned(event, lieu.key)))
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert in_app(client, _size) == 3
    stored = (await client.get("/v1/streams/agreement/a1/events",
                               headers=auditor)).json()["events"]
    assert [e["envelope"] for e in stored] == [event.to_json()]  # the first one, as sent

    # The replay's signatures are still checked, before it is recognised as stored.
    stranger = generate_private_key()
    assert_problem(await client.post("/v1/events", json=body(cosigned(event, stranger))),
                   401, "key-unknown", index=0, field="signatures[1].keyid")
    forged = cosigned(event, lieu.key, sig=lieu.key.sign(b"another message"))
    assert_problem(await client.post("/v1/events", json=body(forged)),
                   401, "signature-invalid", index=0, field="signatures[1].sig")
    assert in_app(client, _size) == 3


async def test_a_first_submission_keeps_every_cosignature(client: Client, auditor: Headers) -> None:
    acme, lieu = org("centre-arts"), org("lieu-b")
    await client.post("/v1/events", json=body(acme.registration("A"), lieu.registration("B")))
    event = cosigned(Agreement(acme, "a1").next(), lieu.key)
    r = await client.post("/v1/events", json=body(event))
    assert r.status_code == 201, r.text
    stored = (await client.get("/v1/streams/agreement/a1/events",
                               headers=auditor)).json()["events"]
    assert [len(e["envelope"]["signatures"]) for e in stored] == [2]


async def test_a_replay_outside_the_clock_window_returns_its_receipt(client: Client) -> None:
    """A retry is safe whenever it comes: the stored event's receipt, not a refusal."""
    acme = org("centre-arts")
    sent = body(acme.registration("A"))
    first = await client.post("/v1/events", json=sent)
    assert first.status_code == 201

    async def later(ledger: Any) -> None:
        ledger.store.clock = lambda: time.time() + 3600

    in_app(client, later)
    again = await client.post("/v1/events", json=sent)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert in_app(client, _size) == 1


async def test_a_new_event_outside_the_clock_window_is_refused(client: Client) -> None:
    acme = org("centre-arts")

    async def later(ledger: Any) -> None:
        ledger.store.clock = lambda: time.time() + 3600

    in_app(client, later)
    assert_problem(await client.post("/v1/events", json=body(acme.registration("A"))),
                   400, "clock-skew", index=0, field="issued_at")
    assert in_app(client, _size) == 0


async def test_batches_mix_stored_and_new_events_but_not_one_event_twice(client: Client) -> None:
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    reg, e1, e2 = acme.registration("A"), chain.next(), chain.next()
    first = (await client.post("/v1/events", json=body(reg, e1))).json()["receipts"]
    r = await client.post("/v1/events", json=body(e1, e2))
    assert r.status_code == 201, r.text
    assert r.json()["receipts"][0] == first[1]
    assert r.json()["receipts"][1]["position"] == 2
    e3 = chain.next()
    assert_problem(await client.post("/v1/events", json=body(e3, e3)), 409,
                   "stream-version-conflict", index=1, field="version")
    assert in_app(client, _size) == 3


async def test_routes_ask_for_the_tokens_the_document_names(
        client: Client, auditor: Headers, trust: Headers) -> None:
    acme = org("centre-arts")
    await client.post("/v1/events", json=body(acme.registration("A")))
    mine = token_for(client, "org", "centre-arts")
    theirs = token_for(client, "org", "lieu-b")
    public = ["/v1/log/key", "/v1/organizations/centre-arts", "/v1/streams/org/centre-arts",
              "/v1/streams/org/centre-arts/events", "/healthz", "/readyz", "/metrics",
              "/v1/agreements", "/schema/openapi.json"]
    for path in public:
        assert (await client.get(path)).status_code == 200, path
    audit = ["/v1/log/checkpoint", "/v1/log/entries",
             "/v1/log/proof/inclusion?index=0&size=1",
             "/v1/log/proof/consistency?from=0&to=1"]
    for path in audit:
        assert_problem(await client.get(path), 401, "token-missing")
        assert_problem(await client.get(path, headers=mine), 403, "forbidden")
        assert (await client.get(path, headers=auditor)).status_code == 200, path
        assert (await client.get(path, headers=trust)).status_code == 200, path
    bad = {"Authorization": "Bearer ml_" + "A" * 43}
    assert_problem(await client.get("/v1/log/entries", headers=bad), 401, "token-invalid")
    # an optional token that is wrong is refused, not ignored
    assert_problem(await client.get("/v1/agreements", headers=bad), 401, "token-invalid")
    path = "/v1/organizations/centre-arts/commitments"
    assert_problem(await client.get(path), 401, "token-missing")
    assert_problem(await client.get(path, headers=theirs), 403, "forbidden")
    for headers in (mine, auditor, trust):
        assert (await client.get(path, headers=headers)).status_code == 200
    draft = Agreement(acme, "a1").next()  # not public
    assert (await client.post("/v1/events", json=body(draft))).status_code == 201
    for path in ("/v1/agreements/a1", "/v1/agreements/a1/history",
                 "/v1/agreements/a1/document", "/v1/streams/agreement/a1",
                 "/v1/streams/agreement/a1/events"):
        assert_problem(await client.get(path), 401, "token-missing")
        assert_problem(await client.get(path, headers=theirs), 403, "forbidden")
        for headers in (mine, auditor):
            assert (await client.get(path, headers=headers)).status_code == 200, path
    # a trust with no consent to anything of it: refused on every route (with consents
    # to part of it, event lists are filtered: tests/provenance/test_trust_routes.py)
    for path in ("/v1/agreements/a1", "/v1/agreements/a1/history",
                 "/v1/agreements/a1/document", "/v1/streams/agreement/a1",
                 "/v1/streams/agreement/a1/events"):
        assert_problem(await client.get(path, headers=trust), 403, "consent-missing")
    path = "/v1/provenance/organizations/centre-arts"
    assert_problem(await client.get(path, headers=mine), 403, "forbidden")
    assert (await client.get(path, headers=auditor)).status_code == 200


async def test_the_envelope_is_stored_canonical_whatever_its_spelling(
        client: Client, auditor: Headers) -> None:
    """Members in another order, with whitespace: the leaf holds the canonical form."""
    acme = org("centre-arts")
    env = acme.registration("A").to_json()
    sig = env["signatures"][0]
    spelled = (f'{{ "signatures" : [ {{ "sig" : "{sig["sig"]}" , "keyid" : "{sig["keyid"]}" }} ] ,'
               f'\n "payload" : "{env["payload"]}" , "payloadType" : "{env["payloadType"]}" }}')
    r = await client.post("/v1/events", content=b'{"events": [' + spelled.encode() + b"]}",
                          headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    [receipt] = r.json()["receipts"]
    proof = (await client.get("/v1/log/proof/inclusion", headers=auditor,
                              params={"index": 0, "size": 1})).json()
    assert base64.b64decode(proof["leaf_hash"]) == leaf_hash_from_receipt(receipt, env)


async def test_a_batch_may_sign_with_a_key_it_adds(client: Client) -> None:
    from ledger.signer import Signer
    from tests.helpers import LEDGER_ID, hash_of

    acme = org("centre-arts")
    k2 = generate_private_key()
    reg = acme.registration("A")
    add = acme.key_addition(2, hash_of(reg), k2, label="second")
    signed_by_k2 = Agreement(Signer("centre-arts", k2, LEDGER_ID), "a1").next()
    r = await client.post("/v1/events", json=body(reg, add, signed_by_k2))
    assert r.status_code == 201, r.text
    assert [x["position"] for x in r.json()["receipts"]] == [0, 1, 2]
