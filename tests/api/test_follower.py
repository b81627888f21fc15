"""The process's one follower of the log: shared by the SSE hub and the projection
runner, and leaving no connection behind whenever it is stopped."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest

from ledger.db import connect_pool
from ledger.reads import LISTENER_NAME, LogFollower, Reads

pytestmark = pytest.mark.pg


async def test_one_follower_feeds_the_stream_hub_and_the_projection_runner(client: Any):
    state = client.app.state
    assert isinstance(state.follower, LogFollower)
    assert state.stream_hub.follower is state.follower
    assert state.projections.follower is state.follower
    assert isinstance(state.reads, Reads)


async def test_a_follower_stopped_at_any_moment_closes_its_connection(database: str):
    pool = await connect_pool(database, min_size=1, max_size=2)
    admin = await asyncpg.connect(database)
    try:
        reads = Reads(pool)
        for step in range(40):
            follower = LogFollower(database, reads, poll=0.05)
            follower.start()
            if step < 20:
                for _ in range(step):
                    await asyncio.sleep(0)
            else:
                await asyncio.sleep((step - 20) * 0.001)
            await follower.stop()
            deadline = time.monotonic() + 5
            while await _listeners(admin, database) != 0:  # a close is asynchronous
                assert time.monotonic() < deadline, f"a listener left open at {step}"
                await asyncio.sleep(0.02)
        assert pool.get_idle_size() == pool.get_size()
    finally:
        await admin.close()
        await asyncio.wait_for(pool.close(), 10)


async def _listeners(admin: asyncpg.Connection, database: str) -> int:
    n: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
        "AND datname = current_database()", LISTENER_NAME)
    return n
