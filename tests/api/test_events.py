"""POST /v1/events: receipts, idempotent retries, all-or-nothing batches, and every
refusal as the right status and problem type."""

from __future__ import annotations

from typing import Any

import pytest

from ledger import b64
from ledger.api.app import ApiConfig
from ledger.envelope import PAYLOAD_TYPE, Envelope, Signature
from ledger.keys import generate_private_key
from ledger.signer import Signer
from tests.api.conftest import Agreement, assert_problem, body, in_app
from tests.helpers import LEDGER_ID, hash_of, org

pytestmark = pytest.mark.pg


async def _size(ledger: Any) -> int:
    return int(await ledger.store.size())


def size_of(client: Any) -> int:
    return in_app(client, _size)


def with_signature(env: Envelope, sig: bytes) -> Envelope:
    return Envelope(env.payloadType, env.payload,
                    [Signature(env.signatures[0].keyid, b64.encode(sig))])


async def test_append_answers_receipts(client):
    acme = org("centre-arts")
    reg = acme.registration("Centre d'arts")
    chain = Agreement(acme, "a1")
    r = await client.post("/v1/events", json=body(reg, chain.next(), chain.next()))
    assert r.status_code == 201, r.text
    receipts = r.json()["receipts"]
    assert [x["position"] for x in receipts] == [0, 1, 2]
    assert [(x["stream"], x["version"]) for x in receipts] == [
        ("org/centre-arts", 1), ("agreement/a1", 1), ("agreement/a1", 2)]
    assert receipts[0]["event_hash"] == hash_of(reg)
    assert receipts[0]["recorded_at"].endswith("Z")


async def test_retry_returns_the_original_receipts(client):
    acme = org("centre-arts")
    events = body(acme.registration("Centre d'arts"), Agreement(acme, "a1").next())
    first = await client.post("/v1/events", json=events)
    again = await client.post("/v1/events", json=events)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert size_of(client) == 2


async def test_a_batch_with_one_bad_event_writes_nothing(client):
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    good = [acme.registration("Centre d'arts"), chain.next()]
    bad = with_signature(chain.next(), acme.key.sign(b"something else"))
    r = await client.post("/v1/events", json=body(*good, bad))
    assert_problem(r, 401, "signature-invalid", index=2, field="signatures[0].sig")
    assert "WWW-Authenticate" in r.headers
    assert size_of(client) == 0


async def test_version_conflict_carries_the_head(client):
    acme = org("centre-arts")
    chain = Agreement(acme, "a1")
    e1 = chain.next()
    r = await client.post("/v1/events", json=body(acme.registration("C"), e1))
    assert r.status_code == 201
    stale = Agreement(acme).next("agreement.drafted", {
        "agreement_id": "a1", "title": "Another draft", "purpose": "P", "binding": False})
    r = await client.post("/v1/events", json=body(stale))
    assert_problem(r, 409, "stream-version-conflict", index=0, field="version",
                   current_version=1, head_hash=hash_of(e1), stream="agreement/a1")


async def test_version_gap_and_prev_mismatch_are_conflicts(client):
    acme = org("centre-arts")
    e1 = Agreement(acme, "a1").next()
    await client.post("/v1/events", json=body(acme.registration("C"), e1))
    revision = {"title": "T2", "purpose": "P", "binding": False}
    gap = acme.event("agreement/a1", 3, hash_of(e1), "agreement.revised", revision)
    assert_problem(await client.post("/v1/events", json=body(gap)), 409, "stream-version-gap",
                   current_version=1)
    wrong = acme.event("agreement/a1", 2, "0" * 64, "agreement.revised", revision)
    assert_problem(await client.post("/v1/events", json=body(wrong)), 409,
                   "stream-prev-mismatch", field="prev", head_hash=hash_of(e1))


UNREADABLE = [
    (b"{not json", None),
    (b"", None),
    (b'{"events": 3}', "events"),
    (b'{"events": []}', "events"),
    (b'{"events": [], "more": 1}', "events"),
    (b"[1, 2]", "events"),
]


async def test_unreadable_request_is_400(client):
    for content, field in UNREADABLE:
        r = await client.post("/v1/events", content=content,
                              headers={"content-type": "application/json"})
        assert_problem(r, 400, "request-malformed", field=field)


async def test_bad_envelopes_are_400_with_index_and_field(client):
    acme = org("centre-arts")
    reg = acme.registration("C").to_json()
    no_sigs = {**reg, "signatures": []}
    r = await client.post("/v1/events", json={"events": [reg, no_sigs]})
    assert_problem(r, 400, "envelope-malformed", index=1, field="signatures")
    r = await client.post("/v1/events", json={"events": [{"payload": "x"}]})
    assert_problem(r, 400, "envelope-malformed", index=0)
    r = await client.post("/v1/events", json={"events": [{**reg, "payloadType": "text/plain"}]})
    assert_problem(r, 400, "payload-type-unknown", index=0, field="payloadType")


def _unsigned(payload: bytes, keyid: str) -> dict[str, Any]:
    return {"payloadType": PAYLOAD_TYPE, "payload": b64.encode(payload),
            "signatures": [{"keyid": keyid, "sig": b64.encode(bytes(64))}]}


async def test_non_canonical_and_too_large_payloads_are_400(client):
    acme = org("centre-arts")
    st = acme.statement("agreement/a1", 1, None, "agreement.revised", {"title": "T"})
    spaced = st.encode().replace(b",", b", ", 1)
    r = await client.post("/v1/events", json={"events": [_unsigned(spaced, acme.key_id)]})
    assert_problem(r, 400, "payload-not-canonical", index=0)
    big = acme.event("agreement/a1", 1, None, "agreement.revised", {"purpose": "x" * 5000})
    r = await client.post("/v1/events", json=body(big))
    assert_problem(r, 400, "event-too-large", index=0, field="payload")


async def test_wrong_ledger_and_clock_skew_are_400(client):
    other = Signer("centre-arts", generate_private_key(), "elsewhere.example/ledger")
    r = await client.post("/v1/events", json=body(other.registration("C")))
    assert_problem(r, 400, "statement-wrong-ledger", field="ledger")
    acme = org("centre-arts")
    old = acme.event("agreement/a1", 1, None, "agreement.revised", {"title": "T"},
                     issued_at="2001-01-01T00:00:00Z")
    assert_problem(await client.post("/v1/events", json=body(old)), 400, "clock-skew",
                   field="issued_at")


async def test_rule_refusal_is_422_with_rule(client):
    a, b = org("centre-arts"), org("lieu-b")
    reg_b = b.registration("B")
    await client.post("/v1/events", json=body(a.registration("A"), reg_b))
    meddling = a.event("org/lieu-b", 2, hash_of(reg_b), "organization.profile_updated",
                       {"name": "Taken over"})
    r = await client.post("/v1/events", json=body(meddling))
    assert_problem(r, 422, "rule-violated", rule="organization.not-self", index=0, field="actor")


async def test_agreement_rules_refusal_is_422(client):
    a, b = org("centre-arts"), org("lieu-b")
    draft = Agreement(a).next()
    await client.post("/v1/events", json=body(a.registration("A"), b.registration("B"), draft))
    gatecrash = b.event("agreement/a1", 2, hash_of(draft), "party.joined", {})
    doc = assert_problem(await client.post("/v1/events", json=body(gatecrash)), 422,
                         "rule-violated", index=0)
    assert doc["rule"].startswith("party.")
    stray = a.event("misc/x", 1, None, "note.taken", {})
    assert_problem(await client.post("/v1/events", json=body(stray)), 422, "rule-violated",
                   rule="stream.unknown-kind", field="stream")


async def test_unknown_key_is_401(client):
    stranger = org("inconnu")
    r = await client.post("/v1/events", json=body(Agreement(stranger, "a1").next()))
    assert_problem(r, 401, "key-unknown", index=0, field="signatures[0].keyid")


async def test_revoked_key_is_403(client):
    acme = org("centre-arts")
    k2 = generate_private_key()
    reg = acme.registration("C")
    add = acme.key_addition(2, hash_of(reg), k2, label="backup")
    revoke = acme.key_revocation(3, hash_of(add), acme.key_id)
    r = await client.post("/v1/events", json=body(reg, add, revoke))
    assert r.status_code == 201, r.text
    late = Agreement(acme, "a1").next()
    assert_problem(await client.post("/v1/events", json=body(late)), 403, "key-revoked",
                   field="key")
    fresh = Agreement(Signer("centre-arts", k2, LEDGER_ID), "a1").next()
    assert (await client.post("/v1/events", json=body(fresh))).status_code == 201


async def test_key_of_another_organization_is_403(client):
    acme = org("centre-arts")
    await client.post("/v1/events", json=body(acme.registration("C")))
    impostor = Signer("lieu-b", acme.key, LEDGER_ID)
    r = await client.post("/v1/events", json=body(Agreement(impostor, "a1").next()))
    assert_problem(r, 403, "key-wrong-organization", field="key")


async def test_body_over_the_limit_is_413(client):
    r = await client.post("/v1/events", content=b'{"events": ["' + b"x" * 300_000 + b'"]}')
    assert_problem(r, 413, "request-too-large")


async def test_too_many_events_is_413(client):
    r = await client.post("/v1/events", json={"events": [{}] * 21})
    assert_problem(r, 413, "batch-too-large", field="events")


@pytest.mark.parametrize("api_config", [ApiConfig(writes_per_key_per_second=2,
                                                      open_registration=True)])
async def test_too_many_writes_per_key_is_429(client):
    client.app.state.write_policy.limiter.clock = lambda: 1000.0  # one window throughout
    acme, other = org("centre-arts"), org("lieu-b")
    chain = Agreement(acme, "a1")
    assert (await client.post("/v1/events", json=body(acme.registration("C"), chain.next())))\
        .status_code == 201
    refused = chain.next()
    r = await client.post("/v1/events", json=body(refused))
    doc = assert_problem(r, 429, "rate-limited", key_id=acme.key_id, limit=2)
    assert r.headers["Retry-After"] == "1"
    assert "retry_after" not in doc
    assert (await client.post("/v1/events", json=body(other.registration("B")))).status_code == 201
    client.app.state.write_policy.limiter.clock = lambda: 1001.0  # the next second
    assert (await client.post("/v1/events", json=body(refused))).status_code == 201
