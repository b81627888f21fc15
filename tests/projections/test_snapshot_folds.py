"""Property: for random long agreement lives (the whole event catalogue, rogue and
unreadable events included), the state at any version folded from the newest snapshot
is byte for byte the state a fold of the whole stream up to that version gives,
whatever the snapshot interval, the order the versions are read in (each read may
store a snapshot the next uses), and whether the fold runs on the loop or in a thread.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.reads import AgreementStates, Reads
from ledger.reads.states import fold_events
from ledger.snapshot import seal_key
from tests.projections.builders import World, open_store
from tests.projections.histories import ORGS, Step, apply_steps, long_steps

pytestmark = pytest.mark.pg

_examples = itertools.count()
KEY = seal_key(b"k" * 32)


class Shared:
    def __init__(self) -> None:
        self.world = World(ORGS, seed=60)
        self.ready = False


@pytest.fixture
def shared() -> Shared:
    return Shared()


@settings(max_examples=6, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=long_steps, every=st.integers(1, 40), off_loop=st.sampled_from([0, 10**6]),
       picks=st.lists(st.floats(0, 1), min_size=1, max_size=12))
async def test_a_state_from_a_snapshot_is_the_full_fold(
        database: str, shared: Shared, drawn: list[Step], every: int, off_loop: int,
        picks: list[float]) -> Any:
    w = shared.world
    async for pool, store in open_store(database):
        if not shared.ready:
            await store.append(w.registrations())
            shared.ready = True
        prefix = f"snap{next(_examples)}"
        apply_steps(w, prefix, drawn)
        await w.flush(store)
        reads = Reads(pool)
        stream = f"agreement/{prefix}-0"
        events = await reads.read_whole_stream(stream)
        states = AgreementStates(KEY, every=every, off_loop=off_loop)
        for version in [max(1, round(p * len(events))) for p in picks] + [None]:
            state, reached = await states.state_at(reads, stream, version)
            wanted = len(events) if version is None else version
            assert reached == wanted
            assert msgspec.json.encode(state) == msgspec.json.encode(
                fold_events(events[:wanted])), version
        assert states.discarded == 0
        made = await pool.fetchval(
            "SELECT count(*) FROM agreement_snapshots WHERE stream = $1", stream)
        assert made <= len(events) // every
        assert made >= 1 or len(events) < every  # the head's read left one behind
