"""The bounded waits keep every cancellation, even one that arrives in the same turn of
the loop as what they wait for (``asyncio.wait_for`` in Python 3.11 loses it)."""

from __future__ import annotations

import asyncio

import pytest

from ledger.waits import bounded, wait_event


async def test_a_cancellation_with_the_event_set_in_the_same_turn_propagates() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(wait_event(event, 60))
    await asyncio.sleep(0)  # the task now waits on the event
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_cancellation_with_the_awaitable_done_in_the_same_turn_propagates() -> None:
    event = asyncio.Event()
    task = asyncio.create_task(bounded(event.wait(), 60))
    await asyncio.sleep(0)
    event.set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(("already_set", "expected"), [(True, True), (False, False)])
async def test_wait_event_says_whether_the_event_is_set(already_set: bool,
                                                        expected: bool) -> None:
    event = asyncio.Event()
    if already_set:
        event.set()
    assert await wait_event(event, 0.01) is expected


async def test_bounded_raises_timeout_past_its_limit() -> None:
    with pytest.raises(TimeoutError):
        await bounded(asyncio.sleep(5), 0.01)
    assert await bounded(asyncio.sleep(0, "done"), 1) == "done"


async def test_share_loop_gives_the_loop_a_turn_every_slice() -> None:
    """A long loop calling share_loop lets another task run between its slices."""
    from ledger.waits import SLICE, share_loop

    ticks: list[int] = []

    async def other() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    before = len(ticks)
    for i in range(1, SLICE * 3 + 1):
        await share_loop(i)
    task.cancel()
    assert len(ticks) - before == 3  # one turn per slice, not one per item
