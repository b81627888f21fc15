"""Fast fills of a benchmark log: signed events appended through the store in large
batches (every signature, stream chain and key verified; the agreement rules, which
``ledger serve`` puts at the door, are not run again: the workload's events were
decided by them), then the log settled as a server that has run a while has it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import asyncpg
from _setup import LEDGER_ID, signers
from _workload import ORGS

from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.envelope import Envelope
from ledger.keys import load_private_key
from ledger.log import TransparencyLog
from ledger.projections import rebuild
from ledger.store import PostgresStore

BATCH = 5000


async def append_all(dsn: str, envelopes: Sequence[Envelope], *, register: bool = True,
                     progress: Callable[[int], None] | None = None) -> None:
    """Append ``envelopes`` in batches of 5,000 (the workload's dates are kept: the
    clock-skew window is opened wide); with ``register``, the organizations first."""
    pool = await connect_pool(dsn, min_size=1, max_size=4)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, max_batch=BATCH,
                          limits=Limits(max_skew_us=10**17))
    try:
        if register:
            await store.append([o.registration(o.org_id) for o in signers(ORGS)])
        for i in range(0, len(envelopes), BATCH):
            await store.append(envelopes[i:i + BATCH])
            if progress:
                progress(min(BATCH, len(envelopes) - i))
    finally:
        await store.close()
        await pool.close()


async def sign_checkpoint(dsn: str, key_path: Path) -> int | None:
    """Sign a checkpoint of the filled log with the ledger's log key, as the served
    ledger, which signs one a second, would have: the next start then checks only what
    it does not cover (``TransparencyLog.verify_recent``), as after a real restart,
    not the whole fill. None (nothing signed) before the first start made the key."""
    if not key_path.exists():
        return None
    pool = await connect_pool(dsn, min_size=1, max_size=2)
    store = PostgresStore(pool, ledger_id=LEDGER_ID)
    try:
        signed = await TransparencyLog(store, load_private_key(key_path)).checkpoint()
        return signed.size
    finally:
        await store.close()
        await pool.close()


async def settle(dsn: str) -> None:
    """VACUUM (ANALYZE) the log, so that autovacuum does not land in a measurement."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE) events")
    finally:
        await conn.close()


async def bench_rebuild(dsn: str, envelopes: Sequence[Envelope], runs: int,
                        ) -> tuple[float, int, float]:
    """Fill the log, then rebuild every read model from position 0 ``runs`` times: the
    best rate, the events, and this process's CPU seconds in that run."""
    await append_all(dsn, envelopes)
    await settle(dsn)
    pool = await connect_pool(dsn, min_size=3, max_size=6)
    try:
        best, events, cpu = 0.0, 0, 0.0
        for _ in range(runs):
            c0 = time.process_time()
            report = await rebuild(pool)
            rate = report.events / report.seconds
            if rate > best:
                best, events, cpu = rate, report.events, time.process_time() - c0
        return best, events, cpu
    finally:
        await pool.close()
