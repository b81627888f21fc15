"""Reads from streaming replicas, and appends with a synchronous standby (docs/SCALING.md).

Real PostgreSQL servers on loopback ports (the embedded PostgreSQL's binaries, as the
replica tests: ``tests/replication.py``), fsync on, started and stopped here: one
primary and two hot standbys made with ``pg_basebackup``, all on THIS host — the
standbys share its cores with the primary, the server and the clients, so a replica
here adds no CPU: what it can show is where the database work goes.

* reads: one ``ledger serve`` (one process) on the primary with 0, 1 and 2 replicas in
  ``LEDGER_REPLICA_URLS`` (restarted between them, same log key). For each: 32
  keep-alive connections for ``--seconds`` on ``GET /v1/agreements/{id}`` of the demo's
  public agreement, then as long on its ``/proofs`` (checkpoint and inclusion proofs of
  its events and its signers'), while 4 writers append single events at about
  ``--append-rate`` events/s in all. Printed: reads/s, p50/p99, the appends done
  meanwhile, and the CPU seconds each PostgreSQL server (postmaster and backends) and
  the ledger server spent per 1,000 reads.
* appends: 16 signing clients, single-event ``POST /v1/events`` (agreements of 25
  events), ``--events`` in all per run, with the standby ``s1`` asynchronous
  (``synchronous_standby_names = ''``), synchronous with ``synchronous_commit = on``,
  and with ``remote_apply``; the three in turn, ``--rounds`` times (the host is shared:
  interleaving spreads its load over the three).
  Before them, the commit latency alone: 300 one-row transactions in turn on one
  connection in each mode (what the standby's round trip adds to every commit).
* then the database's bytes per event (every table and index of the ledger database,
  and ``events`` and ``merkle_nodes`` alone), measured on what the runs wrote.

The load average is printed beside each figure. Nothing is asserted.

Run: python bench/replicas.py [--seconds S] [--events N] [--rounds R] [--only reads|appends]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import itertools
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import msgspec
from _serve import Server, cpu_seconds, load, percentile, post_request, read_response
from _setup import LEDGER_ID, machine

from ledger.demo import run_demo
from ledger.envelope import Envelope
from ledger.keys import generate_private_key
from ledger.signer import Signer
from ledger.statement import event_hash
from tests.replication import Cluster
from tests.replication import Server as Postgres

READERS = 32
WRITERS = 16
BACKGROUND_WRITERS = 4
AGREEMENT_EVENTS = 25
_names = itertools.count()


def _signers(n: int) -> list[Signer]:
    return [Signer(f"w{next(_names):05d}", generate_private_key(), LEDGER_ID) for _ in range(n)]


def _agreement_events(signer: Signer, n: int) -> list[Envelope]:
    out: list[Envelope] = []
    for k in range(0, n, AGREEMENT_EVENTS):
        agreement_id = f"bench-{signer.org_id}-{k // AGREEMENT_EVENTS}"
        stream, prev = f"agreement/{agreement_id}", None
        for v in range(1, min(AGREEMENT_EVENTS, n - k) + 1):
            data = {"title": f"Mutualisation v{v}", "purpose": "Partager une comptable",
                    "binding": False}
            if v == 1:
                kind, data = "agreement.drafted", {"agreement_id": agreement_id, **data}
            else:
                kind = "agreement.revised"
            env = signer.event(stream, v, prev, kind, data)
            prev = event_hash(env.payload_bytes())
            out.append(env)
    return out


async def _post(port: int, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(post_request(port, "/v1/events", body))
        return await read_response(reader)
    finally:
        writer.close()


async def _register(port: int, orgs: list[Signer]) -> None:
    status, body = await _post(port, msgspec.json.encode(
        {"events": [o.registration(o.org_id).to_json() for o in orgs]}))
    if status != 201:
        raise RuntimeError(f"registration refused: {status} {body.decode()}")


async def appends(port: int, orgs: list[Signer], per_writer: int,
                  rate: float | None = None, stop: asyncio.Event | None = None,
                  ) -> tuple[int, int, float]:
    """(acknowledged, refused, seconds): each signer posts its events one at a time over
    its own connection; at ``rate`` events/s in all when given, until ``stop``."""
    await _register(port, orgs)
    work = [[post_request(port, "/v1/events", msgspec.json.encode({"events": [e.to_json()]}))
             for e in _agreement_events(o, per_writer)] for o in orgs]
    acknowledged = refused = 0
    gap = None if rate is None else len(orgs) / rate

    async def client(requests: list[bytes]) -> None:
        nonlocal acknowledged, refused
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in requests:
                if stop is not None and stop.is_set():
                    return
                t = time.perf_counter()
                writer.write(request)
                status, _ = await read_response(reader)
                acknowledged += status == 201
                refused += status != 201
                if gap is not None:
                    await asyncio.sleep(max(0.0, gap - (time.perf_counter() - t)))
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[client(w) for w in work])
    return acknowledged, refused, time.perf_counter() - t0


async def reads(port: int, path: str, seconds: float) -> tuple[float, list[float], int]:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               "Accept: application/json\r\n\r\n").encode()
    latencies: list[float] = []
    errors = 0
    stop_at = 0.0

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                t = time.perf_counter()
                writer.write(request)
                status, _ = await read_response(reader)
                latencies.append(time.perf_counter() - t)
                errors += status != 200
        finally:
            writer.close()

    stop_at = time.perf_counter() + 1.0  # warm-up, not counted
    await asyncio.gather(*[connection() for _ in range(READERS)])
    latencies.clear()
    errors = 0
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    await asyncio.gather(*[connection() for _ in range(READERS)])
    return len(latencies) / (time.perf_counter() - t0), latencies, errors


async def _sql(pg: Postgres, sql: str, database: str = "postgres") -> object:
    conn = await asyncpg.connect(pg.dsn(database))
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def _in_rotation(url: str, n: int, timeout: float = 60) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        for _ in range(int(timeout / 0.2)):
            replicas = (await http.get("/readyz")).json()["replicas"]
            if len(replicas) == n and all(r["in_rotation"] for r in replicas):
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"replicas not in rotation: {replicas}")


def _cpu(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: cpu_seconds(pid) or 0.0 for name, pid in pids.items() if pid is not None}


async def bench_reads(cluster: Cluster, primary: Postgres, standbys: list[Postgres],
                      home: Path, seconds: float, append_rate: float) -> None:
    dsn = primary.dsn("ledger")
    demo_id = ""
    for n in (0, 1, 2):
        urls = " ".join(s.dsn("ledger") for s in standbys[:n])
        server = Server(dsn, home, 1, {"LEDGER_REPLICA_URLS": urls} if n else {})
        try:
            await server.wait_ready()
            if not demo_id:
                demo_id = (await asyncio.to_thread(run_demo, server.url,
                                                   suffix="-bench")).agreement_id
            if n:
                await _in_rotation(server.url, n)
            for what, path in (("agreement", f"/v1/agreements/{demo_id}"),
                               ("proofs", f"/v1/agreements/{demo_id}/proofs")):
                stop = asyncio.Event()
                enough = int(append_rate * (seconds + 4) / BACKGROUND_WRITERS * 1.5) + 2
                writers = asyncio.create_task(appends(
                    server.port, _signers(BACKGROUND_WRITERS), enough, append_rate, stop))
                await asyncio.sleep(0.5)
                pids = {"primary": primary.pid, "server": server.proc.pid,
                        **{f"replica{i + 1}": s.pid for i, s in enumerate(standbys[:n])}}
                before = _cpu(pids)
                rps, latencies, errors = await reads(server.port, path, seconds)
                after = _cpu(pids)
                stop.set()
                acked, refused, took = await writers
                per_k = {k: 1000 * (after[k] - before[k]) / max(1, len(latencies))
                         for k in after}
                print(f"reads {what:9} {n} replica(s): {rps:7,.0f} reads/s, "
                      f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms, "
                      f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
                      + (f", {errors} non-200" if errors else "")
                      + f"; appends meanwhile {acked / took:5.0f}/s"
                      + (f" ({refused} refused)" if refused else "")
                      + "; CPU s per 1,000 reads: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in per_k.items())
                      + f"; load {load()}", flush=True)
        finally:
            await asyncio.to_thread(server.stop)


async def _sync_mode(primary: Postgres, mode: str) -> None:
    names, commit = {"async": ("", "on"), "sync on": ("s1", "on"),
                     "sync remote_apply": ("s1", "remote_apply")}[mode]
    await _sql(primary, f"ALTER SYSTEM SET synchronous_standby_names = '{names}'")
    await _sql(primary, f"ALTER SYSTEM SET synchronous_commit = '{commit}'")
    await _sql(primary, "SELECT pg_reload_conf()")
    want = "sync" if names else "async"
    for _ in range(200):
        if await _sql(primary, "SELECT sync_state FROM pg_stat_replication "
                               "WHERE application_name = 's1'") == want:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"s1 never became {want}")


async def commit_latency(primary: Postgres, n: int = 300) -> list[float]:
    """Seconds per commit of ``n`` one-row transactions in turn on one connection: the
    round trip a synchronous standby adds to every commit, the sequencer's included."""
    conn = await asyncpg.connect(primary.dsn("ledger"))
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit (n int)")
        took = []
        for i in range(n):
            t = time.perf_counter()
            await conn.execute("INSERT INTO bench_commit VALUES ($1)", i)
            took.append(time.perf_counter() - t)
        await conn.execute("DROP TABLE bench_commit")
        return took
    finally:
        await conn.close()


MODES = ("async", "sync on", "sync remote_apply")


async def bench_appends(primary: Postgres, home: Path, events: int, rounds: int) -> None:
    for _ in range(rounds):
        for mode in MODES:
            await _sync_mode(primary, mode)
            took = await commit_latency(primary)
            print(f"commits {mode:17}: one connection, {len(took)} one-row commits: "
                  f"p50 {percentile(took, 0.5) * 1000:.2f} ms, "
                  f"p99 {percentile(took, 0.99) * 1000:.2f} ms; load {load()}", flush=True)
    server = Server(primary.dsn("ledger"), home, 1)
    try:
        await server.wait_ready()
        per_writer = max(events // WRITERS, 2)
        results: dict[str, list[float]] = {}
        for _ in range(rounds):
            for mode in MODES:
                await _sync_mode(primary, mode)
                acked, refused, took = await appends(server.port, _signers(WRITERS),
                                                     per_writer)
                results.setdefault(mode, []).append(acked / took)
                print(f"appends {mode:17}: {acked:,} events in {took:.1f} s = "
                      f"{acked / took:,.0f} events/s"
                      + (f" ({refused} refused)" if refused else "")
                      + f"; load {load()}", flush=True)
        for mode, rates in results.items():
            print(f"appends {mode:17}: median of {len(rates)}: "
                  f"{sorted(rates)[len(rates) // 2]:,.0f} events/s")
    finally:
        await _sync_mode(primary, "async")
        await asyncio.to_thread(server.stop)


async def bytes_per_event(primary: Postgres) -> None:
    conn = await asyncpg.connect(primary.dsn("ledger"))
    try:
        n = await conn.fetchval("SELECT count(*) FROM events")
        envelope = await conn.fetchval("SELECT avg(octet_length(envelope)) FROM events")
        total = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace s "
            "ON s.oid = c.relnamespace WHERE c.relkind IN ('r', 'm', 'p') "
            "AND s.nspname NOT IN ('pg_catalog', 'information_schema')")
        parts = {t: await conn.fetchval(f"SELECT pg_total_relation_size('{t}')")
                 for t in ("events", "merkle_nodes", "checkpoints")}
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    print(f"bytes per event ({n:,} events, signed envelope {envelope:,.0f} B on average): "
          f"every table and index {total / n:,.0f} B; events {parts['events'] / n:,.0f} B, "
          f"merkle_nodes {parts['merkle_nodes'] / n:,.0f} B, checkpoints "
          f"{parts['checkpoints'] / n:,.0f} B; the database {database / n:,.0f} B "
          f"({database / 2**20:,.1f} MiB)")


async def main(args: argparse.Namespace) -> None:
    print(f"setup: {machine()}; load {load()}; PostgreSQL (embedded binaries) primary and "
          "standbys on this host, fsync on, over 127.0.0.1; `ledger serve` one process")
    cluster = Cluster()
    try:
        primary = await asyncio.to_thread(cluster.primary)
        primary.configure(fsync="on")  # the cluster's default is off (tests)
        await asyncio.to_thread(primary.stop)
        await asyncio.to_thread(primary.start)
        await _sql(primary, "CREATE DATABASE ledger")
        standbys = [await asyncio.to_thread(cluster.standby, primary, name=f"s{i}")
                    for i in (1, 2)]
        with tempfile.TemporaryDirectory(prefix="ledger-bench-replicas-") as tmp:
            home = Path(tmp) / "home"
            if args.only != "appends":
                await bench_reads(cluster, primary, standbys, home, args.seconds,
                                  args.append_rate)
            if args.only != "reads":
                await bench_appends(primary, home, args.events, args.rounds)
            await bytes_per_event(primary)
    finally:
        await asyncio.to_thread(cluster.close)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0,
                        help="duration of each read run (default 8)")
    parser.add_argument("--append-rate", type=float, default=50.0,
                        help="events/s appended in all during the reads (default 50)")
    parser.add_argument("--events", type=int, default=1600,
                        help="events per append run (default 1,600)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="runs of each replication mode (default 2)")
    parser.add_argument("--only", choices=["reads", "appends"])
    asyncio.run(main(parser.parse_args()))
