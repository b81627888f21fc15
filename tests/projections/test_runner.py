"""The runner applies each event exactly once: run twice, crash between pages or inside
one, race another runner or a rebuild, lose its cache; the rows are those of one clean
run. It also follows the log in the background, woken by the store's notifications."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from ledger.domain import DraftAgreement, evolve
from ledger.lru import agreement_bytes
from ledger.projections import ProjectionRunner, rebuild, sql, status
from tests.projections.builders import World, busy, reset, snapshot

pytestmark = pytest.mark.pg

ORGS = ["centre-arts", "theatre-nord", "atelier-sud"]
AGREEMENTS = ["a1", "a2", "a3"]


async def _world(ledger: Any, agreements: list[str] = AGREEMENTS) -> tuple[World, int]:
    _, store = ledger
    w = World(ORGS)
    await store.append(w.registrations())
    busy(w, agreements)
    return w, await w.flush(store)


async def _clean(pool: Any) -> dict[str, list[Any]]:
    """The rows of one uninterrupted incremental run from position 0."""
    await reset(pool)
    await ProjectionRunner(pool, page_size=10_000, rebuild_from=None).catch_up()
    return await snapshot(pool)


async def test_catch_up_applies_everything_once_and_then_nothing(ledger):
    pool, _ = ledger
    _, size = await _world(ledger)
    runner = ProjectionRunner(pool, page_size=6, rebuild_from=None)
    assert await runner.catch_up() == size
    assert runner.position == size
    first = await snapshot(pool)
    assert await runner.catch_up() == 0
    assert await ProjectionRunner(pool).catch_up() == 0  # a fresh runner: nothing to do
    assert await snapshot(pool) == first
    assert len(first["agreements"]) == 3
    assert len(first["agreement_event_summaries"]) == 3 * 10  # org events are skipped
    st = await status(pool)
    assert (st.position, st.log_size, st.lag) == (size, size, 0)
    assert st.rows["agreements"] == 3


async def test_crash_between_pages_resumes_from_the_saved_position(ledger):
    pool, store = ledger
    w, size = await _world(ledger, ["a1", "a2"])
    crashed = ProjectionRunner(pool, page_size=5, rebuild_from=None)
    for _ in range(3):
        assert await crashed.step() == 5
    del crashed  # the process dies: its cache is gone, its commits stay
    busy(w, ["a3"])
    size = await w.flush(store)
    second = ProjectionRunner(pool, page_size=4, rebuild_from=None)
    assert await second.catch_up() == size - 15
    resumed = await snapshot(pool)
    assert resumed == await _clean(pool)


async def test_failed_step_rolls_back_everything_and_the_retry_applies_it(ledger,
                                                                         monkeypatch):
    pool, _ = ledger
    await _world(ledger)
    runner = ProjectionRunner(pool, page_size=8, rebuild_from=None)
    await runner.step()
    before = await snapshot(pool)
    real = sql.save_checkpoint

    async def crash(*args: Any) -> None:
        raise ConnectionResetError("the connection dropped before the commit")

    monkeypatch.setattr(sql, "save_checkpoint", crash)
    with pytest.raises(ConnectionResetError):
        await runner.step()  # rows were written in the transaction, then rolled back
    assert await snapshot(pool) == before
    assert runner.position is None  # its half-applied cache was dropped
    monkeypatch.setattr(sql, "save_checkpoint", real)
    await runner.catch_up()
    assert await snapshot(pool) == await _clean(pool)


async def test_cancelled_step_leaves_no_trace(ledger):
    pool, _ = ledger
    _, size = await _world(ledger)
    runner = ProjectionRunner(pool, page_size=1000, rebuild_from=None)  # one page: all
    task = asyncio.ensure_future(runner.step())
    await asyncio.sleep(0.005)  # somewhere inside the step, most likely
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    position = (await status(pool)).position
    # All of the page, or none of it. (Cancelled while its COMMIT was on the wire, the
    # step may have committed without knowing: then the runner forgets its position and
    # its next step reads it back from the checkpoint row.)
    assert position in (0, size)
    assert runner.position in (None, size)
    await runner.catch_up()
    assert await snapshot(pool) == await _clean(pool)


async def test_concurrent_runners_take_turns(ledger):
    pool, _ = ledger
    await _world(ledger)
    one = ProjectionRunner(pool, page_size=3, rebuild_from=None)
    two = ProjectionRunner(pool, page_size=5, rebuild_from=None)
    applied = await asyncio.gather(one.catch_up(), two.catch_up(), one.catch_up())
    size = (await status(pool)).log_size
    assert sum(applied) == size
    assert await snapshot(pool) == await _clean(pool)


async def test_small_cache_reloads_agreements_from_their_events(ledger):
    pool, _ = ledger
    await _world(ledger)
    runner = ProjectionRunner(pool, page_size=2, cache_size=1, rebuild_from=None)
    await runner.catch_up()
    assert await snapshot(pool) == await _clean(pool)


async def test_runner_carries_on_after_a_rebuild(ledger):
    pool, store = ledger
    w, _ = await _world(ledger, ["a1", "a2"])
    runner = ProjectionRunner(pool, page_size=7, rebuild_from=None)
    await runner.catch_up()
    await rebuild(pool)
    busy(w, ["a3"])
    w.sign("agreement/a1", ORGS[0], "test.noted", {"n": 1})
    await w.flush(store)
    await runner.catch_up()
    assert await snapshot(pool) == await _clean(pool)


async def test_catch_up_from_nothing_rebuilds_a_long_log(ledger):
    pool, _ = ledger
    _, size = await _world(ledger)
    runner = ProjectionRunner(pool, rebuild_from=10)
    assert await runner.catch_up() == size
    assert await runner.catch_up() == 0
    assert await snapshot(pool) == await _clean(pool)


async def test_events_the_domain_cannot_read_are_listed_and_change_nothing(ledger):
    pool, store = ledger
    w = World(ORGS)
    await store.append(w.registrations())
    a = ORGS[0]
    w.sign("agreement/x1", a, "test.noted", {"n": 1})  # before any draft
    w.do("x1", DraftAgreement(agreement_id="x1", title="T", purpose="P", binding=False,
                              actor=a, at=w.at()))
    w.sign("agreement/x1", a, "expectation.stated", {"expectation_id": 7})  # bad data
    w.sign("agreement/x2", a, "test.noted", {"n": 2})  # never drafted
    await w.flush(store)
    await ProjectionRunner(pool, rebuild_from=None).catch_up()
    snap = await snapshot(pool)
    assert [r[0] for r in snap["agreements"]] == ["x1"]
    assert snap["agreements"][0][17] == 3  # last stream version seen
    history = [(r[1], r[2], r[9], r[10], r[11]) for r in snap["agreement_history"]]
    assert history == [
        ("x1", 1, False, 0, f"{a} signed test.noted, which changes nothing here"),
        ("x1", 2, True, 1, f"{a} drafted “T”; terms version 1"),
        ("x1", 3, False, 1, f"{a} signed expectation.stated, which changes nothing here"),
        ("x2", 1, False, 0, f"{a} signed test.noted, which changes nothing here"),
    ]
    assert snap["agreement_expectations"] == []


async def test_background_runner_is_woken_by_the_log(ledger):
    pool, store = ledger
    w, size = await _world(ledger, ["a1"])
    runner = ProjectionRunner(pool, poll_interval=60.0, rebuild_from=None)
    runner.start()
    try:
        await runner.wait_for(size, timeout=10)
        busy(w, ["a2"])
        size = await w.flush(store)
        await runner.wait_for(size, timeout=10)  # well before the 60 s poll
        assert len((await snapshot(pool))["agreements"]) == 2
    finally:
        await runner.stop()
    assert await snapshot(pool) == await _clean(pool)


async def test_one_background_runner_leads_and_another_takes_over(ledger):
    """Two server processes' runners: one applies, the other stands by until the
    first stops (its listening connection, and with it the lock, goes back)."""
    pool, store = ledger
    w, size = await _world(ledger, ["a1"])
    first = ProjectionRunner(pool, poll_interval=0.1, rebuild_from=None)
    second = ProjectionRunner(pool, poll_interval=0.1, rebuild_from=None)
    first.start()
    try:
        await first.wait_for(size, timeout=10)
        second.start()
        busy(w, ["a2"])
        size = await w.flush(store)
        await first.wait_for(size, timeout=10)
        await asyncio.sleep(0.3)  # three of the standby's turns
        assert second.position is None  # it never stepped
        await first.stop()
        busy(w, ["a3"])
        size = await w.flush(store)
        await second.wait_for(size, timeout=10)
    finally:
        await first.stop()
        await second.stop()
    assert await snapshot(pool) == await _clean(pool)


def test_the_fold_is_the_domain_s_plus_what_it_forgets() -> None:
    """apply_fact adds to the domain's state, never changes it."""
    from ledger.domain import initial_state
    from ledger.projections.fold import Tracked, apply_fact, decode_fact

    w = World(ORGS)
    busy(w, ["a1"])
    facts = [decode_fact(e.payload_bytes(), n) for n, e in enumerate(w.queue)]
    facts = [f for f in facts if not f.type.startswith("organization.")]
    t, state = Tracked(), initial_state()
    for f in facts:
        apply_fact(t, f, 0)
        state = evolve(state, f)
    assert t.state == state
    assert len(t.ratifications) == 2 and t.inviters == {ORGS[1]: ORGS[0]}


async def test_the_cache_stays_within_its_byte_bound_and_answers_stay_right(ledger):
    """A byte bound smaller than two folded agreements: after every step at most one
    is kept (the bound holds), and the rows are those of a run that kept them all."""
    pool, _ = ledger
    await _world(ledger, ["a1", "a2", "a3", "a4", "a5"])
    bound = agreement_bytes(10) * 3 // 2 + 1  # one agreement of 10 events, not two
    runner = ProjectionRunner(pool, page_size=3, cache_bytes=bound, rebuild_from=None)
    while await runner.step():
        assert runner._states.bytes <= bound or len(runner._states) == 1
    assert len(runner._states) == 1  # every agreement has 10 events now
    assert await snapshot(pool) == await _clean(pool)


async def test_the_cache_stays_within_its_entries_bound(ledger):
    pool, _ = ledger
    await _world(ledger, ["a1", "a2", "a3", "a4", "a5"])
    runner = ProjectionRunner(pool, page_size=4, cache_size=2, rebuild_from=None)
    seen = 0
    while await runner.step():
        seen = max(seen, len(runner._states))
    assert seen == 2
    assert await snapshot(pool) == await _clean(pool)
