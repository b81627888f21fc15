"""Losing the primary loses nothing acknowledged, with a synchronous standby
(docs/DEPLOYMENT.md "Losing the primary"): appends under load, ``kill -9`` of the
primary, promotion of the standby, and the ledger opened on it: every acknowledged
event there, positions gapless, the history verified against the checkpoints signed
before, and the log going on with a checkpoint that extends them.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from ledger import merkle
from ledger.api.app import create_app
from ledger.log import SignedCheckpoint
from ledger.runtime import Ledger, open_ledger
from tests.api.conftest import TEST_CONFIG, body
from tests.helpers import org
from tests.replicas.test_replicas import settings
from tests.replication import Cluster, Server

pytestmark = [pytest.mark.pg, pytest.mark.replicas]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()

    def interrupted(signum: int, frame: object) -> None:  # SIGTERM: stop ours first
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        cluster.close()
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield cluster
    finally:
        cluster.close()
        signal.signal(signal.SIGTERM, previous)


async def _sql(server: Server, sql: str, database: str = "postgres") -> object:
    conn = await asyncpg.connect(server.dsn(database))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@pytest.mark.timeout(240)
async def test_kill_9_of_the_primary_with_a_synchronous_standby_loses_nothing(
        cluster: Cluster, tmp_path: Path) -> None:
    primary = await asyncio.to_thread(cluster.primary)
    await _sql(primary, "CREATE DATABASE ledger")
    standby = await asyncio.to_thread(cluster.standby, primary, name="s1")
    await _sql(primary, "ALTER SYSTEM SET synchronous_standby_names = 's1'")
    await _sql(primary, "SELECT pg_reload_conf()")
    for _ in range(200):
        if await _sql(primary, "SELECT sync_state FROM pg_stat_replication "
                               "WHERE application_name = 's1'") == "sync":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the standby never became synchronous")

    acknowledged: dict[int, str] = {}
    app = create_app(settings(tmp_path, primary.dsn("ledger")), dsn=primary.dsn("ledger"),
                     config=TEST_CONFIG, background=True)
    before: list[SignedCheckpoint] = []
    killed = asyncio.Event()
    async with AsyncTestClient(app) as client:

        async def writer(w: int) -> None:
            n = 0
            while not killed.is_set():
                try:
                    r = await client.post("/v1/events",
                                          json=body(org(f"org-{w}-{n}").registration("O")))
                except Exception:
                    r = None
                if r is not None and r.status_code == 201:
                    for receipt in r.json()["receipts"]:
                        acknowledged[receipt["position"]] = receipt["event_hash"]
                n += 1
                await asyncio.sleep(0.002)

        writers = [asyncio.create_task(writer(w)) for w in range(4)]
        try:
            await asyncio.sleep(2.0)
            ledger: Ledger = client.app.state.ledger
            before = client.blocking_portal.call(ledger.log.checkpoints)
            await asyncio.to_thread(primary.kill9)  # under load
            await asyncio.sleep(0.5)
        finally:
            killed.set()
            await asyncio.gather(*writers)
    assert len(acknowledged) > 20 and before, (len(acknowledged), len(before))

    await asyncio.to_thread(standby.promote)
    for _ in range(200):
        if not await _sql(standby, "SELECT pg_is_in_recovery()"):
            break
        await asyncio.sleep(0.05)

    # the ledger pointed at the promoted standby: it verifies the stored tree against
    # the last checkpoint signed before the loss, and starts
    new = settings(tmp_path, standby.dsn("ledger"))
    async with open_ledger(new, standby.dsn("ledger"), background=False) as ledger:
        reads = ledger.router.primary
        size = await reads.size()
        stored = await reads.read_log(0, size + 10)
        assert [e.position for e in stored] == list(range(size))  # gapless
        by_position = {e.position: e.event_hash for e in stored}
        missing = {p: h for p, h in acknowledged.items() if by_position.get(p) != h}
        assert missing == {}, f"{len(missing)} acknowledged events lost"
        print(f"failover: {len(acknowledged)} acknowledged, {size} stored, "
              f"{len(before)} checkpoints before (last size {before[-1].size})")
        # the log goes on at the next position ...
        (receipt,) = await ledger.store.append([org("after-failover").registration("A")])
        assert receipt.position == size
        after = await ledger.log.checkpoint()
        assert after.size == size + 1
        # ... and its checkpoint extends every one signed before the loss
        for old in before:
            assert old.size <= size
            proof = await reads.consistency_proof(old.size, after.size) if old.size else []
            merkle.verify_consistency(old.size, after.size, old.root_hash, after.root_hash,
                                      proof)
