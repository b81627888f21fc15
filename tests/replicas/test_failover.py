"""Losing the primary loses nothing acknowledged, with a synchronous standby
(docs/DEPLOYMENT.md "Losing the primary"): appends under load, ``kill -9`` of the
primary, promotion of the standby, and the ledger opened on it: every acknowledged
event there, positions gapless, the history verified against the checkpoints signed
before, and the log going on with a checkpoint that extends them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from ledger import merkle
from ledger.api.app import create_app
from ledger.errors import HistoryMismatch
from ledger.log import SignedCheckpoint
from ledger.runtime import Ledger, open_ledger
from tests.api.conftest import TEST_CONFIG, body
from tests.helpers import org
from tests.replicas.test_replicas import settings
from tests.replication import Cluster, Server, running_cluster

pytestmark = [pytest.mark.pg, pytest.mark.replicas]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


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


async def _replayed(server: Server, database: str) -> int:
    """The log size a standby has replayed, and whether it holds the checkpoints too."""
    value = await _sql(server, "SELECT coalesce(max(size), 0) FROM checkpoints", database)
    return int(value)  # type: ignore[call-overload]


@pytest.mark.timeout(240)
async def test_an_asynchronous_promotion_that_lost_signed_entries_signs_nothing_more(
        cluster: Cluster, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Without a synchronous standby, the standby promoted after the primary's loss
    lacks the last entries AND the last checkpoints signed over them (the table is in
    the lost tail). The ledger remembers its newest signed checkpoint beside its log
    key: it refuses to start on the promoted standby, and a process already running
    against it (a moved DATABASE_URL) refuses to sign — never a tree that does not
    extend the checkpoint signed before the loss."""
    primary = await asyncio.to_thread(cluster.primary)
    await _sql(primary, "CREATE DATABASE ledger")
    standby = await asyncio.to_thread(cluster.standby, primary)
    old = settings(tmp_path, primary.dsn("ledger"))
    async with open_ledger(old, primary.dsn("ledger"), background=False) as ledger:
        for n in range(5):
            await ledger.store.append([org(f"before-{n}").registration("B")])
        assert (await ledger.log.checkpoint()).size == 5
        for _ in range(400):  # the standby has the first five and their checkpoint
            if await _replayed(standby, "ledger") == 5:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the standby never replayed the first checkpoint")
        await asyncio.to_thread(standby.stop)  # from here on it receives nothing: the tail
        for n in range(5):
            await ledger.store.append([org(f"lost-{n}").registration("L")])
        lost = await ledger.log.checkpoint()
        assert lost.size == 10  # signed, served: then the primary is lost
    await asyncio.to_thread(primary.kill9)
    await asyncio.to_thread(standby.start)
    await asyncio.to_thread(standby.promote)
    for _ in range(200):
        if not await _sql(standby, "SELECT pg_is_in_recovery()"):
            break
        await asyncio.sleep(0.05)
    assert await _replayed(standby, "ledger") == 5  # the checkpoint of 10 is gone too

    # Pointed at the promoted standby, the server refuses to start, in one line.
    new = settings(tmp_path, standby.dsn("ledger"))
    with pytest.raises(HistoryMismatch, match="holds 5 entries but this ledger signed a "
                                              "checkpoint of size 10"):
        async with open_ledger(new, standby.dsn("ledger"), background=False):
            pass

    # A process already running when the database moved (no start-up check): it
    # refuses to sign the smaller tree, then a tree of the same size with other entries,
    # and /readyz says why.
    app = create_app(new, dsn=standby.dsn("ledger"), config=TEST_CONFIG, background=False,
                     verify_history=False)
    async with AsyncTestClient(app) as client:
        ledger = client.app.state.ledger

        def call(fn, *args):  # type: ignore[no-untyped-def]
            return client.blocking_portal.call(fn, *args)  # on the app's loop

        async def suspect_again() -> None:
            ledger.log.suspect = None

        assert (await client.get("/readyz")).status_code == 200  # nothing tried yet
        with pytest.raises(HistoryMismatch):
            call(ledger.log.checkpoint)
        ready = await client.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert "this ledger signed a checkpoint of size 10" in ready.text
        call(suspect_again)
        for n in range(5):  # other entries at positions 5..9: a fork of size 10
            call(ledger.store.append, [org(f"fork-{n}").registration("F")])
        with pytest.raises(HistoryMismatch, match="tree at size 10 is not the one"):
            call(ledger.log.checkpoint)
        call(suspect_again)
        capfd.readouterr()

        async def background() -> None:  # the checkpointer: one ERROR line, then stops
            ledger.log.start()
            for _ in range(100):
                if ledger.log.suspect is not None:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.2)
            await ledger.log.stop()

        call(background)
        sizes = [c.size for c in call(ledger.log.checkpoints)]
    assert sizes == [5], sizes  # nothing signed after the loss
    refused = [line for line in capfd.readouterr().err.splitlines() if "ERROR" in line]
    assert len(refused) == 1 and "tree at size 10 is not the one" in refused[0], refused
