"""Read-model rebuild speed: replay a realistic log of signed agreement events.

Builds a log of at least ``--events`` agreement events (default 100,000): many
agreements, each with a realistic life decided by the domain (drafted, joined, porteurs,
expectations and acknowledgements, roles, commitments with both sides' declared values,
indicators, the six stages, consents, ratification by every party, then months of
fulfilments with confirmations and the odd contest, measures, a revision with a new
ratification round). Every event is signed and appended through the store, in large
batches, interleaved across agreements as a busy ledger would be.

Then it prints:

* the rebuild rate of every read model from position 0 (events/s, best of ``--runs``,
  with the Python CPU time of that run: on a busy machine the wall time also holds the
  server's work and the wait for a free core);
* the incremental runner's catch-up rate over the same log (events/s);
* the in-memory fold rate of one long agreement: the domain's ``fold``; the projection's
  ``apply_fact`` (which also keeps the ratification record); and ``fold_event`` from the
  payload bytes (decode, fold and history summary, the per-event path of a rebuild).

Run: python bench/projections.py [--events N] [--runs R]
"""

from __future__ import annotations

import os
import sys

# This script is named projections.py, which would shadow the ``projections`` package:
# put the repository first and this folder (for _setup.py) last on the search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import random
import time

import asyncpg
import msgspec
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from _workload import ORGS, START, Decided, Life, _founding, _month, lives, sign_all

import ledger.domain as d
from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.domain import Fact, fold
from ledger.domain.state import receiving_orgs
from ledger.domain.values import Period, Quantity
from ledger.envelope import Envelope
from ledger.projections import ProjectionRunner, rebuild
from ledger.projections.fold import Tracked, apply_fact, fold_event
from ledger.signer import Signer
from ledger.store import PostgresStore


async def load(dsn: str, envelopes: list[Envelope]) -> None:
    pool = await connect_pool(dsn, min_size=1, max_size=4)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, max_batch=5000,
                          limits=Limits(max_skew_us=10**17))
    try:
        orgs: list[Signer] = signers(ORGS)
        await store.append([o.registration(o.org_id) for o in orgs])
        for i in range(0, len(envelopes), 5000):
            await store.append(envelopes[i:i + 5000])
    finally:
        await store.close()
        await pool.close()


async def settle(dsn: str) -> None:
    """The log as a server that has run a while has it: vacuumed and analyzed. Left to
    autovacuum, that work lands in the middle of the measurements (and the first reads
    of a fresh table also write its hint bits)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE) events")
    finally:
        await conn.close()


async def measure_rebuild(dsn: str, runs: int) -> tuple[float, int, float]:
    """Best rate over ``runs`` rebuilds, the events, and this process's CPU seconds in
    that run (the rest of the wall time is the server's work or waiting for a core)."""
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


async def measure_incremental(dsn: str) -> float:
    pool = await connect_pool(dsn, min_size=2, max_size=6)
    try:
        async with pool.acquire() as conn:
            await conn.execute("UPDATE projection_checkpoint SET position = 0")
            await conn.execute(f"TRUNCATE {', '.join(_tables())}")
        runner = ProjectionRunner(pool, page_size=2000, rebuild_from=None)
        t0 = time.perf_counter()
        n = await runner.catch_up()
        return n / (time.perf_counter() - t0)
    finally:
        await pool.close()


def _tables() -> list[str]:
    from ledger.projections.sql import READ_MODELS
    return [t.name for t in READ_MODELS]


def fold_rates(history: list[Decided], repeat: int = 5) -> tuple[float, float, float]:
    """Events/s of one agreement: the domain's ``fold`` over facts; the projection's
    ``apply_fact`` over the same facts; and ``fold_event`` from payload bytes (decode,
    fold and history summary: the per-event path of a rebuild)."""
    facts = [Fact(t, data, actor, at, n, key="ab" * 32, position=n)
             for n, (actor, t, data, at) in enumerate(history, 1)]
    payloads = [msgspec.json.encode({"version": f.stream_version, "type": f.type,
                                     "data": f.data, "actor": f.actor, "key": f.key,
                                     "issued_at": f.issued_at}) for f in facts]
    domain = projection = full = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        fold(facts)
        domain = max(domain, len(facts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        tracked = Tracked()
        for f in facts:
            apply_fact(tracked, f, 0)
        projection = max(projection, len(facts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        tracked = Tracked()
        for n, payload in enumerate(payloads, 1):
            fold_event(tracked, "long", payload, n, 0)
        full = max(full, len(facts) / (time.perf_counter() - t0))
    return domain, projection, full


def long_life(n_events: int) -> list[Decided]:
    """One agreement with about ``n_events`` events (many months of operation)."""
    rng = random.Random(11)
    life = Life("long", [s.org_id for s in signers(4)], rng, START)
    _founding(life)
    month = 0
    while len(life.events) < n_events:
        month += 1
        _month(life, (month - 1) % 12 + 1) if month <= 12 else _late_month(life, month)
    return life.events


def _late_month(life: Life, month: int) -> None:
    """After the first year: fulfilments and measures under fresh ids."""
    for cid, cm in sorted(life.state.commitments.items()):
        fid = f"f-{cid}-{month}"
        life.do(lambda at, cm=cm, fid=fid: d.RecordFulfilment(
            fulfilment_id=fid, commitment_id=cm.id, quantity=Quantity("3", cm.quantity.unit),
            period=Period("2027-01-01", "2027-01-28"), actor=cm.provider, at=at))
        for org in receiving_orgs(life.state, cm):
            life.do(lambda at, org=org, fid=fid: d.ConfirmFulfilment(
                fulfilment_id=fid, actor=org, at=at))
    life.do(lambda at: d.RecordMeasurement(
        measurement_id=f"m-{month}", indicator_id="heures",
        period=Period("2027-01-01", "2027-01-28"), value="12", evidence_sha256="cd" * 32,
        actor=life.parties[0], at=at))


async def main(n_events: int, runs: int) -> None:
    t0 = time.perf_counter()
    histories = lives(n_events)
    envelopes = sign_all(histories)
    made = time.perf_counter() - t0
    with admin_dsn() as (admin, label):
        load1, _, _ = os.getloadavg()
        print(f"setup: {machine()}; {label}; {len(envelopes):,} agreement events in "
              f"{len(histories)} agreements ({ORGS} organizations), one process; "
              f"load average {load1:.2f} at start")
        async with fresh_database(admin) as dsn:
            t0 = time.perf_counter()
            await load(dsn, envelopes)
            loaded = time.perf_counter() - t0
            print(f"{'generate + sign, append':>28}: {made:8.1f} s, {loaded:.1f} s")
            await settle(dsn)
            rate, events, cpu = await measure_rebuild(dsn, runs)
            print(f"{'rebuild from position 0':>28}: {rate:10,.0f} events/s "
                  f"({events:,} events, best of {runs}; {cpu:.2f} s of Python CPU)")
            rate = await measure_incremental(dsn)
            print(f"{'incremental catch-up':>28}: {rate:10,.0f} events/s (pages of 2,000)")
    domain, projection, full = fold_rates(long_life(20_000))
    print(f"{'fold one agreement (domain)':>28}: {domain:10,.0f} events/s (20,000 events, "
          "in memory)")
    print(f"{'... with ratification record':>28}: {projection:10,.0f} events/s (apply_fact)")
    print(f"{'... from bytes, with summary':>28}: {full:10,.0f} events/s (fold_event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.runs))
