"""A runner stopped at any moment hands every pool connection back.

The defect: a cancellation arriving while ``_listen`` had taken a pool connection and
was running ``add_listener`` was not caught (``except Exception``), and ``_run``'s
``finally`` released only the connection already assigned (still None): the
connection never went back and ``pool.close()`` waited forever.
"""

from __future__ import annotations

import asyncio

import pytest

from ledger.db import connect_pool
from ledger.projections import ProjectionRunner

pytestmark = pytest.mark.pg


async def test_a_runner_cancelled_anywhere_in_its_start_returns_its_connection(
        database: str) -> None:
    pool = await connect_pool(database, min_size=1, max_size=4)
    try:
        for step in range(60):
            runner = ProjectionRunner(pool, poll_interval=60.0, rebuild_from=None)
            runner.start()
            # every turn of the loop, then small delays: the stop lands on each await
            # of the start (acquire, add_listener, the lock, the first step)
            for _ in range(step if step < 30 else 0):
                await asyncio.sleep(0)
            if step >= 30:
                await asyncio.sleep((step - 30) * 0.0005)
            await runner.stop()
            assert pool.get_idle_size() == pool.get_size(), f"a connection kept at {step}"
    finally:
        await asyncio.wait_for(pool.close(), 10)
