"""Side by side, in one run, on the same PostgreSQL: this ledger and the ``eventsourcing``
library (its PostgreSQL application recorder), on the same workload.

1. register: create N streams (ledger: N self-signed organization registrations;
   eventsourcing: N ``Organization`` aggregates created and saved);
2. commands: C single-event commands on existing streams from 16 concurrent writers
   (ledger: read the stream head, build and sign an ``organization.profile_updated``
   statement, append it — every signature verified by the store; eventsourcing:
   ``repository.get`` the aggregate, trigger an event, ``save``);
3. replay: read the whole log back and rebuild every stream's state (ledger: decode the
   stored statements in log order and fold profiles; eventsourcing: select every
   notification and reconstruct every aggregate with its ``mutate``).

The ledger does more per event (canonical-JSON checks, Ed25519 signing and
verification, a hash chain, a Merkle tree): the ratios show what that costs.

Needs the ``bench`` extra (``pip install -e '.[bench]'``).
Run: python bench/compare.py [--streams N] [--commands C]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine

from ledger.db import connect_pool
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


async def main(n: int, c: int) -> None:
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


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(main(args.streams, args.commands))
