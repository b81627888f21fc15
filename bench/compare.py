"""Side by side, in one run, on the same PostgreSQL: this ledger, the ``eventsourcing``
library (its PostgreSQL application recorder) and raw PostgreSQL commits.

The default workload is realistic: agreement lives decided by the domain's own rules
(drafted, joined, expectations stated and acknowledged, commitments, the six stages,
consents, ratifications, then twelve months of fulfilments; about 420 events per
agreement, ~840-byte envelopes; ``bench/_workload.py``), interleaved across agreements
as a busy ledger's log, every event signed by its organization. 16 clients, each with
its own agreements (an agreement's events in their order), everywhere:

1. single-event appends: the ledger over HTTP (a real ``ledger serve``, every event
   verified and admitted by the agreement rules); eventsourcing: ``repository.get`` the
   agreement, one event (folded by the ledger's own ``evolve`` into the same
   ``AgreementState``), ``save``, its aggregate cache on (the ledger keeps folded
   agreements in memory too); raw PostgreSQL: one row (the envelope's bytes) committed
   per transaction into a table with a sequence key;
2. batches of 100 events: over HTTP (agreement rules on), and through the store in
   process (signatures, chains and keys verified, the rules not run), against the raw
   single-row commit rate;
3. rebuild: every read model of the ledger rebuilt from position 0 over a log of
   ``--log`` events (best of ``--runs``), against eventsourcing replaying its whole
   notification log (pages of 5,000, each notification mapped to its domain event and
   applied to its aggregate with the same ``evolve``).

``--short`` runs the earlier comparison on short streams (1,000 organizations
registered, 10,000 profile updates, a replay), kept for comparison. The ledger does more
per event (canonical-JSON checks, Ed25519 signing and verification, a hash chain, a
Merkle tree, the agreement rules): the ratios show what that costs.

Needs the ``bench`` extra (``pip install -e '.[bench]'``).
Run: python bench/compare.py [--singles N] [--batched N] [--log N] [--runs R] [--profile F]
     [--profile-batches F]
     python bench/compare.py --short [--streams N] [--commands C]
"""

from __future__ import annotations

import os
import sys

# bench/http.py and bench/projections.py would shadow the standard library's ``http``
# and the ``projections`` package: the repository first, this folder (for the helpers)
# last on the module search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import functools
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import msgspec
from _fill import bench_rebuild
from _serve import (
    SERVER_SETTINGS,
    Server,
    cpu_seconds,
    load,
    post_request,
    read_response,
    start_profile,
    stop_profile,
)
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers
from _workload import ORGS, Decided, interleave, lives, per_client, sign_all, signed

from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.envelope import Envelope
from ledger.keys import private_key_from_seed
from ledger.signer import Signer
from ledger.store import PostgresStore

WRITERS = 16


# --- this ledger -----------------------------------------------------------------------


async def ledger_workload(dsn: str, n: int, c: int) -> dict[str, float]:
    pool = await connect_pool(dsn, min_size=2, max_size=20)
    store = PostgresStore(pool, ledger_id=LEDGER_ID)
    try:
        orgs = [Signer(f"org-{i:05d}", private_key_from_seed(i.to_bytes(32, "big")), LEDGER_ID)
                for i in range(1, n + 1)]
        regs = [o.registration(o.org_id) for o in orgs]
        t = time.perf_counter()
        for i in range(0, n, 100):
            await asyncio.gather(*[store.append([r]) for r in regs[i:i + 100]])
        register = n / (time.perf_counter() - t)

        async def writer(w: int) -> None:
            for k in range(w, c, WRITERS):
                o = orgs[k % n]
                head = await store.head(o.stream)
                env = o.event(o.stream, head.version + 1, head.hash,
                              "organization.profile_updated", {"profile": {"description": str(k)}})
                await store.append([env])

        t = time.perf_counter()
        await asyncio.gather(*[writer(w) for w in range(WRITERS)])
        commands = c / (time.perf_counter() - t)

        t = time.perf_counter()
        profiles: dict[str, dict[str, Any]] = {}
        start, total = 0, 0
        decoder = msgspec.json.Decoder()
        while True:
            page = await store.read_log(start, 5000)
            if not page:
                break
            for e in page:
                st = decoder.decode(e.payload)
                profiles.setdefault(st["stream"], {}).update(st["data"].get("profile", {}))
            total += len(page)
            start = page[-1].position + 1
        replay = total / (time.perf_counter() - t)
        assert total == n + c and len(profiles) == n
        return {"register": register, "commands": commands, "replay": replay}
    finally:
        await store.close()
        await pool.close()


# --- the eventsourcing library -----------------------------------------------------------


def eventsourcing_workload(dsn: str, n: int, c: int) -> dict[str, float]:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    class Organization(Aggregate):
        @event("Registered")
        def __init__(self, name: str) -> None:
            self.name = name
            self.profile: dict[str, Any] = {}

        @event("ProfileUpdated")
        def update_profile(self, profile: dict[str, Any]) -> None:
            self.profile.update(profile)

    class Registry(Application):
        pass

    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": query.get("host", [parts.hostname or "127.0.0.1"])[0],
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_POOL_SIZE": str(WRITERS + 4),
        "POSTGRES_MAX_OVERFLOW": "4",
    }
    app = Registry(env=env)
    ids: list[uuid.UUID] = []
    t = time.perf_counter()
    for i in range(n):
        org = Organization(name=f"org-{i:05d}")
        app.save(org)
        ids.append(org.id)
    register = n / (time.perf_counter() - t)

    def writer(w: int) -> None:
        for k in range(w, c, WRITERS):
            org = app.repository.get(ids[k % n])
            org.update_profile({"n": k})
            app.save(org)

    t = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    commands = c / (time.perf_counter() - t)

    t = time.perf_counter()
    total, start = 0, 1
    originators: set[uuid.UUID] = set()
    while True:
        page = app.recorder.select_notifications(start=start, limit=5000)
        if not page:
            break
        total += len(page)
        originators.update(nt.originator_id for nt in page)
        start = page[-1].id + 1
    for oid in originators:
        app.repository.get(oid)
    replay = total / (time.perf_counter() - t)
    assert total == n + c
    app.close()
    return {"register": register, "commands": commands, "replay": replay}


async def short_main(n: int, c: int) -> None:
    with admin_dsn() as (admin, label):
        print(f"setup: {machine()}; {label}; {n} streams, {c} commands from {WRITERS} "
              "writers, one process each side; eventsourcing "
              f"{version('eventsourcing')} (PostgreSQL application recorder)")
        async with fresh_database(admin) as dsn:
            ours = await ledger_workload(dsn, n, c)
        async with fresh_database(admin) as dsn:
            theirs = await asyncio.to_thread(eventsourcing_workload, dsn, n, c)
    print(f"{'phase':<10} {'ledger (events/s)':>18} {'eventsourcing':>15} {'ratio':>7}")
    for phase in ("register", "commands", "replay"):
        print(f"{phase:<10} {ours[phase]:>18,.0f} {theirs[phase]:>15,.0f} "
              f"{ours[phase] / theirs[phase]:>7.2f}")


# --- the realistic workload (the default) -------------------------------------------------


def es_env(dsn: str, cache: bool) -> dict[str, str]:
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": query.get("host", [parts.hostname or "127.0.0.1"])[0],
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "POSTGRES_POOL_SIZE": str(WRITERS + 4),
        "POSTGRES_MAX_OVERFLOW": "4",
    }
    if cache:  # the ledger keeps folded agreements in memory; so does this side
        env.update(AGGREGATE_CACHE_MAXSIZE="100000", DEEPCOPY_FROM_AGGREGATE_CACHE="n")
    return env


@functools.cache
def es_classes() -> tuple[type, type]:
    """An ``Agreement`` aggregate whose events are the workload's decided events, each
    folded into the same ``AgreementState`` by the ledger's own ``evolve``."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event

    from ledger.domain import Fact, evolve, initial_state

    class Agreement(Aggregate):
        @staticmethod
        def create_id(agreement_id: str, **_: Any) -> uuid.UUID:
            return uuid.uuid5(uuid.NAMESPACE_URL, agreement_id)

        @event("Drafted")
        def __init__(self, agreement_id: str, type: str, actor: str, at: str,
                     data: dict[str, Any]) -> None:
            self.n = 1
            self.state = evolve(initial_state(), Fact(type, data, actor, at, 1))

        @event("Recorded")
        def record(self, type: str, actor: str, at: str, data: dict[str, Any]) -> None:
            self.n += 1
            self.state = evolve(self.state, Fact(type, data, actor, at, self.n))

    class Agreements(Application):
        pass

    return Agreement, Agreements


def _es_id(a: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"ent-{a:05d}")


def es_commands(dsn: str, histories: list[list[Decided]], first: int) -> float:
    """16 threads, each ``repository.get`` + one event + ``save`` per command, each
    thread on its own agreements, the events in the ledger's log order."""
    Agreement, Agreements = es_classes()
    app = Agreements(env=es_env(dsn, cache=True))
    work: list[list[tuple[int, int]]] = [[] for _ in range(WRITERS)]
    for a, i in interleave(histories):
        work[a % WRITERS].append((a, i))

    def writer(w: int) -> None:
        for a, i in work[w]:
            actor, type_, data, at = histories[a][i]
            if i == 0:
                agg = Agreement(agreement_id=f"ent-{first + a:05d}", type=type_, actor=actor,
                                at=at, data=data)
            else:
                agg = app.repository.get(_es_id(first + a))
                agg.record(type=type_, actor=actor, at=at, data=data)
            app.save(agg)

    t = time.perf_counter()
    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))
    rate = sum(map(len, histories)) / (time.perf_counter() - t)
    app.close()
    return rate


def es_replay(dsn: str, histories: list[list[Decided]]) -> tuple[float, int]:
    """Record every agreement (one save each), then replay the whole notification log in
    pages of 5,000: each notification decoded to its domain event by the application's
    mapper and applied to its aggregate (the ledger's ``evolve`` on the same state)."""
    Agreement, Agreements = es_classes()
    app = Agreements(env=es_env(dsn, cache=False))
    for a, life in enumerate(histories):
        actor, type_, data, at = life[0]
        agg = Agreement(agreement_id=f"ent-{a:05d}", type=type_, actor=actor, at=at,
                        data=data)
        for actor, type_, data, at in life[1:]:
            agg.record(type=type_, actor=actor, at=at, data=data)
        app.save(agg)
    app.close()
    app = Agreements(env=es_env(dsn, cache=False))
    t = time.perf_counter()
    aggregates: dict[uuid.UUID, Any] = {}
    total, start = 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=5000)
        if not page:
            break
        for nt in page:
            ev = app.mapper.to_domain_event(nt)
            aggregates[nt.originator_id] = ev.mutate(aggregates.get(nt.originator_id))
        total += len(page)
        start = page[-1].id + 1
    rate = total / (time.perf_counter() - t)
    assert total == sum(map(len, histories)) and len(aggregates) == len(histories)
    app.close()
    return rate, total


async def raw_commits(dsn: str, rows: list[list[bytes]]) -> float:
    """Raw PostgreSQL: 16 connections, each committing one row (an envelope's bytes)
    per transaction into a table with a sequence key: the commit rate the store's
    single appends stand on."""
    conns = [await asyncpg.connect(dsn) for _ in range(len(rows))]
    try:
        await conns[0].execute("CREATE TABLE raw_log (position bigserial PRIMARY KEY, "
                               "payload bytea NOT NULL)")

        async def writer(conn: asyncpg.Connection, mine: list[bytes]) -> None:
            for row in mine:
                await conn.execute("INSERT INTO raw_log (payload) VALUES ($1)", row)

        t = time.perf_counter()
        await asyncio.gather(*[writer(c, r) for c, r in zip(conns, rows, strict=True)])
        return sum(map(len, rows)) / (time.perf_counter() - t)
    finally:
        for c in conns:
            await c.close()


async def http_appends(port: int, work: list[list[list[Envelope]]], pid: int,
                       ) -> tuple[float, int, int, str | None, float | None]:
    """Each client posts its batches one after another on its own keep-alive connection.
    Acknowledged events/s, acknowledged, refused, first refusal, server CPU per event."""
    requests = [[post_request(port, "/v1/events", msgspec.json.encode(
        {"events": [e.to_json() for e in batch]})) for batch in mine] for mine in work]
    sizes = [[len(batch) for batch in mine] for mine in work]
    acknowledged = refused = 0
    first: str | None = None

    async def client(mine: list[bytes], n: list[int]) -> None:
        nonlocal acknowledged, refused, first
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request, k in zip(mine, n, strict=True):
                writer.write(request)
                status, body = await read_response(reader)
                if status == 201:
                    acknowledged += k
                else:
                    refused += k
                    first = first or f"{status} {body[:300].decode()}"
        finally:
            writer.close()

    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    await asyncio.gather(*[client(r, n) for r, n in zip(requests, sizes, strict=True)])
    elapsed = time.perf_counter() - t0
    cpu1 = cpu_seconds(pid)
    cpu = (cpu1 - cpu0) / acknowledged if cpu0 is not None and cpu1 is not None \
        and acknowledged else None
    return acknowledged / elapsed, acknowledged, refused, first, cpu


async def register(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(post_request(port, "/v1/events", msgspec.json.encode(
            {"events": [o.registration(o.org_id).to_json() for o in signers(ORGS)]})))
        status, body = await read_response(reader)
    finally:
        writer.close()
    if status != 201:
        raise RuntimeError(f"registration refused: {status} {body.decode()}")


def batched(mine: list[Envelope], size: int) -> list[list[Envelope]]:
    return [mine[i:i + size] for i in range(0, len(mine), size)]


async def store_batches(dsn: str, work: list[list[Envelope]], size: int) -> float:
    pool = await connect_pool(dsn, min_size=2, max_size=20)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, limits=Limits(max_skew_us=10**17))
    try:
        await store.append([o.registration(o.org_id) for o in signers(ORGS)])

        async def writer(mine: list[Envelope]) -> None:
            for batch in batched(mine, size):
                await store.append(batch)

        t0 = time.perf_counter()
        await asyncio.gather(*[writer(w) for w in work])
        return sum(map(len, work)) / (time.perf_counter() - t0)
    finally:
        await store.close()
        await pool.close()


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, what: str, ours: str, peer: str, ratio: str) -> None:
        self.rows.append((what, ours, peer, ratio))
        print(f"  {what}: {ours} | {peer} | {ratio}  (load {load()})", flush=True)

    def show(self) -> None:
        print(f"\n| {'measure':<58} | {'this ledger':>22} | {'peer':>34} | ratio |")
        print(f"|{'-' * 60}|{'-' * 24}|{'-' * 36}|-------|")
        for what, ours, peer, ratio in self.rows:
            print(f"| {what:<58} | {ours:>22} | {peer:>34} | {ratio:>5} |")


async def main(singles: int, batch_events: int, log_events: int, runs: int,
               profile: str | None, profile_batches: str | None = None) -> None:
    t0 = time.perf_counter()
    h_single = lives(singles, seed=11, first=0)
    s_single = signed(h_single)
    h_batch = lives(batch_events, seed=12, first=len(h_single))
    s_batch = signed(h_batch, first=len(h_single))
    h_log = lives(log_events, seed=7)
    s_log = sign_all(h_log)
    made = time.perf_counter() - t0
    n_single, n_batch = len(s_single), len(s_batch)
    size = sum(len(msgspec.json.encode(e.to_json())) for _, e in s_single) / n_single
    table = Table()
    with admin_dsn() as (admin, label), tempfile.TemporaryDirectory(
            prefix="ledger-bench-compare-") as tmp:
        print(f"setup: {machine()}; {label}; realistic workload: lives decided by the "
              f"rules (~{n_single / len(h_single):.0f} events per agreement, "
              f"{size:.0f}-byte envelopes on average), {ORGS} organizations; generated "
              f"and signed in {made:.1f} s; `ledger serve` (one process) with "
              + ", ".join(f"{k}={v}" for k, v in SERVER_SETTINGS.items())
              + f"; {WRITERS} clients or writers everywhere; eventsourcing "
              f"{version('eventsourcing')} (PostgreSQL application recorder); "
              f"load {load()} at start", flush=True)
        async with fresh_database(admin) as dsn:
            server = Server(dsn, Path(tmp) / "home")
            try:
                await server.wait_ready()
                await register(server.port)
                work = [[[e] for e in mine] for mine in per_client(s_single, WRITERS)]
                spy = start_profile(server.proc.pid, profile) if profile else None
                single = await http_appends(server.port, work, server.proc.pid)
                if profile:
                    stop_profile(spy, profile)
                work = [batched(mine, 100) for mine in per_client(s_batch, WRITERS)]
                spy = (start_profile(server.proc.pid, profile_batches)
                       if profile_batches else None)
                http_batch = await http_appends(server.port, work, server.proc.pid)
                if profile_batches:
                    stop_profile(spy, profile_batches)
            finally:
                await asyncio.to_thread(server.stop)
        for name, (rate, acked, refused, first, cpu) in (("single", single),
                                                          ("batches", http_batch)):
            print(f"  HTTP {name}: {acked:,} acknowledged, {rate:,.0f} events/s"
                  + (f", server CPU {cpu * 1e6:,.0f} µs per event" if cpu else "")
                  + (f"; {refused:,} REFUSED, first: {first}" if refused else ""))
        async with fresh_database(admin) as dsn:
            es_single = await asyncio.to_thread(es_commands, dsn, h_single, 0)
        table.add(f"single-event appends, {n_single:,} events",
                  f"{single[0]:,.0f} ev/s (HTTP)",
                  f"{es_single:,.0f} ev/s (es get+event+save)",
                  f"{single[0] / es_single:.2f}")
        async with fresh_database(admin) as dsn:
            raw = await raw_commits(dsn, [[e.payload_bytes() for e in mine] for mine in
                                          per_client(s_single, WRITERS)])
        table.add("raw PostgreSQL single-row commits (same envelopes)", "—",
                  f"{raw:,.0f} rows/s", "—")
        table.add(f"batches of 100 over HTTP, {n_batch:,} events",
                  f"{http_batch[0]:,.0f} ev/s", f"{raw:,.0f} rows/s (raw PG commits)",
                  f"{http_batch[0] / raw:.2f}")
        async with fresh_database(admin) as dsn:
            store_rate = await store_batches(dsn, per_client(s_batch, WRITERS), 100)
        table.add(f"batches of 100 through the store (no rules), {n_batch:,} events",
                  f"{store_rate:,.0f} ev/s", f"{raw:,.0f} rows/s (raw PG commits)",
                  f"{store_rate / raw:.2f}")
        async with fresh_database(admin) as dsn:
            rebuild_rate, rebuilt, cpu = await bench_rebuild(dsn, s_log, runs)
        async with fresh_database(admin) as dsn:
            es_rate, es_total = await asyncio.to_thread(es_replay, dsn, h_log)
        print(f"  rebuild: {rebuilt:,} events, {cpu:.2f} s of Python CPU in the best run; "
              f"eventsourcing replayed {es_total:,} notifications")
        table.add(f"rebuild / replay of the whole log, {rebuilt:,} events",
                  f"{rebuild_rate:,.0f} ev/s (best of {runs})",
                  f"{es_rate:,.0f} ev/s (es notification log)",
                  f"{rebuild_rate / es_rate:.2f}")
    table.show()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true",
                        help="the earlier short-stream comparison (organization profiles)")
    parser.add_argument("--streams", type=int, default=1000, help="--short: streams")
    parser.add_argument("--commands", type=int, default=10_000, help="--short: commands")
    parser.add_argument("--singles", type=int, default=16_000,
                        help="single-event appends (HTTP; eventsourcing commands; raw rows)")
    parser.add_argument("--batched", type=int, default=32_000,
                        help="events appended in batches of 100")
    parser.add_argument("--log", type=int, default=100_000,
                        help="events of the log rebuilt / replayed")
    parser.add_argument("--runs", type=int, default=3, help="rebuilds (best is kept)")
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy profile of the server during the HTTP single appends "
                             "(collapsed stacks; its top functions are printed)")
    parser.add_argument("--profile-batches", metavar="FILE",
                        help="the same, during the HTTP batches of 100")
    args = parser.parse_args()
    if args.short:
        asyncio.run(short_main(args.streams, args.commands))
    else:
        asyncio.run(main(args.singles, args.batched, args.log, args.runs, args.profile,
                         args.profile_batches))
