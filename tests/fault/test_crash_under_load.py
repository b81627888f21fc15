"""``kill -9`` of a real ``ledger serve`` under load, five times.

8 HTTP writers (one organization each) append multi-event batches mixing their ``org/``
stream and an agreement of theirs, and re-send the very same signed envelopes after a
network error or a 503 (appends are idempotent). At random moments the server is
killed with SIGKILL and restarted on the same database, home and log key; a projection
runner in its own process is killed and restarted with it.

Checked: each time the server dies, every batch in flight is stored all or nothing;
afterwards every event acknowledged with 201 is stored where its receipt says, every
batch is whole, positions are gapless, streams unforked, ``ledger export`` + ``ledger
audit verify`` succeed, and the read models the killed runner maintained equal a
rebuild from zero.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from ledger.db import connect_pool
from ledger.projections import rebuild
from ledger.projections.sql import READ_MODELS
from tests.fault.support import (
    Child,
    LoadClient,
    ServerProcess,
    Stats,
    check_log,
    check_receipts,
    child_env,
    export_and_verify,
    fetch_log,
    seed_from_env,
    stopping,
    stored_hashes,
)

pytestmark = [pytest.mark.pg, pytest.mark.fault]

WRITERS = 8
KILLS = 5


async def read_models(dsn: str) -> dict[str, list[str]]:
    """Every row of every read model: the tables the projection owns (0003_read_models.sql,
    logged since 0007) and the views over them, as sorted row texts."""
    conn = await asyncpg.connect(dsn)
    try:
        names = [r["relname"] for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND (c.relkind = 'r' AND c.relname = ANY($1::text[]) "
            "OR c.relkind = 'v') ORDER BY 1",
            [*(t.name for t in READ_MODELS), "projection_checkpoint"])]
        return {name: [r[0] for r in await conn.fetch(
            f'SELECT t::text FROM "{name}" t ORDER BY 1')] for name in names}
    finally:
        await conn.close()


async def projection_position(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(
            "SELECT coalesce(max(position), 0) FROM projection_checkpoint"))
    finally:
        await conn.close()


@pytest.mark.stress
@pytest.mark.timeout(300)  # restarts a server under load several times
async def test_kill_9_under_load(database: str, tmp_path: Path):
    seed = seed_from_env()
    rng = random.Random(seed)
    server = ServerProcess(database, tmp_path / "home", tmp_path / "serve.log")
    projector = Child([sys.executable, "-m", "tests.fault.projector", database],
                      child_env(database, tmp_path / "home"), tmp_path / "projector.log")
    clients = [LoadClient(f"crash-{i}", random.Random(rng.random())) for i in range(WRITERS)]
    startups: list[float] = []
    in_flight = stored_whole = stored_none = 0
    partial: list[list[str]] = []
    acked_at_kill: list[int] = []
    started = time.monotonic()
    with stopping(server, projector):
        server.start()
        startups.append(await server.wait_ready())
        projector.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(c.run(http, stop, ack_timeout=60, pause=0.05))
                     for c in clients]
            try:
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(0.4, 1.6))
                    server.kill()
                    projector.kill()
                    acked_at_kill.append(sum(len(c.receipts) for c in clients))
                    # The database as the dead server left it: each batch in flight is
                    # stored all or nothing (a batch answered just before the kill but
                    # not yet read by its writer counts as in flight, stored whole).
                    for batch in [c.inflight for c in clients if c.inflight]:
                        in_flight += 1
                        n = len(await stored_hashes(database, batch))
                        if n == len(batch):
                            stored_whole += 1
                        elif n == 0:
                            stored_none += 1
                        else:
                            partial.append(batch)
                    server.start()
                    startups.append(await server.wait_ready())
                    projector.start()
                await asyncio.sleep(1.0)  # load after the last restart
            finally:
                stop.set()
                outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        load_seconds = time.monotonic() - started
        failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert not failures, f"writers failed: {failures[:3]}\n{server.tail()}"
        rows = await fetch_log(database)
        deadline = time.monotonic() + 20  # let the (killed and restarted) runner catch up
        while (projected := await projection_position(database)) < len(rows):
            assert time.monotonic() < deadline, \
                f"the projection runner stalled at {projected} of {len(rows)}:\n" \
                f"{projector.tail()}"
            await asyncio.sleep(0.1)
        server.stop()
        projector.stop()
    assert server.proc is not None and server.proc.returncode == 0, server.tail()
    assert "Traceback" not in server.output(), server.tail(60)

    stats = Stats()
    receipts: dict[str, dict[str, object]] = {}
    batches: list[list[str]] = []
    for c in clients:
        stats.merge(c.stats)
        receipts.update(c.receipts)
        batches += c.batches
    shape = check_log(rows)
    check_receipts(rows, receipts)
    stored = {r.event_hash for r in rows}
    assert all(all(h in stored for h in b) for b in batches), "a batch is partly stored"
    assert len(receipts) == len(rows), "an event stored that no writer sent"
    assert not partial, f"{len(partial)} batches partly stored at a kill"
    audit = export_and_verify(server.env, tmp_path / "bundle.jsonl")
    assert audit.export.returncode == 0, audit.export.stderr
    assert audit.verify is not None and audit.verify.returncode == 0, \
        (audit.report or {}).get("failure") or audit.verify.stderr
    assert audit.report is not None and audit.report["size"] == len(rows)

    live = await read_models(database)
    pool = await connect_pool(database, min_size=1, max_size=3)
    try:
        report = await rebuild(pool)
    finally:
        await pool.close()
    rebuilt = await read_models(database)
    differ = [t for t in sorted(set(live) | set(rebuilt)) if live.get(t) != rebuilt.get(t)]
    projection_note = (f"read models after {projector.kills} runner kills: "
                       f"{sum(map(len, live.values()))} rows in {len(live)} tables/views, "
                       f"rebuild of {report.position} entries "
                       f"{'equal' if not differ else 'DIFFERS in ' + str(differ)}")
    print(f"\n[crash] seed={seed} writers={WRITERS} kills={server.kills} in "
          f"{load_seconds:.1f} s of load; acked at each kill={acked_at_kill}; "
          f"final log {shape['entries']} entries in {shape['streams']} streams, "
          f"{len(batches)} batches (2-5 events); batches in flight at the kills: {in_flight} "
          f"(stored whole {stored_whole}, not at all {stored_none}, partly {len(partial)}); "
          f"start-up (verify_history + ready) {min(startups):.2f}-{max(startups):.2f} s; "
          f"statuses={dict(stats.statuses)} retries={stats.retries} "
          f"network errors={sum(stats.transport_errors.values())} "
          f"timeouts={stats.timeouts}; audit verified {audit.report['entries_verified']} "
          f"entries, {audit.report['checkpoints_verified']} checkpoints in "
          f"{audit.seconds:.1f} s (export+verify)")
    print(f"[crash] {projection_note}")
    assert stats.statuses[500] == 0 and not stats.unexpected, stats.unexpected[:3]
    assert not differ, f"read models differ from a rebuild in {differ}"
