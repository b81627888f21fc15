"""Memory of a serving process as the log grows: is it bounded by the settings?

One ``ledger serve`` process (one worker) runs from an empty database while the log
grows to each of ``--steps`` (default 10,000, 100,000 and 500,000 events). The events
are the realistic workload of ``_workload.py`` (agreements of about 400 events, each
decided by the domain's own rules), signed here and posted to the server in batches
(``POST /v1/events``, so every one goes through the server's rules and signature
checks), agreements a cohort at a time (about 50 agreements interleaved, then the
next). Two Server-Sent Events clients stay connected from the start and read every
entry (an auditor's and an anonymous one, for whom the server decides each entry on
the agreement's state). At each step, once the projections have caught up, every
agreement is read (``GET /v1/agreements/{id}`` and its history's first page) and the
first pages of the list; then the server's resident memory (``VmRSS``, and its peak
``VmHWM``, from ``/proc``) is printed.

RSS is what is measured, not speed: it does not depend on the host's load.
``--cache-env NAME=VALUE`` passes cache settings (``LEDGER_CACHE_…``) to the server.

``--states`` instead measures the memory of folded agreement states (tracemalloc),
the figure behind ``ledger.lru.agreement_bytes``.

Run: python bench/memory_growth.py [--steps 10000 100000 500000] [--states]
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
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path

import asyncpg
import httpx
import msgspec
from _serve import Server
from _setup import admin_dsn, fresh_database, machine, signers
from _workload import ORGS, lives, sign_all

from ledger.domain import Fact, evolve, initial_state
from ledger.keys import private_key_from_seed
from ledger.projections.sql import load_checkpoint
from ledger.statement import event_hash
from ledger.tokens import create_token

COHORT_EVENTS = 20_000  # about 50 agreements interleaved at a time
BATCH = 500  # events per POST
WRITERS = 4  # concurrent posting clients (each its own agreements)
SERVER_SETTINGS = {"LEDGER_WRITES_PER_KEY_PER_SECOND": "10000000",
                   "LEDGER_APPENDS_PER_ADDRESS_PER_SECOND": "10000000",
                   "LEDGER_APPENDS_PER_TOKEN_PER_SECOND": "10000000",
                   "LEDGER_OPEN_REGISTRATION": "1",
                   # the workload's events are dated 2026: let any date in
                   "LEDGER_MAX_SKEW_SECONDS": str(20 * 365 * 86400)}




def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


async def sse_client(url: str, token: str | None, counts: dict[str, int],
                     name: str) -> None:
    """Read the live stream from the start, counting entries, until cancelled."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url, timeout=None) as http:
        while True:
            try:
                async with http.stream("GET", "/v1/stream", params={"after": -1},
                                       headers=headers) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("id: "):
                            counts[name] = int(line[4:])
            except httpx.TransportError:
                await asyncio.sleep(1)


async def post_all(url: str, batches: list[list[bytes]]) -> None:
    """Post ``batches`` (each a list of serialized events) in order on one connection."""
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for batch in batches:
            body = b'{"events":[' + b",".join(batch) + b"]}"
            r = await http.post("/v1/events", content=body,
                                headers={"Content-Type": "application/json"})
            if r.status_code != 201:
                raise RuntimeError(f"append refused: {r.status_code} {r.text[:400]}")


def cohort(first: int, n_events: int, seed: int) -> tuple[list[list[list[bytes]]], int]:
    """The signed events of agreements ``first``…, about ``n_events``, split among the
    writers by agreement (each writer's in log order, in batches); and how many
    agreements."""
    histories = lives(n_events, seed=seed, first=first)
    per_writer: list[list[bytes]] = [[] for _ in range(WRITERS)]
    for env in sign_all(histories, first=first):
        stream = msgspec.json.decode(env.payload_bytes())["stream"]
        number = int(stream.rsplit("-", 1)[1])
        per_writer[number % WRITERS].append(msgspec.json.encode(env.to_json()))
    batches = [[w[i:i + BATCH] for i in range(0, len(w), BATCH)] for w in per_writer]
    return batches, len(histories)


async def read_everything(url: str, token: str, agreements: int) -> int:
    """Read every agreement's state and first history page, and the list's first pages;
    the number of answers that were not 200."""
    headers = {"Authorization": f"Bearer {token}"}
    bad = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for a in range(agreements):
        queue.put_nowait(f"ent-{a:05d}")

    async def reader() -> None:
        nonlocal bad
        async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as http:
            while not queue.empty():
                aid = queue.get_nowait()
                for path in (f"/v1/agreements/{aid}", f"/v1/agreements/{aid}/history"):
                    if (await http.get(path)).status_code != 200:
                        bad += 1

    await asyncio.gather(*[reader() for _ in range(8)])
    async with httpx.AsyncClient(base_url=url, timeout=120, headers=headers) as http:
        cursor: str | None = None
        for _ in range(5):
            params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
            r = await http.get("/v1/agreements", params=params)
            if r.status_code != 200:
                bad += 1
                break
            cursor = r.json().get("next")
            if not cursor:
                break
    return bad


async def wait_projections(dsn: str, size: int, timeout: float = 600) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while await load_checkpoint(conn) < size:
            if time.monotonic() > deadline:
                raise RuntimeError("the projections did not catch up")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def main(steps: list[int], extra: dict[str, str]) -> None:
    with admin_dsn() as (admin, label), tempfile.TemporaryDirectory() as tmp:
        print(f"setup: {machine()}; {label}; one `ledger serve` process; "
              f"cache settings: {extra or 'defaults'}", flush=True)
        with open("/proc/loadavg") as f:
            print(f"load average at start: {f.read().split()[:3]}", flush=True)
        async with fresh_database(admin) as dsn:
            server = Server(dsn, Path(tmp) / "home", extra=extra)
            tasks: list[asyncio.Task[None]] = []
            try:
                await server.wait_ready()
                orgs = signers(ORGS)
                registrations = [s.registration(s.org_id) for s in orgs]
                await post_all(server.url, [[msgspec.json.encode(e.to_json())
                                             for e in registrations]])
                # After each step, a key added to org-001: an entry every stream client
                # sees (the anonymous one sees only organizations and public agreements).
                marker = (1, event_hash(registrations[0].payload_bytes()))
                conn = await asyncpg.connect(dsn)
                try:
                    auditor, _ = await create_token(conn, "auditor", "memory bench")
                finally:
                    await conn.close()
                counts: dict[str, int] = {}
                tasks = [asyncio.create_task(sse_client(server.url, auditor, counts, "auditor")),
                         asyncio.create_task(sse_client(server.url, None, counts, "anonymous"))]
                rss0, _ = memory(server.proc.pid)
                print(f"started: RSS {rss0:.0f} MiB", flush=True)
                size, agreements, seed = ORGS, 0, 1
                print("| events | agreements | fill (s) | RSS after reads (MiB) | peak RSS (MiB) "
                      "| not 200 |", flush=True)
                print("|---:|---:|---:|---:|---:|---:|", flush=True)
                for target in steps:
                    t0 = time.perf_counter()
                    while size < target:
                        batches, n = await asyncio.to_thread(
                            cohort, agreements, min(COHORT_EVENTS, target - size), seed)
                        await asyncio.gather(*[post_all(server.url, b) for b in batches])
                        size += sum(len(batch) for w in batches for batch in w)
                        agreements += n
                        seed += 1
                    fill = time.perf_counter() - t0
                    await wait_projections(dsn, size)
                    bad = await read_everything(server.url, auditor, agreements)
                    key_added = orgs[0].key_addition(
                        marker[0] + 1, marker[1], private_key_from_seed(
                            (1000 + marker[0]).to_bytes(32, "big")))
                    marker = (marker[0] + 1, event_hash(key_added.payload_bytes()))
                    await post_all(server.url, [[msgspec.json.encode(key_added.to_json())]])
                    size += 1
                    deadline = time.monotonic() + 600  # the SSE clients have read it all
                    while min(counts.get("auditor", -1), counts.get("anonymous", -1)) \
                            < size - 1:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"the stream clients are behind: {counts}")
                        await asyncio.sleep(0.5)
                    gc.collect()
                    rss, hwm = memory(server.proc.pid)
                    print(f"| {size:,} | {agreements:,} | {fill:.0f} | {rss:.0f} | {hwm:.0f} "
                          f"| {bad} |", flush=True)
                with open("/proc/loadavg") as f:
                    print(f"load average at end: {f.read().split()[:3]}", flush=True)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                server.stop()


def states() -> None:
    """Bytes of folded agreement states per event (tracemalloc), by length."""
    histories = lives(40_000, seed=3)
    print(f"{len(histories)} agreements of the workload")
    for length in (10, 100, 400, None):
        gc.collect()
        tracemalloc.start()
        folded, events = [], 0
        for h in histories:
            state = initial_state()
            part = h if length is None else h[:length]
            for i, (actor, type_, data, at) in enumerate(part):
                state = evolve(state, Fact(type_, msgspec.json.decode(
                    msgspec.json.encode(data)), actor, at, i + 1))
            events += len(part)
            folded.append(state)
        used, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"first {length or 'all'} events: {used // len(folded):,} bytes per state, "
              f"{used // events:,} per event")
        del folded


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10_000, 100_000, 500_000])
    parser.add_argument("--cache-env", action="append", default=[],
                        help="NAME=VALUE passed to the server (LEDGER_CACHE_…)")
    parser.add_argument("--states", action="store_true",
                        help="measure folded states' memory instead")
    args = parser.parse_args()
    if args.states:
        states()
    else:
        asyncio.run(main(args.steps, dict(e.split("=", 1) for e in args.cache_env)))
