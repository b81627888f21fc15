"""Reads of agreements the server does not keep: does a read cost more as the log grows?

The log is filled with the realistic workload (``_workload.py``: agreements of about
400 events each, interleaved), a server (``ledger serve``, one process) starts, and
keep-alive connections send ``GET /v1/agreements/{id}`` with ids drawn from every
agreement. Three figures per size:

* first touch: every agreement read once, in random order, one read at a time (what
  one read costs, no queueing), by a fresh server on a log with no snapshot (each read
  folds the whole stream, off the event loop, and leaves a snapshot behind);
* cold: a restarted server (nothing kept in memory) reads every agreement once, in
  random order, one at a time: each read folds from the newest snapshot (with ``--every 0``, the
  server makes no snapshot: each read folds the whole stream, as before them);
* steady: ``--seconds`` of reads on that server, 16 connections, ids drawn uniformly.

Run: [BENCH_DATABASE_URL=postgresql://...] python bench/cold_reads.py
     [--events 10000 300000] [--seconds 10] [--every 0 200]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
_FIRST = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
sys.path[:] = _FIRST + [_ROOT] + [p for p in sys.path if p not in _FIRST and os.path.abspath(
    p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg
from _serve import Server
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from _workload import ORGS, lives, sign_all

from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.store import PostgresStore
from ledger.tokens import create_token

READERS = 16




async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(head[9:12])


async def _read(port: int, token: str, ids: list[str] | None, every_id: list[str],
                seconds: float, readers: int = READERS) -> tuple[list[float], int]:
    """Latencies of GETs of ``ids`` (each once, shared by the connections) or, when
    None, of uniformly drawn ids for ``seconds``; and the non-200 count."""
    latencies: list[float] = []
    errors = 0
    queue = list(ids) if ids is not None else None
    stop_at = time.perf_counter() + seconds
    rng = random.Random(11)

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                if queue is not None:
                    if not queue:
                        return
                    aid = queue.pop()
                elif time.perf_counter() >= stop_at:
                    return
                else:
                    aid = rng.choice(every_id)
                t = time.perf_counter()
                writer.write(f"GET /v1/agreements/{aid} HTTP/1.1\r\nHost: x\r\n"
                             f"Authorization: Bearer {token}\r\n\r\n".encode())
                status = await _response(reader)
                latencies.append(time.perf_counter() - t)
                errors += status != 200
        finally:
            writer.close()

    await asyncio.gather(*[connection() for _ in range(readers)])
    return latencies, errors


def _figures(name: str, latencies: list[float], errors: int) -> str:
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return (f"{name} {len(latencies):,} reads: p50 {q[49] * 1000:.1f} ms, "
            f"p99 {q[98] * 1000:.1f} ms" + (f", {errors} non-200" if errors else ""))


async def _fill(dsn: str, events: int) -> tuple[list[str], int]:
    histories = lives(events)
    envelopes = await asyncio.to_thread(sign_all, histories)
    pool = await connect_pool(dsn, min_size=1, max_size=2)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, limits=Limits(max_skew_us=10**17),
                          max_batch=5000)
    try:
        await store.append([s.registration(s.org_id) for s in signers(ORGS)])
        for i in range(0, len(envelopes), 5000):
            await store.append(envelopes[i:i + 5000])
    finally:
        await store.close()
        await pool.close()
    return [f"ent-{a:05d}" for a in range(len(histories))], len(envelopes)


async def one_size(admin: str, events: int, seconds: float, everies: list[int],
                   tmp: Path) -> None:
    async with fresh_database(admin) as dsn:
        t0 = time.perf_counter()
        ids, total = await _fill(dsn, events)
        print(f"{total:,} events, {len(ids)} agreements (~{total // len(ids)} events each), "
              f"filled in {time.perf_counter() - t0:.0f} s", flush=True)
        conn = await asyncpg.connect(dsn)
        try:
            token, _ = await create_token(conn, "auditor", "bench")
        finally:
            await conn.close()
        order = ids[:]
        random.Random(3).shuffle(order)
        home = tmp / f"home-{events}"
        runs = [(0, "no snapshots, cold", True)] if 0 in everies else []
        for every in [e for e in everies if e > 0]:
            runs += [(every, "first touch", False), (every, "cold", True)]
        for every, label, steady in runs:
            server = Server(dsn, home, extra={"LEDGER_SNAPSHOT_EVERY": str(every)})
            try:
                await server.wait_ready()
                await _projected(dsn, total + len(signers(ORGS)))
                # Warm the server's connections up on one agreement (not counted).
                await _read(server.port, token, [ids[0]] * 200, ids, 0)
                lat, err = await _read(server.port, token, order, ids, 0, readers=1)
                print(f"  every={every} {_figures(label, lat, err)}", flush=True)
                if steady:
                    lat, err = await _read(server.port, token, None, ids, seconds)
                    print(f"  every={every} {_figures(f'steady {seconds:.0f} s,', lat, err)}"
                          f"; load {os.getloadavg()[0]:.1f}", flush=True)
            finally:
                await asyncio.to_thread(server.stop)


async def _projected(dsn: str, size: int) -> None:
    """Wait until the server's projection runner has applied the log (not measured)."""
    conn = await asyncpg.connect(dsn)
    try:
        while await conn.fetchval("SELECT position FROM projection_checkpoint "
                                  "WHERE name = 'agreements'") < size:
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def main(sizes: list[int], seconds: float, everies: list[int]) -> None:
    with admin_dsn() as (admin, label), tempfile.TemporaryDirectory(
            prefix="ledger-bench-cold-") as tmp:
        print(f"setup: {machine()}; {label}; `ledger serve` (one process), {READERS} "
              f"connections from one Python process, over 127.0.0.1; load: "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        for events in sizes:
            await one_size(admin, events, seconds, everies, Path(tmp))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 300_000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--every", type=int, nargs="+", default=[0, 200],
                        help="LEDGER_SNAPSHOT_EVERY of the servers (0: no snapshots)")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.seconds, args.every))
