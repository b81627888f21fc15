"""Key history by log position: registration, addition, revocation, and their limits.

A key added at position ``a`` signs events at positions ``> a``; a key revoked at
position ``r`` signs nothing after ``r`` (the revocation itself may be signed by the key
it revokes); events signed earlier stay valid and readable.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import b64, errors
from ledger.envelope import Envelope, seal
from ledger.keys import Ed25519PrivateKey, generate_private_key, key_id, raw_public_key
from ledger.signer import Signer
from ledger.statement import Statement, parse_statement
from ledger.store import PostgresStore
from tests.helpers import LEDGER_ID, Chain, hash_of, org

pytestmark = pytest.mark.pg

ADDED = "organization.key_added"
REVOKED = "organization.key_revoked"


def second_key(signer: Signer) -> Signer:
    """The same organization, signing with a fresh key."""
    return Signer(signer.org_id, generate_private_key(), signer.ledger_id)


def added(key: Ed25519PrivateKey) -> dict[str, Any]:
    return {"public_key": b64.encode(raw_public_key(key))}


def revoked(signer: Signer, reason: str = "rotation") -> dict[str, Any]:
    return {"key_id": signer.key_id, "reason": reason}


async def register(store: PostgresStore, signer: Signer) -> Chain:
    """Register ``signer``'s organization; returns its org stream chain at version 1."""
    reg = signer.registration(signer.org_id.title())
    await store.append([reg])
    return Chain(signer, signer.stream, 1, hash_of(reg))


async def snapshot(store: PostgresStore, *orgs: str) -> tuple[Any, ...]:
    keys = [await store.keys_of(o) for o in orgs]
    return await store.size(), await store.read_log(0), keys


async def refused(store: PostgresStore, batch: list[Envelope],
                  cls: type[errors.LedgerError], *, index: int, field: str,
                  orgs: tuple[str, ...] = ("org-a",)) -> errors.LedgerError:
    before = await snapshot(store, *orgs)
    with pytest.raises(errors.LedgerError) as info:
        await store.append(batch)
    exc = info.value
    assert type(exc) is cls, f"{type(exc).__name__}: {exc.detail}"
    assert (exc.index, exc.field) == (index, field)
    assert await snapshot(store, *orgs) == before
    return exc


# --- registration and addition -----------------------------------------------------


async def test_registration_is_self_signed_and_records_the_key(store):
    a1 = org("org-a")
    await register(store, a1)
    [k] = await store.keys_of("org-a")
    assert (k.key_id, k.org_id, k.public_key, k.added_at, k.revoked_at) == (
        a1.key_id, "org-a", raw_public_key(a1.key), 0, None)


async def test_registration_must_name_the_registered_key(store):
    a1, b = org("org-a"), org("org-b")
    await register(store, b)
    reg = a1.registration("Org A")
    # same data (org-a's public key), but naming and signed by another (known) key
    st = parse_statement(reg.payload_bytes())
    bad = seal(Statement(**{**st.to_json(), "key": b.key_id}), b.key)
    await refused(store, [bad], errors.MalformedStatement, index=0, field="key",
                  orgs=("org-a", "org-b"))
    # and signed by an unknown key, it does not even pass the signature check
    other = generate_private_key()
    bad = seal(Statement(**{**st.to_json(), "key": key_id(other)}), other)
    await refused(store, [bad], errors.UnknownKey, index=0, field="signatures[0].keyid")
    await store.append([reg])  # the genuine one goes through


async def test_added_key_signs_after_its_addition(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    [r] = await store.append([stream.next(ADDED, added(a2.key))])
    keys = {k.key_id: k for k in await store.keys_of("org-a")}
    assert keys[a2.key_id].added_at == r.position + 1
    assert keys[a1.key_id].added_at == 0
    agreement = Chain(a2, "agreement/a1")
    receipts = await store.append([agreement.next(), agreement.next(signer=a1)])
    assert [x.version for x in receipts] == [1, 2]  # both keys valid now
    stored = await store.read_stream("agreement/a1")
    assert [e.statement().key for e in stored] == [a2.key_id, a1.key_id]


async def test_key_cannot_sign_its_own_addition(store):
    # otherwise anyone could add a key of their own to any organization
    a1, intruder = org("org-a"), generate_private_key()
    stream = await register(store, a1)
    st = Statement(ledger=LEDGER_ID, stream="org/org-a", version=2, prev=stream.head,
                   type=ADDED, data=added(intruder), actor="org-a",
                   key=key_id(intruder), issued_at=a1.now())
    await refused(store, [seal(st, intruder)], errors.UnknownKey, index=0, field="key")


async def test_key_used_before_its_addition_in_the_same_batch(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    early = a2.event("agreement/a1", 1, None, "test.noted", {"n": 1})
    await refused(store, [early, stream.next(ADDED, added(a2.key))], errors.UnknownKey,
                  index=0, field="key")


async def test_add_and_use_a_key_within_one_batch(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    agreement = Chain(a2, "agreement/a1")
    batch = [stream.next(ADDED, added(a2.key)), agreement.next(), agreement.next()]
    receipts = await store.append(batch)
    assert [r.position for r in receipts] == [1, 2, 3]
    [first] = await store.read_stream("agreement/a1", limit=1)
    assert first.statement().key == a2.key_id


# --- revocation --------------------------------------------------------------------


async def test_revoked_key_refused_after_revocation_earlier_events_stay(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    agreement = Chain(a1, "agreement/a1")
    await store.append([stream.next(ADDED, added(a2.key)), agreement.next()])
    [rev] = await store.append([stream.next(REVOKED, revoked(a1), signer=a2)])
    keys = {k.key_id: k for k in await store.keys_of("org-a")}
    assert keys[a1.key_id].revoked_at == rev.position
    assert keys[a2.key_id].revoked_at is None

    late = agreement.next(signer=a1)
    await refused(store, [late], errors.RevokedKey, index=0, field="key")
    # the same event signed by the valid key goes through
    head = await store.head("agreement/a1")
    [ok] = await store.append([a2.event("agreement/a1", 2, head.hash, "test.noted",
                                        {"n": 2})])
    assert ok.version == 2

    # what the revoked key signed before its revocation stays stored and readable
    events = await store.read_log(0)
    by_a1 = [e for e in events if e.statement().key == a1.key_id]
    assert [e.statement().type for e in by_a1] == [
        "organization.registered", ADDED, "test.noted"]
    for e in by_a1:
        assert e.position < rev.position
        again = await store.entry(e.position)
        assert again.payload == e.payload and again.envelope == e.envelope


async def test_revocation_is_seen_by_a_fresh_store(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    await store.append([stream.next(ADDED, added(a2.key))])
    await store.append([stream.next(REVOKED, revoked(a1), signer=a2)])
    fresh = PostgresStore(store.pool, ledger_id=LEDGER_ID)  # no cached key state
    try:
        late = a1.event("agreement/a1", 1, None, "test.noted", {"n": 1})
        await refused(fresh, [late], errors.RevokedKey, index=0, field="key")
    finally:
        await fresh.close()


async def test_revocation_may_be_signed_by_the_key_it_revokes(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    await store.append([stream.next(ADDED, added(a2.key))])
    [rev] = await store.append([stream.next(REVOKED, revoked(a1, "compromised"))])
    [stored] = await store.read_stream("org/org-a", after_version=2)
    assert stored.statement().key == a1.key_id  # signed by the key it revokes
    keys = {k.key_id: k for k in await store.keys_of("org-a")}
    assert keys[a1.key_id].revoked_at == rev.position
    late = a1.event("agreement/a1", 1, None, "test.noted", {"n": 1})
    await refused(store, [late], errors.RevokedKey, index=0, field="key")
    # and a revoked key cannot sign another organization event either
    await refused(store, [stream.next("organization.profile_updated", {"name": "A2"})],
                  errors.RevokedKey, index=0, field="key")


async def test_cannot_revoke_the_last_valid_key(store):
    a1 = org("org-a")
    stream = await register(store, a1)
    exc = await refused(store, [stream.next(REVOKED, revoked(a1))], errors.Rejected,
                        index=0, field="data.key_id")
    assert exc.rule == "key.last-key"


async def test_cannot_revoke_the_last_valid_key_after_a_rotation(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    await store.append([stream.next(ADDED, added(a2.key))])
    await store.append([stream.next(REVOKED, revoked(a1), signer=a2)])
    exc = await refused(store, [stream.next(REVOKED, revoked(a2), signer=a2)],
                        errors.Rejected, index=0, field="data.key_id")
    assert exc.rule == "key.last-key"


async def test_cannot_revoke_twice_or_another_orgs_key(store):
    a1, b = org("org-a"), org("org-b")
    a2 = second_key(a1)
    stream = await register(store, a1)
    await register(store, b)
    a3 = second_key(a1)
    await store.append([stream.next(ADDED, added(a2.key)), stream.next(ADDED, added(a3.key))])
    await store.append([stream.next(REVOKED, revoked(a1), signer=a2)])
    exc = await refused(store, [stream.next(REVOKED, revoked(a1), signer=a2)],
                        errors.Rejected, index=0, field="data.key_id")
    assert exc.rule == "key.already-revoked"
    stream.version, stream.head = 4, (await store.head("org/org-a")).hash
    exc = await refused(store, [stream.next(REVOKED, revoked(b), signer=a2)],
                        errors.Rejected, index=0, field="data.key_id",
                        orgs=("org-a", "org-b"))
    assert exc.rule == "key.not-own"


async def test_revoke_and_use_within_one_batch_is_refused(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    await store.append([stream.next(ADDED, added(a2.key))])
    agreement = Chain(a2, "agreement/a1")
    batch = [
        agreement.next(),
        stream.next(REVOKED, revoked(a1), signer=a2),
        agreement.next(signer=a1),  # after the revocation, in the same batch
    ]
    await refused(store, batch, errors.RevokedKey, index=2, field="key")
    assert (await store.head("agreement/a1")).version == 0
    assert (await store.head("org/org-a")).version == 2
    assert all(k.revoked_at is None for k in await store.keys_of("org-a"))
    # the first two alone are fine
    receipts = await store.append(batch[:2])
    assert [r.position for r in receipts] == [2, 3]


async def test_use_then_revoke_within_one_batch_is_accepted(store):
    a1 = org("org-a")
    a2 = second_key(a1)
    stream = await register(store, a1)
    agreement = Chain(a1, "agreement/a1")
    batch = [stream.next(ADDED, added(a2.key)), agreement.next(),
             stream.next(REVOKED, revoked(a1), signer=a2)]
    receipts = await store.append(batch)
    keys = {k.key_id: k for k in await store.keys_of("org-a")}
    assert keys[a1.key_id].revoked_at == receipts[2].position
    assert keys[a2.key_id].added_at == receipts[0].position + 1


# --- organizations and their keys --------------------------------------------------


async def test_same_public_key_cannot_be_registered_by_two_orgs(store):
    a = org("org-a")
    await register(store, a)
    thief = Signer("org-b", a.key, LEDGER_ID)  # org-b registers with org-a's key
    exc = await refused(store, [thief.registration("Org B")], errors.Rejected, index=0,
                        field="data.public_key", orgs=("org-a", "org-b"))
    assert exc.rule == "key.already-registered"
    assert (await store.head("org/org-b")).version == 0


async def test_same_public_key_twice_within_one_batch(store):
    a = org("org-a")
    b = Signer("org-b", a.key, LEDGER_ID)
    with pytest.raises(errors.Rejected) as info:
        await store.append([a.registration("Org A"), b.registration("Org B")])
    assert (info.value.index, info.value.rule) == (1, "key.already-registered")
    assert await store.size() == 0


async def test_org_cannot_add_its_own_key_again(store):
    a = org("org-a")
    stream = await register(store, a)
    exc = await refused(store, [stream.next(ADDED, added(a.key))], errors.Rejected,
                        index=0, field="data.public_key")
    assert exc.rule == "key.already-registered"


async def test_org_cannot_add_another_orgs_key(store):
    a, b = org("org-a"), org("org-b")
    await register(store, a)
    b_stream = await register(store, b)
    exc = await refused(store, [b_stream.next(ADDED, added(a.key))], errors.Rejected,
                        index=0, field="data.public_key", orgs=("org-a", "org-b"))
    assert exc.rule == "key.already-registered"


async def test_org_cannot_write_in_another_orgs_stream(store):
    a, b = org("org-a"), org("org-b")
    await register(store, a)
    b_stream = await register(store, b)
    for type_, data in [("organization.profile_updated", {"name": "Pwned"}),
                        (ADDED, added(generate_private_key()))]:
        bad = a.event("org/org-b", 2, b_stream.head, type_, data)
        exc = await refused(store, [bad], errors.Rejected, index=0, field="actor",
                            orgs=("org-a", "org-b"))
        assert exc.rule == "organization.not-self"
    # org-b itself may
    [r] = await store.append([b_stream.next("organization.profile_updated",
                                            {"name": "Org B"})])
    assert r.version == 2


async def test_registering_an_org_twice_is_a_version_conflict(store):
    a = org("org-a")
    await register(store, a)
    head = await store.head("org/org-a")
    again = a.registration("Org A again")
    exc = await refused(store, [again], errors.VersionConflict, index=0, field="version")
    assert (exc.current_version, exc.head_hash) == (1, head.hash)
    # also with a fresh key (someone trying to take over the name)
    usurper = Signer("org-a", generate_private_key(), LEDGER_ID)
    await refused(store, [usurper.registration("Org A")], errors.VersionConflict, index=0,
                  field="version")
    # and as version 2, chained properly: refused by the organization rules
    st = usurper.statement("org/org-a", 2, head.hash, "organization.registered",
                           added(usurper.key) | {"name": "Org A"})
    exc = await refused(store, [usurper.sign(st)], errors.Rejected, index=0, field="type")
    assert exc.rule == "organization.already-registered"
