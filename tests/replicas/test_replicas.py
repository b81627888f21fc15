"""Reads from PostgreSQL streaming replicas (ledger/reads/routing.py), on a real primary
and real hot standbys started by these tests (``tests/replication.py``).

Proved here: reads are served by a replica (its own statistics count them); a read
asking a position never answers older, on a standby held back by
``recovery_min_apply_delay`` and under concurrent appends; a replica stopped under
load is taken out (no read fails) and put back; a DSN that is not a standby of this
ledger is refused at start with one line; a position beyond the log is a 409.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger import b64
from ledger.admission import Limits
from ledger.api.app import create_app
from ledger.config import Settings
from ledger.reads import ReplicaRefused, ReplicaSettings
from ledger.roles import runtime_role_name
from ledger.runtime import Ledger, open_ledger
from tests.api.conftest import (
    TEST_CONFIG,
    Agreement,
    assert_problem,
    body,
    in_app,
    token_for,
)
from tests.helpers import LEDGER_ID, org
from tests.replication import Cluster, Server, running_cluster

pytestmark = [pytest.mark.pg, pytest.mark.replicas, pytest.mark.timeout(180)]


class Pair:
    def __init__(self, cluster: Cluster, primary: Server, standby: Server,
                 delayed: Server) -> None:
        self.cluster, self.primary, self.standby, self.delayed = (cluster, primary, standby,
                                                                  delayed)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with running_cluster() as cluster:
        primary = cluster.primary()
        standby = cluster.standby(primary)
        delayed = cluster.standby(primary, recovery_min_apply_delay="400ms")
        yield Pair(cluster, primary, standby, delayed)


@pytest_asyncio.fixture
async def dbname(pair: Pair) -> AsyncIterator[str]:
    name = f"ledger_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(pair.primary.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield name


def settings(home: Path, dsn: str, *replicas: str, origin: str = LEDGER_ID,
             **bounds: Any) -> Settings:
    return Settings(database_url=dsn, home=home, origin=origin,
                    log_key_path=home / "log-key.pem", limits=Limits(max_event_bytes=4096),
                    checkpoint_interval=0.05,
                    replicas=ReplicaSettings(urls=replicas, probe_seconds=0.1, **bounds))


def app_for(tmp_path: Path, pair: Pair, db: str, *replicas: Server, **bounds: Any) -> Litestar:
    urls = [r.dsn(db) for r in replicas]
    return create_app(settings(tmp_path, pair.primary.dsn(db), *urls, **bounds),
                      dsn=pair.primary.dsn(db), config=TEST_CONFIG, background=True)


def ledger_of(client: AsyncTestClient[Litestar]) -> Ledger:
    ledger: Ledger = client.app.state.ledger
    return ledger


async def scans(server: Server, db: str, table: str) -> int:
    """How many times ``table`` was scanned on ``server`` (its own statistics)."""
    conn = await asyncpg.connect(server.dsn(db))
    try:
        n = await conn.fetchval(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
            "WHERE relname = $1", table)
    finally:
        await conn.close()
    return int(n or 0)


def in_rotation(client: AsyncTestClient[Litestar]) -> dict[str, bool]:
    return {r["name"]: r["in_rotation"] for r in ledger_of(client).router.status()}


async def wait_rotation(client: AsyncTestClient[Litestar], name: str, wanted: bool,
                        timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if in_rotation(client).get(name) is wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} in rotation: {in_rotation(client)}, wanted {wanted}")


async def append_org(client: AsyncTestClient[Litestar], name: str) -> int:
    r = await client.post("/v1/events", json=body(org(name).registration(name.title())))
    assert r.status_code == 201, r.text
    position: int = r.json()["receipts"][-1]["position"]
    assert int(r.headers["ledger-position"]) == position
    return position


async def test_reads_are_served_by_the_replica(pair: Pair, dbname: str, tmp_path: Path) -> None:
    app = app_for(tmp_path, pair, dbname, pair.standby)
    async with AsyncTestClient(app) as client:
        name = f"{pair.standby.dsn(dbname).rpartition('@')[2]}"
        await wait_rotation(client, name, True)
        position = await append_org(client, "centre-arts")
        auditor = token_for(client, "auditor", "cour-des-comptes")
        await asyncio.sleep(1.5)  # the projection runner's scans on the primary settle
        before_replica = await scans(pair.standby, dbname, "agreements")
        before_primary = await scans(pair.primary, dbname, "agreements")
        for _ in range(20):
            r = await client.get("/v1/agreements", headers=auditor,
                                 params={"min_position": position})
            assert r.status_code == 200, r.text
            assert int(r.headers["ledger-position"]) >= position
        # an idle session keeps its statistics for up to 10 s; one that ends flushes
        # them: end the replica's sessions (the router reconnects)
        conn = await asyncpg.connect(pair.standby.dsn(dbname))
        try:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = 'ledger-replica-reads'")
        finally:
            await conn.close()
        for _ in range(100):
            if await scans(pair.standby, dbname, "agreements") >= before_replica + 20:
                break
            await asyncio.sleep(0.1)
        on_replica = await scans(pair.standby, dbname, "agreements") - before_replica
        on_primary = await scans(pair.primary, dbname, "agreements") - before_primary
        assert on_replica >= 20 and on_primary == 0, (on_replica, on_primary)
        await wait_rotation(client, name, True)
        # /readyz and /metrics report the replica
        ready = (await client.get("/readyz")).json()
        (replica,) = ready["replicas"]
        assert replica["name"] == name and replica["in_rotation"] is True
        assert replica["lag_positions"] is not None and replica["lag_seconds"] is not None
        text = (await client.get("/metrics")).text
        assert f'ledger_replica_lag_positions{{replica="{name}"}}' in text
        assert f'ledger_replica_in_rotation{{replica="{name}"}} 1.0' in text


async def test_a_delayed_replica_never_answers_older_than_asked(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    """The standby replays 400 ms late; concurrent writers each read their own append
    at once, asking its position: every read sees it (waited for, or the primary)."""
    app = app_for(tmp_path, pair, dbname, pair.delayed, wait_seconds=0.2)
    async with AsyncTestClient(app) as client:
        name = pair.delayed.dsn(dbname).rpartition("@")[2]
        await wait_rotation(client, name, True)

        async def writer(i: int) -> list[int]:
            seen = []
            for j in range(6):
                org_id = f"org-{i}-{j}"
                position = await append_org(client, org_id)
                r = await client.get(f"/v1/organizations/{org_id}",
                                     headers={"Ledger-Min-Position": str(position)})
                assert r.status_code == 200, (org_id, r.text)
                assert int(r.headers["ledger-position"]) >= position
                seen.append(position)
            return seen

        positions = await asyncio.gather(*(writer(i) for i in range(4)))
        assert len({p for ps in positions for p in ps}) == 24
        # and the router's own answer: a replica route holds what it promises
        ledger = ledger_of(client)
        last = max(p for ps in positions for p in ps)

        async def check() -> tuple[str, int, int]:
            route = await ledger.router.route(last)
            return route.source, route.position, await route.reads.size()

        for _ in range(5):
            source, reflected, size = client.blocking_portal.call(check)
            assert reflected >= last and size > last, (source, reflected, size)
        # without a minimum, a read may be older: the delayed replica serves it
        await asyncio.sleep(1.0)
        r = await client.get("/v1/organizations/org-0-0")
        assert r.status_code == 200


@pytest.mark.timeout(90)
async def test_a_replica_stopped_under_load_is_taken_out_and_put_back(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    app = app_for(tmp_path, pair, dbname, pair.standby)
    async with AsyncTestClient(app) as client:
        name = pair.standby.dsn(dbname).rpartition("@")[2]
        await wait_rotation(client, name, True)
        await append_org(client, "lieu-b")
        failures: list[str] = []
        done = asyncio.Event()

        async def load() -> int:
            n = 0
            while not done.is_set():
                r = await client.get("/v1/organizations/lieu-b")
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text[:200]}")
                n += 1
                await asyncio.sleep(0.005)  # the test client's requests may not yield
            return n

        readers = [asyncio.create_task(load()) for _ in range(3)]
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(pair.standby.stop, "fast")
            await wait_rotation(client, name, False)
            ready = (await client.get("/readyz")).json()
            assert ready["status"] == "ready" and ready["replicas"][0]["up"] is False
            await asyncio.sleep(0.5)  # reads go on, on the primary
            await asyncio.to_thread(pair.standby.start)
            await wait_rotation(client, name, True)
            await asyncio.sleep(0.3)
        finally:
            done.set()
            counts = await asyncio.gather(*readers)
        assert failures == []
        assert sum(counts) > 30


async def test_every_replica_down_reads_go_to_the_primary(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    """A replica URL nobody answers at: the start goes on, reads go to the primary."""
    ghost = Server(pair.cluster.root, "ghost")  # a port where nothing listens
    app = app_for(tmp_path, pair, dbname, ghost)
    async with AsyncTestClient(app) as client:
        position = await append_org(client, "centre-arts")
        r = await client.get("/v1/organizations/centre-arts",
                             params={"min_position": position})
        assert r.status_code == 200 and int(r.headers["ledger-position"]) >= position
        assert (await client.get("/readyz")).json()["replicas"][0]["in_rotation"] is False


async def test_a_position_beyond_the_log_is_refused_at_once(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    app = app_for(tmp_path, pair, dbname, pair.standby)
    async with AsyncTestClient(app) as client:
        position = await append_org(client, "centre-arts")
        r = await client.get("/v1/organizations/centre-arts",
                             params={"min_position": position + 1})
        assert_problem(r, 409, "position-beyond-head", log_size=position + 1)
        r = await client.get("/v1/organizations/centre-arts",
                             headers={"Ledger-Min-Position": "10000000"})
        assert_problem(r, 409, "position-beyond-head")
        for bad in ("-1", "x", "1.5"):
            r = await client.get("/v1/organizations/centre-arts",
                                 params={"min_position": bad})
            assert_problem(r, 400, "request-malformed")


async def _refused(tmp_path: Path, primary_dsn: str, replica: str,
                   origin: str = LEDGER_ID) -> str:
    with pytest.raises(ReplicaRefused) as caught:
        async with open_ledger(settings(tmp_path, primary_dsn, replica, origin=origin),
                               primary_dsn, background=False):
            pass
    line = caught.value.diagnostics()
    assert "\n" not in line
    return line


async def test_a_replica_that_is_not_a_standby_of_this_ledger_is_refused(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    primary = pair.primary.dsn(dbname)
    # the primary itself
    assert "is not a standby" in await _refused(tmp_path, primary, primary)
    # a standby of this primary, but of another ledger's database
    async with open_ledger(settings(tmp_path / "other", pair.primary.dsn("postgres"),
                                    origin="other.example/ledger"),
                           pair.primary.dsn("postgres"), background=False):
        pass
    for _ in range(100):
        conn = await asyncpg.connect(pair.standby.dsn("postgres"))
        try:
            if await conn.fetchval("SELECT to_regclass('ledger_meta') IS NOT NULL"):
                break
        finally:
            await conn.close()
        await asyncio.sleep(0.1)
    other = pair.standby.dsn("postgres")
    # (the runtime login of this ledger's database exists once this ledger started)
    async with open_ledger(settings(tmp_path, primary), primary, background=False):
        pass
    await asyncio.sleep(0.5)
    assert "holds the ledger 'other.example/ledger'" in await _refused(tmp_path, primary,
                                                                         other)
    # a standby of another cluster, with the same database and login names
    elsewhere = Cluster()
    try:
        p2 = await asyncio.to_thread(elsewhere.primary)
        conn = await asyncpg.connect(p2.dsn())
        try:
            await conn.execute(f'CREATE DATABASE "{dbname}"')
            await conn.execute(f'CREATE ROLE "{runtime_role_name(dbname)}" LOGIN')
        finally:
            await conn.close()
        s2 = await asyncio.to_thread(elsewhere.standby, p2)
        line = await _refused(tmp_path, primary, s2.dsn(dbname))
        assert "a standby of another PostgreSQL cluster" in line
    finally:
        await asyncio.to_thread(elsewhere.close)


async def test_a_cached_agreement_is_never_older_than_asked(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    """A read without a minimum, served by the delayed standby, must not leave in the
    agreements' cache a state that a later read asking a position would be given."""
    app = app_for(tmp_path, pair, dbname, pair.delayed, wait_seconds=0.1)
    async with AsyncTestClient(app) as client:
        name = pair.delayed.dsn(dbname).rpartition("@")[2]
        await wait_rotation(client, name, True)
        drafter = org("centre-arts")
        agreement = Agreement(drafter)
        r = await client.post("/v1/events", json=body(drafter.registration("A"),
                                                      agreement.next()))
        assert r.status_code == 201, r.text
        auditor = token_for(client, "auditor", "cour-des-comptes")
        await asyncio.sleep(1.0)  # the standby has version 1
        r = await client.get("/v1/agreements/a1", headers=auditor)
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
        r = await client.post("/v1/events", json=body(agreement.next()))
        assert r.status_code == 201, r.text
        position = int(r.headers["ledger-position"])
        r = await client.get("/v1/agreements/a1", headers=auditor)  # the standby: older
        assert r.status_code == 200
        r = await client.get("/v1/agreements/a1", headers=auditor,
                             params={"min_position": position})
        assert r.status_code == 200 and r.json()["version"] == 2, r.text


async def test_proofs_from_a_replica_are_for_a_size_it_holds(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    app = app_for(tmp_path, pair, dbname, pair.delayed, wait_seconds=0.1)
    async with AsyncTestClient(app) as client:
        name = pair.delayed.dsn(dbname).rpartition("@")[2]
        await wait_rotation(client, name, True)
        for i in range(5):
            last = await append_org(client, f"org-{i}")
        size = last + 1
        auditor = token_for(client, "auditor", "cour-des-comptes")
        ledger = ledger_of(client)
        # at once (the standby replays 400 ms late) and later (from the standby)
        for pause in (0.0, 1.0):
            await asyncio.sleep(pause)
            r = await client.get("/v1/log/proof/consistency", headers=auditor,
                                 params={"from": 2, "to": size})
            assert r.status_code == 200, r.text
            assert int(r.headers["ledger-position"]) >= size - 1
            expected = client.blocking_portal.call(ledger.store.consistency_proof, 2, size)
            assert r.json()["proof"] == [b64.encode(h) for h in expected]
            r = await client.get("/v1/log/proof/inclusion", headers=auditor,
                                 params={"index": 1, "size": size})
            assert r.status_code == 200, r.text
            expected = client.blocking_portal.call(ledger.store.inclusion_proof, 1, size)
            assert r.json()["proof"] == [b64.encode(h) for h in expected]
        r = await client.get("/v1/log/proof/inclusion", headers=auditor,
                             params={"index": 1, "size": size + 1})
        assert_problem(r, 404, "not-found")


async def test_ledger_serve_refuses_a_replica_that_is_not_a_standby_in_one_line(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL=pair.primary.dsn(dbname), LEDGER_HOME=str(tmp_path),
               LEDGER_ORIGIN=LEDGER_ID, LEDGER_REPLICA_URLS=pair.primary.dsn(dbname))
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "ledger", "serve", "--port", "0"], env=env,
        capture_output=True, text=True, timeout=90)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "is not a standby" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


async def tuples_read(server: Server, db: str, table: str) -> int:
    """Rows ``table`` gave to queries on ``server`` (index fetches and sequential reads),
    once the replica's sessions have flushed their statistics (an idle session keeps
    them up to 10 s; one that ends flushes them: the router reconnects)."""
    conn = await asyncpg.connect(server.dsn(db))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE application_name = 'ledger-replica-reads'")
        await asyncio.sleep(0.3)
        n = await conn.fetchval(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) "
            "FROM pg_stat_user_tables WHERE relname = $1", table)
    finally:
        await conn.close()
    return int(n or 0)


async def test_log_pages_proofs_and_a_stream_catch_up_are_read_from_the_replica(
        pair: Pair, dbname: str, tmp_path: Path) -> None:
    """Past one live-stream page of entries (600), the three reads that cover many
    entries read them on the replica: a page of entries, an organization's proofs and
    a live stream's catch-up from the start (the router's probes read one row each)."""
    app = app_for(tmp_path, pair, dbname, pair.standby)
    async with AsyncTestClient(app) as client:
        name = f"{pair.standby.dsn(dbname).rpartition('@')[2]}"
        await wait_rotation(client, name, True)
        for batch in range(30):  # 20 events a request at most
            orgs = [org(f"lieu-{batch}-{i}") for i in range(20)]
            r = await client.post("/v1/events", json=body(*[o.registration(o.org_id)
                                                            for o in orgs]))
            assert r.status_code == 201, r.text
        last = r.json()["receipts"][-1]["position"]
        auditor = token_for(client, "auditor", "cour-des-comptes")
        await wait_rotation(client, name, True)

        before = await tuples_read(pair.standby, dbname, "events")
        await wait_rotation(client, name, True)
        r = await client.get("/v1/log/entries", headers=auditor,
                             params={"start": 0, "limit": 500, "min_position": last})
        assert r.status_code == 200, r.text
        assert len(r.json()["entries"]) == 500
        read = await tuples_read(pair.standby, dbname, "events") - before
        assert read >= 500, read

        async def sign(ledger: Ledger) -> None:  # a checkpoint that covers the last entry
            await ledger.log.checkpoint()

        in_app(client, sign)
        await wait_rotation(client, name, True)
        before = await tuples_read(pair.standby, dbname, "merkle_nodes")
        await wait_rotation(client, name, True)
        r = await client.get("/v1/organizations/lieu-29-19/proofs", headers=auditor)
        assert r.status_code == 200, r.text
        assert len(r.json()["proofs"]) == 1
        read = await tuples_read(pair.standby, dbname, "merkle_nodes") - before
        assert read >= 5, read

        async def catch_up(_: Ledger) -> Any:
            return await client.app.state.stream_hub.read_after(-1, None)

        await wait_rotation(client, name, True)
        before = await tuples_read(pair.standby, dbname, "events")
        await wait_rotation(client, name, True)
        rows, covered = in_app(client, catch_up)
        assert [e.position for e in rows] == list(range(500)) and covered == 499
        read = await tuples_read(pair.standby, dbname, "events") - before
        assert read >= 500, read
