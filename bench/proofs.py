"""Proof serving on a large tree: inclusion and consistency proofs from stored nodes.

Builds the Merkle nodes of a 1,000,000-leaf tree (random leaf hashes; the proofs only
read ``merkle_nodes``) in a fresh database, then times ``PostgresStore.inclusion_proof``
for random indices against the full size and ``consistency_proof`` between random
sizes, verifying every proof. Run: python bench/proofs.py [--leaves N] [--samples K]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time

import asyncpg
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine

from ledger import merkle
from ledger.db import connect_pool
from ledger.store import PostgresStore


async def build_tree(dsn: str, n: int) -> bytes:
    tree = merkle.CompactRange()
    rows: list[tuple[int, int, bytes]] = []
    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(n):
            rows.extend((nd.level, nd.index, nd.hash)
                        for nd in tree.append(os.urandom(32)))
            if len(rows) >= 200_000:
                await conn.copy_records_to_table("merkle_nodes", records=rows)
                rows = []
        await conn.copy_records_to_table("merkle_nodes", records=rows)
        await conn.execute("ANALYZE merkle_nodes")
    finally:
        await conn.close()
    return tree.root()


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * p))]


async def main(n: int, samples: int) -> None:
    with admin_dsn() as (admin, label):
        print(f"setup: {machine()}; {label}; tree of {n:,} leaves, {samples} proofs each")
        async with fresh_database(admin) as dsn:
            t = time.perf_counter()
            root = await build_tree(dsn, n)
            print(f"built and stored the tree's nodes in {time.perf_counter() - t:.1f} s")
            pool = await connect_pool(dsn, min_size=1, max_size=4)
            store = PostgresStore(pool, ledger_id=LEDGER_ID)
            try:
                leaf_of = {}
                async with pool.acquire() as conn:
                    idx = random.sample(range(n), samples)
                    for r in await conn.fetch(
                            "SELECT idx, hash FROM merkle_nodes WHERE level = 0 "
                            "AND idx = ANY($1::bigint[])", idx):
                        leaf_of[r["idx"]] = bytes(r["hash"])
                await store.inclusion_proof(0, n)  # warm up
                times = []
                for i in idx:
                    t = time.perf_counter()
                    proof = await store.inclusion_proof(i, n)
                    times.append((time.perf_counter() - t) * 1000)
                    merkle.verify_inclusion(i, n, leaf_of[i], proof, root)
                print(f"inclusion proof at size {n:,}: median {statistics.median(times):.2f} ms,"
                      f" p99 {pct(times, 0.99):.2f} ms (each verified)")
                times = []
                for _ in range(samples):
                    m = random.randint(1, n - 1)
                    t = time.perf_counter()
                    await store.consistency_proof(m, n)
                    times.append((time.perf_counter() - t) * 1000)
                print(f"consistency proof to size {n:,}: median "
                      f"{statistics.median(times):.2f} ms, p99 {pct(times, 0.99):.2f} ms")
            finally:
                await store.close()
                await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.leaves, args.samples))
