"""The store appends signed events and reads back the exact bytes."""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.leaf import decode_leaf
from tests.helpers import Chain, hash_of, org

pytestmark = pytest.mark.pg


async def test_register_and_append(store):
    acme = org("centre-arts")
    reg = acme.registration("Centre d'arts")
    [r] = await store.append([reg])
    assert (r.position, r.stream, r.version) == (0, "org/centre-arts", 1)
    assert r.event_hash == hash_of(reg)
    chain = Chain(acme, "agreement/a1")
    receipts = await store.append([chain.next(), chain.next()])
    assert [x.position for x in receipts] == [1, 2]
    assert [x.version for x in receipts] == [1, 2]
    events = await store.read_stream("agreement/a1")
    assert [e.payload for e in events] == [
        e for e in [events[0].payload, events[1].payload]
    ]
    entry = await store.entry(1)
    index, _, envelope = decode_leaf(entry.leaf)
    assert index == 1 and envelope == entry.envelope
    assert await store.size() == 3


async def test_idempotent_retry_returns_original_receipt(store):
    acme = org("centre-arts")
    reg = acme.registration("Centre d'arts")
    [first] = await store.append([reg])
    [again] = await store.append([reg])
    assert again == first
    assert await store.size() == 1


async def test_version_conflict_carries_head(store):
    acme = org("centre-arts")
    await store.append([acme.registration("Centre d'arts")])
    chain = Chain(acme, "agreement/a1")
    e1 = chain.next()
    await store.append([e1])
    stale = acme.event("agreement/a1", 1, None, "test.noted", {"n": 99})
    with pytest.raises(errors.VersionConflict) as info:
        await store.append([stale])
    assert info.value.current_version == 1
    assert info.value.head_hash == hash_of(e1)
    assert info.value.index == 0
