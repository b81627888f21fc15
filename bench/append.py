"""Append throughput through the store: 16 concurrent writers.

* single: each writer appends one event per call (each call is its own all-or-nothing
  batch; concurrent calls share group commits in the sequencer);
* batched: each writer appends batches of 100 events.

Events are signed before timing (signing is the client's cost). Every append verifies
every signature. Run: python bench/append.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers, stream_events

from ledger.db import connect_pool
from ledger.store import PostgresStore

WRITERS = 16


async def run(dsn: str, per_writer: int, batch: int) -> float:
    pool = await connect_pool(dsn, min_size=2, max_size=20)
    store = PostgresStore(pool, ledger_id=LEDGER_ID)
    try:
        orgs = signers(WRITERS)
        await store.append([o.registration(o.org_id) for o in orgs])
        work = [stream_events(o, f"agreement/bench-{o.org_id}", per_writer) for o in orgs]

        async def writer(events) -> None:
            for i in range(0, len(events), batch):
                await store.append(events[i:i + batch])

        t0 = time.perf_counter()
        await asyncio.gather(*[writer(w) for w in work])
        elapsed = time.perf_counter() - t0
        assert await store.size() == WRITERS + WRITERS * per_writer
        return WRITERS * per_writer / elapsed
    finally:
        await store.close()
        await pool.close()


async def main(events: int) -> None:
    with admin_dsn() as (admin, label):
        print(f"setup: {machine()}; {label}; {WRITERS} concurrent writers, "
              f"{events} events in all, ~200-byte payloads, one process")
        per_writer = events // WRITERS
        for name, batch in (("single-event appends", 1), ("batches of 100", 100)):
            async with fresh_database(admin) as dsn:
                rate = await run(dsn, per_writer, batch)
            print(f"{name:>22}: {rate:10,.0f} events/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=32_000)
    asyncio.run(main(parser.parse_args().events))
