"""With the agreement rules at the door, the store admits only the events the decider
would make, and refuses the rest with the rule's code, writing nothing."""

from __future__ import annotations

import pytest

from ledger import errors
from ledger.domain import DraftAgreement, InviteParty, JoinAgreement, StateExpectation
from ledger.validation import AgreementRules
from tests.helpers import AgreementDriver, org

pytestmark = pytest.mark.pg
T = "2026-02-07T14:00:00Z"


@pytest.fixture
def ruled(store):
    store.validator = AgreementRules(store)
    return store


async def _world(store):
    a, b, c = org("centre-arts"), org("theatre-nord"), org("intrus")
    await store.append([a.registration("A"), b.registration("B"), c.registration("C")])
    ag = AgreementDriver(store, "compta")
    await ag.do(a, DraftAgreement(agreement_id="compta", title="Comptabilité partagée",
                                  purpose="Partager une comptable", binding=False,
                                  invited=["theatre-nord"], actor=a.org_id, at=a.now()))
    return a, b, c, ag


async def test_valid_history_is_admitted(ruled):
    a, b, _, ag = await _world(ruled)
    await ag.do(b, JoinAgreement(actor=b.org_id, at=b.now()))
    await ag.do(a, StateExpectation(expectation_id="e1", text="Rapports mensuels",
                                    actor=a.org_id, at=a.now()))
    state = await ag.state()
    assert set(state.parties) >= {"centre-arts", "theatre-nord"}


async def test_uninvited_org_cannot_join(ruled):
    _, _, c, ag = await _world(ruled)
    head = await ruled.head(ag.stream)
    env = c.event(ag.stream, head.version + 1, head.hash, "party.joined", {})
    size = await ruled.size()
    with pytest.raises(errors.Rejected) as info:
        await ruled.append([env])
    assert info.value.index == 0 and info.value.rule
    assert await ruled.size() == size


async def test_org_cannot_speak_for_another(ruled):
    a, b, _, ag = await _world(ruled)
    await ag.do(b, JoinAgreement(actor=b.org_id, at=b.now()))
    head = await ruled.head(ag.stream)
    # a signs an invitation as if it were b's acceptance of a role etc.: simplest, a
    # party.joined by an already-joined party is redundant and refused.
    env = a.event(ag.stream, head.version + 1, head.hash, "party.joined", {})
    with pytest.raises(errors.Rejected):
        await ruled.append([env])


async def test_unknown_stream_kind_and_wrong_draft_stream(ruled):
    a = org("centre-arts")
    await ruled.append([a.registration("A")])
    with pytest.raises(errors.Rejected) as info:
        await ruled.append([a.event("misc/x", 1, None, "test.noted", {})])
    assert info.value.rule == "stream.unknown-kind"
    draft = {"agreement_id": "other", "title": "T", "purpose": "P", "binding": False}
    with pytest.raises(errors.Rejected) as info:
        await ruled.append([a.event("agreement/mine", 1, None, "agreement.drafted", draft)])
    assert info.value.rule == "agreement.wrong-stream"


async def test_batch_is_checked_in_order(ruled):
    a, b, _, ag = await _world(ruled)
    head = await ruled.head(ag.stream)
    invite = a.event(ag.stream, head.version + 1, head.hash, "party.invited",
                     {"org": "intrus"})
    from tests.helpers import hash_of

    join_c_by_b = b.event(ag.stream, head.version + 2, hash_of(invite), "party.joined", {})
    # b was invited at draft time: joining after the invitation of intrus is valid
    await ruled.append([invite, join_c_by_b])
    _ = InviteParty  # the command twin of party.invited
    state = await ag.state()
    assert "theatre-nord" in state.parties


async def test_cached_states_match_a_fresh_fold_under_concurrency(ruled):
    """The validator brings its cache forward with committed events; racing writers on
    one agreement must leave it equal to a fold of the stored stream."""
    import asyncio

    from ledger.domain import ReviseAgreement, state_hash

    a, _, _, ag = await _world(ruled)

    async def writer(n: int) -> None:
        for k in range(10):
            while True:
                try:
                    await ag.do(a, ReviseAgreement(title=f"Titre {n}-{k}", purpose="P",
                                                   binding=False, actor=a.org_id,
                                                   at=a.now()))
                    break
                except errors.ConcurrencyConflict:
                    continue

    await asyncio.gather(*[writer(n) for n in range(4)])
    fresh = await ag.state()
    head = await ruled.head(ag.stream)
    version, cached = ruled.validator._cache.peek(ag.stream)
    assert version == head.version == 41
    assert state_hash(cached) == state_hash(fresh) and cached.title == fresh.title
