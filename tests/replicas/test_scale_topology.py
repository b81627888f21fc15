"""The compose profile "scale" (docker-compose.yml) run with local processes: one
primary and one streaming standby (``tests/replication.py``), two ``ledger serve``
processes on their own ports sharing the primary, the replica (``LEDGER_REPLICA_URLS``)
and one log key, one of them with ``--workers 2``. What a load balancer in front of
them relies on is proved here: an append through one process is read through the
other when the read names the receipt's position (read-your-writes across processes,
every answer at or past it, served by the replica), each process reports the replica in rotation on
``/readyz``, and the SSE stream of each process (its own listener) carries every entry
appended through either.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.api.conftest import body
from tests.api.test_serve import _stop, _wait_until_healthy, serve_on
from tests.helpers import org
from tests.replication import Cluster, Server, running_cluster

pytestmark = [pytest.mark.pg, pytest.mark.replicas, pytest.mark.timeout(240)]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        yield cluster


async def _ready_with_replica(http: httpx.AsyncClient, timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.1)):
        r = await http.get("/readyz")
        if r.status_code == 200 and all(x["in_rotation"] for x in r.json()["replicas"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the replica never came into rotation: {r.text}")


async def _entries(http: httpx.AsyncClient, want: set[int], seen: set[int],
                   opened: asyncio.Event) -> None:
    """Read the SSE stream from the start (after=-1) until every position in ``want``
    has come (the caller bounds the time)."""
    async with http.stream("GET", "/v1/stream", params={"after": -1},
                           timeout=httpx.Timeout(10, read=60)) as r:
        assert r.status_code == 200
        opened.set()
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                seen.add(json.loads(line[6:])["index"])
                if want <= seen:
                    return


async def _append_and_read(a: httpx.AsyncClient, b: httpx.AsyncClient, n: int,
                           appended: list[int]) -> None:
    """Append ``n`` registrations, alternately through each process, and read each one
    back through the other at the receipt's position."""
    for i in range(n):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        signer = org(f"org-{i}")
        r = await writer.post("/v1/events", json=body(signer.registration(f"Org {i}")))
        assert r.status_code == 201, r.text
        position = r.json()["receipts"][-1]["position"]
        appended.append(position)
        # read through the other process, at least at the receipt's position: never
        # older, never a 404 for what was just acknowledged
        got = await reader.get(f"/v1/organizations/{signer.org_id}",
                               params={"min_position": position})
        assert got.status_code == 200, (i, got.text)
        assert int(got.headers["ledger-position"]) >= position
        assert got.json()["id"] == signer.org_id and got.json()["registered_at"] == position


async def _replica_scans(standby: Server) -> int:
    """Scans of the ``events`` index by stream on the standby (what a stream's read
    uses; the rotation's probe reads ``max(position)`` by another index): its
    sessions' statistics, flushed by ending the ledger's read sessions there (the
    router reconnects)."""
    conn = await asyncpg.connect(standby.dsn("ledger"))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE application_name = 'ledger-replica-reads'")
        await asyncio.sleep(0.2)
        n = await conn.fetchval(
            "SELECT sum(s.idx_scan) FROM pg_stat_user_indexes s JOIN pg_indexes i "
            "ON i.schemaname = s.schemaname AND i.indexname = s.indexrelname "
            "WHERE s.relname = 'events' AND i.indexdef LIKE '%(stream%'")
    finally:
        await conn.close()
    return int(n or 0)


@pytest.fixture
async def topology(cluster: Cluster, tmp_path: Path
                   ) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Server]]:
    primary = await asyncio.to_thread(cluster.primary)
    conn = await asyncpg.connect(primary.dsn())
    try:
        await conn.execute("CREATE DATABASE ledger")
    finally:
        await conn.close()
    standby = await asyncio.to_thread(cluster.standby, primary)
    shared = {"LEDGER_REPLICA_URLS": standby.dsn("ledger"), "LEDGER_OPEN_REGISTRATION": "1",
              "LEDGER_REPLICA_PROBE_SECONDS": "0.1"}
    home = tmp_path / "home"  # one log key for both, as the compose volume
    procs = []
    clients: list[httpx.AsyncClient] = []
    try:
        for name, options in (("a", ("--workers", "2")), ("b", ())):
            # one after the other: the first start makes the log key
            proc, port = serve_on(primary.dsn("ledger"), home, tmp_path / f"{name}.log",
                                  *options, **shared)
            procs.append(proc)
            clients.append(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10))
            await _wait_until_healthy(clients[-1], proc, tmp_path / f"{name}.log")
        for http in clients:
            await _ready_with_replica(http)
        yield clients[0], clients[1], standby
    finally:
        for http in clients:
            await http.aclose()
        for proc in procs:
            await asyncio.to_thread(_stop, proc)


async def test_two_servers_on_one_primary_and_replica_read_each_others_writes(
        topology: tuple[httpx.AsyncClient, httpx.AsyncClient, Server]) -> None:
    a, b, standby = topology
    before = await _replica_scans(standby)
    n = 40
    want = set(range(n))  # a fresh log: the appends take positions 0 … n-1
    seen: tuple[set[int], set[int]] = (set(), set())
    opened = (asyncio.Event(), asyncio.Event())
    appended: list[int] = []
    streams = [asyncio.create_task(_entries(http, want, got, ev))
               for http, got, ev in zip((a, b), seen, opened, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(ev.wait() for ev in opened)), 30)
        await _append_and_read(a, b, n, appended)
        assert sorted(appended) == sorted(want)
        await asyncio.wait_for(asyncio.gather(*streams), 60)  # each process's own stream
    finally:
        for task in streams:
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    assert seen[0] >= want and seen[1] >= want
    # the reads went to the replica (its own statistics), not all to the primary
    for _ in range(100):
        if await _replica_scans(standby) >= before + n // 2:
            break
        await asyncio.sleep(0.1)
    after = await _replica_scans(standby)
    assert after >= before + n // 2, (before, after)
    for http in (a, b):
        ready = (await http.get("/readyz")).json()
        assert [r["in_rotation"] for r in ready["replicas"]] == [True], ready
        assert ready["log_size"] >= n
