"""Bad input through ``store.append``: a distinct typed error, naming the event and the
field at fault, and nothing of the batch written.

Every faulty event sits at index 2 of a batch of three; events 0 and 1 are valid (each
test appends them afterwards, alone, to show it), so the error's ``index`` is meaningful.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from ledger import b64, errors
from ledger.admission import Limits
from ledger.envelope import PAYLOAD_TYPE, Envelope, Signature, pae, seal
from ledger.keys import Ed25519PrivateKey, generate_private_key, key_id, raw_public_key
from ledger.signer import Signer
from ledger.statement import Statement, format_time
from ledger.store import PostgresStore
from tests.helpers import LEDGER_ID, Chain, hash_of, org

pytestmark = pytest.mark.pg

STREAMS = ("org/org-a", "org/org-b", "agreement/old", "agreement/new")


@dataclass
class World:
    store: PostgresStore
    a: Signer
    b: Signer
    old: Chain  # agreement/old, one event stored
    new: Chain  # agreement/new, empty; the batch's valid events go here

    def valid_pair(self) -> list[Envelope]:
        return [self.new.next(), self.new.next()]


@pytest_asyncio.fixture
async def world(store: PostgresStore) -> World:
    a, b = org("org-a"), org("org-b")
    await store.append([a.registration("Org A"), b.registration("Org B")])
    old = Chain(a, "agreement/old")
    await store.append([old.next()])
    return World(store, a, b, old, Chain(a, "agreement/new"))


def now() -> str:
    return format_time(datetime.now(UTC))


def forge(signing_key: Ed25519PrivateKey, /, *, payload_type: str = PAYLOAD_TYPE,
          **fields: Any) -> Envelope:
    """An envelope of a statement built field by field, signed by ``signing_key``."""
    value: dict[str, Any] = {
        "ledger": LEDGER_ID, "stream": "agreement/new", "version": 3, "prev": None,
        "type": "test.noted", "data": {"n": 3}, "actor": "org-a",
        "key": key_id(signing_key),
        "issued_at": now(),
    }
    value.update(fields)
    st = Statement(**value)
    if payload_type == PAYLOAD_TYPE:
        return seal(st, signing_key)
    return sign_bytes(signing_key, st.encode(), payload_type)


def sign_bytes(key: Ed25519PrivateKey, payload: bytes,
               payload_type: str = PAYLOAD_TYPE) -> Envelope:
    """Sign arbitrary payload bytes (valid signature over whatever they are)."""
    sig = key.sign(pae(payload_type, payload))
    return Envelope(payload_type, b64.encode(payload),
                    [Signature(key_id(key), b64.encode(sig))])


async def snapshot(store: PostgresStore) -> tuple[Any, ...]:
    heads = [await store.head(s) for s in STREAMS]
    return await store.size(), await store.read_log(0), heads


async def assert_refused(w: World, batch: list[Any], cls: type[errors.LedgerError], *,
                         field: str | None, index: int | None = 2,
                         store: PostgresStore | None = None) -> errors.LedgerError:
    store = store or w.store
    before = await snapshot(store)
    with pytest.raises(errors.LedgerError) as info:
        await store.append(batch)
    exc = info.value
    assert type(exc) is cls, f"{type(exc).__name__}: {exc.detail}"
    assert exc.index == index
    assert exc.field == field
    assert await snapshot(store) == before
    return exc


async def assert_pair_still_appends(w: World, pair: list[Envelope]) -> None:
    """The batch's valid events were not written: they still append, at the old end."""
    size = await w.store.size()
    receipts = await w.store.append(pair)
    assert [r.position for r in receipts] == [size, size + 1]
    assert [r.version for r in receipts] == [1, 2]


def sized(signer: Signer, stream: str, version: int, prev: str | None,
          payload_size: int) -> Envelope:
    """A signed event whose payload is exactly ``payload_size`` bytes."""
    issued = now()
    st = signer.statement(stream, version, prev, "test.noted", {"blob": ""}, issued_at=issued)
    pad = payload_size - len(st.encode())
    assert pad >= 0
    st = signer.statement(stream, version, prev, "test.noted", {"blob": "x" * pad},
                          issued_at=issued)
    assert len(st.encode()) == payload_size
    return signer.sign(st)


# --- envelope level ----------------------------------------------------------------


async def test_malformed_envelope_json_bytes(world):
    pair = world.valid_pair()
    batch = [pair[0].canonical(), pair[1].canonical(), b'{"payloadType": "x", "payl']
    await assert_refused(world, batch, errors.MalformedEnvelope, field=None)
    await assert_pair_still_appends(world, pair)


async def test_envelope_with_missing_signatures(world):
    pair = world.valid_pair()
    bad = world.new.next().to_json()
    bad["signatures"] = []
    await assert_refused(world, [*pair, bad], errors.MalformedEnvelope, field="signatures")
    await assert_pair_still_appends(world, pair)


async def test_unknown_payload_type(world):
    pair = world.valid_pair()
    # validly signed, but for another payload type
    bad = forge(world.a.key, payload_type="application/vnd.in-toto+json",
                prev=hash_of(pair[1]))
    await assert_refused(world, [*pair, bad], errors.UnknownPayloadType, field="payloadType")
    await assert_pair_still_appends(world, pair)


@pytest.mark.parametrize("form", ["spaces", "reordered", "escaped"])
async def test_non_canonical_payload(world, form):
    pair = world.valid_pair()
    st = world.a.statement("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3})
    value = st.to_json()
    if form == "spaces":
        payload = json.dumps(dict(sorted(value.items())), ensure_ascii=False).encode()
    elif form == "reordered":  # to_json's order is not the sorted one
        payload = json.dumps(value, separators=(",", ":")).encode()
    else:
        payload = st.encode().replace(b'"test.noted"', b'"test.\\u006eoted"')
    assert payload != st.encode() and json.loads(payload) == value
    bad = sign_bytes(world.a.key, payload)
    await assert_refused(world, [*pair, bad], errors.NonCanonicalPayload, field="payload")
    await assert_pair_still_appends(world, pair)


async def test_non_canonical_payload_names_the_payload_field(world):
    pair = world.valid_pair()
    st = world.a.statement("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3})
    bad = sign_bytes(world.a.key, json.dumps(st.to_json()).encode())
    await assert_refused(world, [*pair, bad], errors.NonCanonicalPayload, field="payload")


async def test_bad_signature(world):
    pair = world.valid_pair()
    env = world.new.next()
    other_sig = world.a.key.sign(b"something else")
    bad = Envelope(env.payloadType, env.payload,
                   [Signature(env.signatures[0].keyid, b64.encode(other_sig))])
    await assert_refused(world, [*pair, bad], errors.BadSignature, field="signatures[0].sig")
    await assert_pair_still_appends(world, pair)


async def test_signature_by_a_key_of_the_wrong_payload(world):
    pair = world.valid_pair()
    env = world.new.next()
    donor = pair[0]  # a valid signature, but over another payload
    bad = Envelope(env.payloadType, env.payload, donor.signatures)
    await assert_refused(world, [*pair, bad], errors.BadSignature, field="signatures[0].sig")


async def test_unknown_key(world):
    pair = world.valid_pair()
    stranger = Signer("org-a", generate_private_key(), LEDGER_ID)
    bad = stranger.event("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3})
    await assert_refused(world, [*pair, bad], errors.UnknownKey, field="signatures[0].keyid")
    await assert_pair_still_appends(world, pair)


async def test_revoked_key(world):
    a1, store = world.a, world.store
    a2 = Signer("org-a", generate_private_key(), LEDGER_ID)
    reg_hash = (await store.head("org/org-a")).hash
    added = a1.key_addition(2, reg_hash, a2.key)
    await store.append([added])
    await store.append([a2.key_revocation(3, hash_of(added), a1.key_id)])
    new = Chain(a2, "agreement/new")
    pair = [new.next(), new.next()]
    bad = new.next(signer=a1)  # the revoked key, after its revocation
    await assert_refused(world, [*pair, bad], errors.RevokedKey, field="key")
    await assert_pair_still_appends(world, pair)


async def test_actor_claims_another_org_with_own_key(world):
    # org A signs with its own key but claims to be org B
    pair = world.valid_pair()
    bad = forge(world.a.key, actor="org-b", stream="agreement/other", version=1)
    await assert_refused(world, [*pair, bad], errors.ForeignKey, field="key")
    await assert_pair_still_appends(world, pair)


async def test_actor_names_another_orgs_key_signed_with_own_key(world):
    # org A as actor, names B's key id, but can only sign with its own key
    pair = world.valid_pair()
    bad = forge(world.a.key, key=world.b.key_id, stream="agreement/other", version=1)
    await assert_refused(world, [*pair, bad], errors.MissingActorSignature,
                         field="signatures")
    await assert_pair_still_appends(world, pair)


async def test_actor_signs_with_another_orgs_key(world):
    # org A as actor, signed with B's (stolen) key: the key is B's, not A's
    pair = world.valid_pair()
    bad = forge(world.b.key, actor="org-a", stream="agreement/other", version=1)
    await assert_refused(world, [*pair, bad], errors.ForeignKey, field="key")
    await assert_pair_still_appends(world, pair)


# --- stream chain ------------------------------------------------------------------


async def test_version_gap(world):
    pair = world.valid_pair()
    bad = world.a.event("agreement/new", 4, hash_of(pair[1]), "test.noted", {"n": 4})
    exc = await assert_refused(world, [*pair, bad], errors.VersionGap, field="version")
    assert exc.current_version == 2  # the batch's own head, not the stored one
    await assert_pair_still_appends(world, pair)


async def test_version_conflict_with_stored_event(world):
    pair = world.valid_pair()
    stored_head = await world.store.head("agreement/old")
    bad = world.a.event("agreement/old", 1, None, "test.noted", {"n": 99})
    exc = await assert_refused(world, [*pair, bad], errors.VersionConflict, field="version")
    assert (exc.current_version, exc.head_hash) == (1, stored_head.hash)
    await assert_pair_still_appends(world, pair)


async def test_version_conflict_within_the_batch(world):
    pair = world.valid_pair()
    bad = world.a.event("agreement/new", 2, hash_of(pair[0]), "test.noted", {"n": 22})
    await assert_refused(world, [*pair, bad], errors.VersionConflict, field="version")
    await assert_pair_still_appends(world, pair)


async def test_wrong_prev_hash(world):
    pair = world.valid_pair()
    bad = world.a.event("agreement/old", 2, "00" * 32, "test.noted", {"n": 2})
    await assert_refused(world, [*pair, bad], errors.PrevHashMismatch, field="prev")
    await assert_pair_still_appends(world, pair)


async def test_prev_pointing_to_another_stream(world):
    pair = world.valid_pair()
    bad = world.a.event("agreement/old", 2, hash_of(pair[1]), "test.noted", {"n": 2})
    await assert_refused(world, [*pair, bad], errors.PrevHashMismatch, field="prev")


# --- size, time, ledger id, batch size ---------------------------------------------


async def test_oversized_event(world):
    limit = 64 * 1024
    pair = world.valid_pair()
    bad = sized(world.a, "agreement/big", 1, None, limit + 1)
    await assert_refused(world, [*pair, bad], errors.EventTooLarge, field="payload")
    await assert_pair_still_appends(world, pair)
    # exactly the limit is fine
    [r] = await world.store.append([sized(world.a, "agreement/big", 1, None, limit)])
    assert r.version == 1


async def test_oversized_event_with_custom_limit(world):
    small = PostgresStore(world.store.pool, ledger_id=LEDGER_ID,
                          limits=Limits(max_event_bytes=1000))
    try:
        pair = world.valid_pair()
        bad = sized(world.a, "agreement/big", 1, None, 1001)
        await assert_refused(world, [*pair, bad], errors.EventTooLarge, field="payload",
                             store=small)
        at_limit = sized(world.a, "agreement/big", 1, None, 1000)
        [r] = await small.append([at_limit])
        assert r.version == 1
    finally:
        await small.close()
    # the default store takes what the small one refused
    bigger = sized(world.a, "agreement/big", 2, hash_of(at_limit), 1001)
    [r] = await world.store.append([bigger])
    assert r.version == 2


@pytest.mark.parametrize("minutes", [-11, 11, -60 * 24, 60 * 24 * 365])
async def test_clock_skew(world, minutes):
    pair = world.valid_pair()
    issued = format_time(datetime.now(UTC) + timedelta(minutes=minutes))
    bad = world.a.event("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3},
                        issued_at=issued)
    await assert_refused(world, [*pair, bad], errors.ClockSkew, field="issued_at")
    await assert_pair_still_appends(world, pair)


@pytest.mark.parametrize("minutes", [-9, 9])
async def test_clock_skew_within_ten_minutes_passes(world, minutes):
    pair = world.valid_pair()
    issued = format_time(datetime.now(UTC) + timedelta(minutes=minutes))
    ok = world.a.event("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3},
                       issued_at=issued)
    receipts = await world.store.append([*pair, ok])
    assert [r.version for r in receipts] == [1, 2, 3]
    [stored] = await world.store.read_stream("agreement/new", after_version=2)
    assert stored.statement().issued_at == issued


async def test_statement_for_another_ledger(world):
    pair = world.valid_pair()
    elsewhere = Signer("org-a", world.a.key, "other.example/ledger")
    bad = elsewhere.event("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3})
    await assert_refused(world, [*pair, bad], errors.WrongLedger, field="ledger")
    await assert_pair_still_appends(world, pair)


async def test_malformed_statement(world):
    pair = world.valid_pair()
    bad = forge(world.a.key, version=0)
    # Statement() does not validate; the store must
    await assert_refused(world, [*pair, bad], errors.MalformedStatement, field="version")
    await assert_pair_still_appends(world, pair)


async def test_too_large_batch(world):
    chain = Chain(world.a, "agreement/many")
    batch = [chain.next() for _ in range(501)]
    await assert_refused(world, batch, errors.BatchTooLarge, field=None, index=None)
    # the limit itself is configurable; at the limit a batch goes through
    capped = PostgresStore(world.store.pool, ledger_id=LEDGER_ID, max_batch=3)
    try:
        await assert_refused(world, batch[:4], errors.BatchTooLarge, field=None,
                             index=None, store=capped)
        receipts = await capped.append(batch[:3])
        assert [r.version for r in receipts] == [1, 2, 3]
    finally:
        await capped.close()


@pytest.mark.parametrize("depth", [1000, 5000])
async def test_payload_nested_too_deep(world, depth):
    """Under the size limit, nested past the documented depth: refused, typed."""
    pair = world.valid_pair()
    st = forge(world.a.key, version=3, prev=hash_of(pair[1]), data={"n": 3})
    st_bytes = b64.decode(st.payload)
    payload = st_bytes.replace(b'"data":{"n":3}',
                               b'"data":{"n":' + b"[" * depth + b"]" * depth + b"}")
    assert payload != st_bytes and len(payload) < 64 * 1024
    deep = sign_bytes(world.a.key, payload)
    exc = await assert_refused(world, [*pair, deep], errors.TooDeep, field="payload")
    assert "32" in exc.detail
    await assert_pair_still_appends(world, pair)


async def test_envelope_nested_too_deep(world):
    pair = world.valid_pair()
    deep = b'{"payloadType":' + b"[" * 5000 + b"]" * 5000 + b"}"
    await assert_refused(world, [pair[0].canonical(), pair[1].canonical(), deep],
                         errors.TooDeep, field=None)
    await assert_pair_still_appends(world, pair)


def test_every_case_is_its_own_class():
    """The refusals above are told apart by class alone (no two share one)."""
    classes = [errors.MalformedEnvelope, errors.UnknownPayloadType,
               errors.NonCanonicalPayload, errors.BadSignature, errors.UnknownKey,
               errors.RevokedKey, errors.ForeignKey, errors.MissingActorSignature,
               errors.VersionGap, errors.VersionConflict, errors.PrevHashMismatch,
               errors.EventTooLarge, errors.ClockSkew, errors.WrongLedger,
               errors.BatchTooLarge, errors.MalformedStatement, errors.TooDeep]
    codes = [c.code for c in classes]
    assert len(set(codes)) == len(codes)
    for c in classes:  # none is a subclass of another case's class
        assert not any(issubclass(c, d) for d in classes if d is not c)


# --- bugs --------------------------------------------------------------------------


async def test_envelope_bytes_with_invalid_utf8(world):
    pair = world.valid_pair()
    bad = world.new.next().canonical().replace(b'"payloadType":"', b'"payloadType":"\xff')
    await assert_refused(world, [*pair, bad], errors.MalformedEnvelope, field=None)


async def test_payload_with_invalid_utf8(world):
    pair = world.valid_pair()
    st = world.a.statement("agreement/new", 3, hash_of(pair[1]), "test.noted", {"n": 3})
    payload = st.encode().replace(b'"test.noted"', b'"test.\xffnoted"')
    bad = sign_bytes(world.a.key, payload)
    await assert_refused(world, [*pair, bad], errors.NonCanonicalPayload, field=None)


def _newline_case(w: World, case: str, pair: list[Envelope]) -> tuple[Envelope, str]:
    if case == "issued_at":
        return forge(w.a.key, prev=hash_of(pair[1]), issued_at=now() + "\n"), "issued_at"
    if case == "stream":
        return forge(w.a.key, stream="agreement/new\n", version=1), "stream"
    # an organization "org-c\n" registering itself in stream "org/org-c\n"
    c = Signer("org-c\n", generate_private_key(), LEDGER_ID)
    data = {"name": "C", "public_key": b64.encode(raw_public_key(c.key))}
    return c.event("org/org-c\n", 1, None, "organization.registered", data), "stream"


@pytest.mark.parametrize("case", ["issued_at", "stream", "org-id"])
async def test_trailing_newline_in_an_identifier(world, case):
    pair = world.valid_pair()
    bad, field = _newline_case(world, case, pair)
    await assert_refused(world, [*pair, bad], errors.MalformedStatement, field=field)
