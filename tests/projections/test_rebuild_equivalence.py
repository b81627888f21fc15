"""Property: for random valid histories (several agreements and organizations, the whole
event catalogue, events the domain cannot read, organization events in between), the
read models a rebuild writes are identical to those the runner maintained page by page,
whatever the page size, even when a runner died part way (every table, every row);
and the same for long agreement lives (a hundred events and more, mostly fulfilments,
confirmations and measures), applied a few events per step, as a server does.

One database serves every example: each example adds agreements of its own to the log,
the runner catches up (after a crash, with a cold cache), the tables are compared with
a rebuild of the whole log, and the runner goes on from there in the next example."""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.projections import ProjectionRunner, rebuild
from ledger.projections.images import image_key
from ledger.reads import AgreementStates, Reads
from ledger.reads.states import fold_events
from ledger.snapshot import seal_key
from tests.projections.builders import World, open_store, snapshot
from tests.projections.histories import ORGS, Step, apply_steps, long_steps, steps

pytestmark = pytest.mark.pg

_examples = itertools.count()
KEY = image_key(b"k" * 32)
SNAPSHOT_KEY = seal_key(b"k" * 32)


class Shared:
    """The database, store and organizations that all examples of one test share."""

    def __init__(self) -> None:
        self.world = World(ORGS, seed=40)
        self.ready = False


@pytest.fixture
def shared() -> Shared:
    return Shared()


@settings(max_examples=25, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=steps, page_size=st.integers(1, 12), crash_after=st.integers(0, 4))
async def test_rebuild_equals_incremental(database: str, shared: Shared, drawn: list[Step],
                                          page_size: int, crash_after: int) -> Any:
    w = shared.world
    async for pool, store in open_store(database):
        if not shared.ready:
            await store.append(w.registrations())
            shared.ready = True
        apply_steps(w, f"h{next(_examples)}", drawn)
        await w.flush(store)
        dying = ProjectionRunner(pool, page_size=page_size, rebuild_from=None)
        for _ in range(crash_after):
            await dying.step()
        runner = ProjectionRunner(pool, page_size=page_size + 3, rebuild_from=None)
        await runner.catch_up()
        incremental = await snapshot(pool)
        report = await rebuild(pool, page_size=7)
        rebuilt = await snapshot(pool)
        assert report.position == incremental["checkpoint"][0][1] == await store.size()
        for name in incremental:
            assert rebuilt[name] == incremental[name], name


@settings(max_examples=6, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=long_steps, page_size=st.integers(1, 9), crash_after=st.integers(0, 30),
       cache_size=st.sampled_from([1, 10_000]), image_every=st.sampled_from([0, 3, 40]))
async def test_rebuild_equals_incremental_for_long_lives(
        database: str, shared: Shared, drawn: list[Step], page_size: int, crash_after: int,
        cache_size: int, image_every: int) -> Any:
    """With a cache of one agreement and images every few events, most pages reload
    their agreements from images: the rows are still a rebuild's."""
    w = shared.world
    async for pool, store in open_store(database):
        if not shared.ready:
            await store.append(w.registrations())
            shared.ready = True
        prefix = f"long{next(_examples)}"
        apply_steps(w, prefix, drawn)
        await w.flush(store)
        images = ({"image_key": KEY, "image_every": image_every,
                   "snapshot_key": SNAPSHOT_KEY} if image_every else {})
        dying = ProjectionRunner(pool, page_size=page_size, rebuild_from=None, **images)
        for _ in range(crash_after):
            await dying.step()
        runner = ProjectionRunner(pool, page_size=page_size, cache_size=cache_size,
                                  rebuild_from=None, **images)
        await runner.catch_up()
        if image_every:  # the snapshots the runner left are the full folds too
            reads = Reads(pool)
            for stream in await pool.fetch("SELECT DISTINCT stream FROM events "
                                           "WHERE stream LIKE $1", f"agreement/{prefix}-%"):
                events = await reads.read_whole_stream(stream[0])
                states = AgreementStates(SNAPSHOT_KEY, every=10**9)  # makes none
                state, _ = await states.state_at(reads, stream[0])
                assert msgspec.json.encode(state) == msgspec.json.encode(
                    fold_events(events)), stream[0]
        incremental = await snapshot(pool)
        report = await rebuild(pool, page_size=50)
        rebuilt = await snapshot(pool)
        assert report.position == incremental["checkpoint"][0][1] == await store.size()
        assert len(incremental["agreement_fulfilments"]) > 0
        for name in incremental:
            assert rebuilt[name] == incremental[name], name
