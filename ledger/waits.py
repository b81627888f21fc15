"""Bounded waits that never lose a cancellation.

``asyncio.wait_for`` in Python 3.11 returns the awaited result when it completes in
the same turn of the loop as a cancellation of the waiting task: the cancellation is
lost, and a background task asked to stop goes on (a projection runner woken by a
commit as the server stopped ran on). ``asyncio.timeout`` has no such window, so every
bounded wait of the ledger goes through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["SLICE", "bounded", "share_loop", "wait_event"]

T = TypeVar("T")


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set, at most ``timeout`` seconds; whether it is set."""
    if not event.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()
    return event.is_set()


async def bounded(awaitable: Awaitable[T], timeout: float) -> T:
    """Await ``awaitable`` for at most ``timeout`` seconds (``TimeoutError`` past it)."""
    async with asyncio.timeout(timeout):
        return await awaitable


#: Items a long loop on the event loop handles between two turns given back to it: the
#: background history check runs beside the requests, and each of its slices then stays
#: a few milliseconds instead of a whole fetched page (thousands of entries).
SLICE = 200


async def share_loop(i: int) -> None:
    """Give the event loop a turn every ``SLICE``-th item ``i`` of a long loop."""
    if i % SLICE == 0:
        await asyncio.sleep(0)
