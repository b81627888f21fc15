"""Start-ups cancelled within milliseconds, and every close bounded in time.

An app shut down right after it started used to hang for good: the projection
runner's LISTEN connection, taken from the pool, was never given back when the
cancellation arrived while it was being set up (``ProjectionRunner._listen``), and
``pool.close()`` waits for every connection. Each cycle here starts a runner, cancels
it after 0, 1, 2, … turns of the event loop (so the cancellation lands on each of its
awaits in turn), and checks that every pool connection is back; the whole test is
bounded, so a hang fails it instead of blocking the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar import Litestar

from ledger import runtime
from ledger.admission import Limits
from ledger.config import Settings
from ledger.db import close_pool, connect_pool, connection_usable
from ledger.projections import ProjectionRunner
from ledger.runtime import Ledger, open_ledger
from tests.helpers import LEDGER_ID

pytestmark = [pytest.mark.pg, pytest.mark.fault]

CYCLES = 300


async def test_runner_cancelled_at_any_await_returns_its_connections(database: str):
    pool = await connect_pool(database, min_size=1, max_size=4)
    leaked: list[int] = []
    try:
        for cycle in range(CYCLES):
            runner = ProjectionRunner(pool, poll_interval=0.05, rebuild_from=None)
            runner.start()
            for _ in range(cycle % 40):  # 0..39 turns of the loop, then cancel
                await asyncio.sleep(0)
            if cycle % 40 >= 30:
                await asyncio.sleep(0.001 * (cycle % 7))
            await asyncio.wait_for(runner.stop(), 10)
            async with asyncio.timeout(5):  # a connection given back is idle again
                while pool.get_idle_size() < pool.get_size():
                    await asyncio.sleep(0.01)
            if pool.get_idle_size() < pool.get_size():
                leaked.append(cycle)
    except TimeoutError:
        pytest.fail(f"a pool connection was never given back after cycle {cycle} "
                    f"(cancelled after {cycle % 40} turns of the event loop)")
    finally:
        await close_pool(pool, timeout=5)
    assert leaked == []


async def test_pool_close_is_bounded_even_with_a_connection_never_released(database: str):
    """The general protection: a connection someone forgot does not block the close."""
    pool = await connect_pool(database, min_size=1, max_size=3)
    forgotten = await pool.acquire()
    started = time.monotonic()
    await asyncio.wait_for(close_pool(pool, timeout=0.5), 10)
    assert not connection_usable(forgotten)  # ended, not waited for
    assert time.monotonic() - started < 10


def settings_for(home: Path, database: str) -> Settings:
    return Settings(database_url=database, home=home, origin=LEDGER_ID,
                    log_key_path=home / "log-key.pem", limits=Limits(),
                    checkpoint_interval=0.05)


@pytest.mark.stress  # 120 start-ups cancelled at random moments: 10-30 s
async def test_app_start_ups_cancelled_within_milliseconds_all_end(database: str,
                                                                  tmp_path: Path):
    """The report's reproduction: the HTTP app's lifespan (store, log, projection
    runner, live stream hub) started and cancelled again and again; every cycle ends,
    and every connection of the ledger's pool is back afterwards."""
    from ledger.api.app import create_app

    async with open_ledger(settings_for(tmp_path / "home", database), database,
                           verify_history=False) as led:

        @contextlib.asynccontextmanager
        async def shared() -> AsyncIterator[Ledger]:
            yield led  # the same ledger for every start-up: its pool must stay whole

        for cycle in range(120):
            app = create_app(ledger_factory=shared)

            async def start_up(app: Litestar) -> None:
                async with app.lifespan():
                    await asyncio.sleep(3600)

            task = asyncio.create_task(start_up(app))
            for _ in range(cycle % 40):
                await asyncio.sleep(0)
            if cycle % 40 >= 30:
                await asyncio.sleep(0.001 * (cycle % 7))
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=15)
            assert done, f"start-up {cycle} did not end within 15 s of its cancellation"
            async with asyncio.timeout(5):
                while led.pool.get_idle_size() < led.pool.get_size():
                    await asyncio.sleep(0.01)


async def test_open_ledger_closes_in_bounded_time_despite_a_leak(database: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    """Whatever a bug leaks, closing the ledger ends: the pool is closed with a time
    limit, then terminated."""
    monkeypatch.setattr(runtime, "POOL_CLOSE_TIMEOUT", 0.5)
    leaked = None

    async def use() -> None:
        nonlocal leaked
        async with open_ledger(settings_for(tmp_path / "home", database), database,
                               verify_history=False) as led:
            leaked = await led.pool.acquire()  # never released

    await asyncio.wait_for(use(), 15)
    assert leaked is not None and not connection_usable(leaked)
