"""Each cache below the HTTP layer keeps to its bound (``ledger.config.Caches``) however
many agreements or organizations pass through it, and what it dropped is read back:
the answers stay right (admitted, refused, key histories equal to unbounded ones)."""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.lru import agreement_bytes
from ledger.reads import KeyCache
from ledger.store import PostgresStore
from ledger.validation import AgreementRules
from tests.api.conftest import Agreement
from tests.helpers import LEDGER_ID, flip_signature, org

pytestmark = pytest.mark.pg


async def test_the_rules_cache_keeps_to_its_entries_and_refolds_what_it_dropped(store):
    rules = store.validator = AgreementRules(store, max_cached=2)
    a, intruder = org("centre-arts"), org("intrus")
    await store.append([a.registration("A"), intruder.registration("I")])
    deals = [Agreement(a, f"a{i}") for i in range(4)]
    for _ in range(3):  # each in turn: every check finds its agreement dropped
        for deal in deals:
            await store.append([deal.next()])
            assert len(rules._cache) <= 2
    head = await store.head(deals[0].stream)  # dropped long ago: folded again, refused
    joined = intruder.event(deals[0].stream, head.version + 1, head.hash, "party.joined", {})
    with pytest.raises(errors.Rejected):
        await store.append([joined])
    assert len(rules._cache) <= 2
    version, state = rules._cache.peek(deals[0].stream) or (0, None)
    assert version == 3 and state is not None and state.title.endswith("v3")


async def test_the_rules_cache_keeps_to_its_bytes(store):
    bound = agreement_bytes(2) + 1  # one agreement of two events, not two
    rules = store.validator = AgreementRules(store, max_cached=100, max_bytes=bound)
    a = org("centre-arts")
    await store.append([a.registration("A")])
    deals = [Agreement(a, f"a{i}") for i in range(3)]
    for _ in range(4):
        for deal in deals:
            await store.append([deal.next()])
            assert rules._cache.bytes <= bound or len(rules._cache) == 1
    assert len(rules._cache) == 1


async def test_public_keys_beyond_the_bound_are_read_again(store):
    bounded = PostgresStore(store.pool, ledger_id=LEDGER_ID, max_public_keys=1)
    try:
        orgs = [org(f"org-{i}") for i in range(3)]
        await bounded.append([o.registration(o.org_id) for o in orgs])
        deals = [Agreement(o, f"a{i}") for i, o in enumerate(orgs)]
        for _ in range(2):
            for deal in deals:
                await bounded.append([deal.next()])
                assert len(bounded._public_keys) == 1
        forged = flip_signature(deals[0].next().canonical())  # its key was dropped
        with pytest.raises(errors.LedgerError) as caught:
            await bounded.append([forged])
        assert caught.value.code == "signature-invalid"
    finally:
        await bounded.close()


async def test_key_histories_beyond_the_bound_are_folded_again(store):
    orgs = [org(f"org-{i}") for i in range(3)]
    await store.append([o.registration(o.org_id) for o in orgs])
    heads = {o.org_id: 1 for o in orgs}
    bounded, unbounded = KeyCache(max_orgs=1), KeyCache()
    for _ in range(2):
        got = await bounded.refresh(store.reads, heads)
        assert got == await unbounded.refresh(store.reads, heads)
        assert len(bounded.orgs) == 1
        assert [k.key_id for k in got["org-0"].keys.values()] == [orgs[0].key_id]
