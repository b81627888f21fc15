"""Does the ledger stay as fast as it grows? Latency and memory of a real ``ledger
serve`` at 10k, 100k, 500k and 1M events of the realistic workload.

The log is filled with agreement lives decided by the rules (``bench/_workload.py``:
about 420 events per agreement, ~840-byte envelopes, interleaved across agreements,
every event signed by its organization). Between sizes the server is stopped and the
next events are appended through the store in process, in batches of 5,000 (every
signature, stream chain and key verified; the agreement rules, which ``ledger serve``
puts at the door, are not run again: the events were decided by them); generating
and signing them, and appending them, are timed and printed. The last events of the
newest agreements (``--appends`` in all, the end of their year of fulfilments) are
held back from the fill and appended over HTTP as the measured appends, so the log
reaches the size with them.

At each size, ``ledger serve`` (one process) is started on the log (its start-up,
which checks what its last checkpoint does not cover, is timed: after each fill a
checkpoint is signed with the log key, as the served ledger would have signed one),
the projections are left to catch up and the background check of the whole history
to pass, then:

* appends: 16 clients, each with its own agreements, single-event ``POST /v1/events``
  one after another; latency from sending a request to its last byte; the first append
  to each agreement since the start folds it from its snapshot (a cold one), so the
  p99 of the others (warm) is printed apart, and the number of agreements appended to
  (which grows with the size: the newest block of agreement lives);
* first reads: ``GET /v1/agreements/{id}`` (auditor token) of every agreement once, in
  random order, 16 connections: the server has just started, so each is a cold read;
* agreement reads: the same, the agreement drawn uniformly over all agreements of the
  log, 16 connections, ``--seconds`` (the server keeps 128 folded states and 4,096
  compressed answers within their byte bounds, ``ledger.config.Caches``: an agreement
  whose answer was let go is a cold read);
* inclusion proofs: ``GET /v1/log/proof/inclusion`` of a uniformly drawn position in
  the tree of the current size (auditor token), 16 connections, ``--seconds``;
* the server's resident memory (``VmRSS``, and its peak ``VmHWM``) after all that.

The load average is printed before and after each measurement: on a shared machine
the latencies follow the neighbours' load.

Run: python bench/growth.py [--sizes 10000,100000,500000,1000000] [--appends N]
     [--seconds S] [--profile FILE]   (py-spy, during the appends at the largest size)
     [--setting LEDGER_NAME=VALUE ...]  (the server's settings, e.g. its cache bounds)
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
import random
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from _fill import append_all, settle, sign_checkpoint
from _serve import (
    SERVER_SETTINGS,
    Server,
    get_request,
    load,
    percentile,
    post_request,
    read_response,
    start_profile,
    stop_profile,
)
from _setup import admin_dsn, fresh_database, machine
from _workload import lives, per_client, signed

from ledger.db import APP_ROLE
from ledger.envelope import Envelope
from ledger.tokens import create_token

CLIENTS = 16
SUB = 50_000  # events generated, signed and appended at a time (bounded memory)


class Progress:
    """A one-line progress report (events done, rate, time left), on stderr."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done = what, total, 0
        self.t0 = self.last = time.perf_counter()

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last < 2 and self.done < self.total:
            return
        self.last = now
        rate = self.done / max(now - self.t0, 1e-9)
        left = (self.total - self.done) / rate if rate else 0
        width = 30
        bar = "#" * int(width * self.done / self.total)
        print(f"\r  {self.what} [{bar:<{width}}] {self.done:,}/{self.total:,} "
              f"{rate:,.0f}/s, {left:,.0f} s left   ", end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        print(file=sys.stderr, flush=True)


class Log:
    """What the benchmark has put in the log so far."""

    def __init__(self) -> None:
        self.events = 0  # agreement events (the 60 registrations not counted)
        self.agreements: list[str] = []
        self.blocks = 0
        self.appended_to = 0  # agreements the measured appends go to


def make(n: int, first: int) -> tuple[list[int], list[tuple[int, Envelope]], float]:
    """About ``n`` events of new lives (agreements numbered from ``first``), signed: each
    life's length, the events in log order with their life's index, the seconds spent.
    Runs in a worker process, beside the appends of the previous ones."""
    t0 = time.perf_counter()
    histories = lives(n, seed=first + 1, first=first)
    events = signed(histories, first=first)
    return [len(h) for h in histories], events, time.perf_counter() - t0


async def fill(dsn: str, log: Log, target: int, hold: int, first_fill: bool,
               ) -> tuple[list[list[Envelope]], float, float]:
    """Append events until the log holds ``target`` agreement events minus the held
    back ones, returned per client. Seconds spent generating + signing (in a worker
    process, overlapping the appends), appending."""
    need = target - log.events
    progress = Progress(f"fill to {target:,}", need)
    made = appended = 0.0
    held: list[list[Envelope]] = [[] for _ in range(CLIENTS)]
    register = first_fill
    loop = asyncio.get_running_loop()

    def submit(pool: ProcessPoolExecutor, left: int) -> asyncio.Future[Any]:
        first = log.blocks * 1000  # at most a few hundred lives per block
        log.blocks += 1
        return loop.run_in_executor(pool, make, left if left <= SUB * 1.5 else SUB, first)

    with ProcessPoolExecutor(1) as pool:
        pending: asyncio.Future[Any] | None = submit(pool, need) if need > 0 else None
        while pending is not None:
            lens, events, seconds = await pending
            made += seconds
            first = (log.blocks - 1) * 1000
            need -= len(events)
            last = need <= 0
            pending = None if last else submit(pool, need)
            keep: list[tuple[int, Envelope]] = []
            if last:  # hold back the last events of each agreement: the measured appends
                per = -(-hold // len(lens))
                cut = [n - min(per, n - 1) for n in lens]
                version = [0] * len(lens)
                rest = []
                for a, env in events:
                    version[a] += 1
                    (keep if version[a] > cut[a] else rest).append((a, env))
                events = rest
            t0 = time.perf_counter()
            await append_all(dsn, [env for _, env in events], register=register,
                             progress=progress)
            appended += time.perf_counter() - t0
            register = False
            log.agreements += [f"ent-{first + a:05d}" for a in range(len(lens))]
            log.events += len(events) + len(keep)  # the kept ones appended over HTTP
            if keep:
                held = per_client(keep, CLIENTS)
                log.appended_to = len({a for a, _ in keep})
    progress.end()
    return held, made, appended


async def auditor_token(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET ROLE {APP_ROLE}")
        token, _ = await create_token(conn, "auditor", "bench-growth")
        return token
    finally:
        await conn.close()


async def caught_up(dsn: str, timeout: float = 900) -> float:
    """Wait until the projections have read the whole log; the seconds it took."""
    t0 = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        while time.perf_counter() - t0 < timeout:
            size = await conn.fetchval("SELECT coalesce(max(position) + 1, 0) FROM events")
            done = await conn.fetchval("SELECT min(position) FROM projection_checkpoint")
            if done is not None and done >= size:
                break
            await asyncio.sleep(0.5)
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def appends(port: int, work: list[list[Envelope]]
                  ) -> tuple[list[float], float, int, str | None, list[float]]:
    """Latencies of single-event appends, the rate, refusals and the first one, and the
    latencies of the appends that were not the first to their agreement since the start
    (warm: the server holds the agreement; the first one folds it from its snapshot)."""
    requests = [[(post_request(port, "/v1/events", msgspec.json.encode(
        {"events": [e.to_json()]})), msgspec.json.decode(e.payload_bytes())["stream"])
        for e in mine] for mine in work]
    latencies: list[float] = []
    warm: list[float] = []
    refused = 0
    first: str | None = None

    async def client(mine: list[tuple[bytes, str]]) -> None:
        nonlocal refused, first
        seen: set[str] = set()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request, stream in mine:
                t = time.perf_counter()
                writer.write(request)
                status, body = await read_response(reader)
                latencies.append(time.perf_counter() - t)
                if stream in seen:
                    warm.append(latencies[-1])
                seen.add(stream)
                if status != 201:
                    refused += 1
                    first = first or f"{status} {body[:300].decode()}"
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[client(r) for r in requests if r])
    return latencies, len(latencies) / (time.perf_counter() - t0), refused, first, warm


async def gets(port: int, paths: list[str], token: str, seconds: float | None,
               ) -> tuple[list[float], float, int, float]:
    """``CLIENTS`` connections, each GET a path drawn uniformly from ``paths`` until
    ``seconds`` passed (None: each path once, in random order): latencies, rate,
    non-200 answers, mean answer bytes."""
    latencies: list[float] = []
    errors = received = 0
    rng = random.Random(5)
    stop_at = time.perf_counter() + (seconds if seconds is not None else 1e9)
    queue = rng.sample(paths, len(paths)) if seconds is None else None

    async def connection() -> None:
        nonlocal errors, received
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                if queue is not None and not queue:
                    break
                path = queue.pop() if queue is not None else rng.choice(paths)
                request = get_request(port, path, token)
                t = time.perf_counter()
                writer.write(request)
                status, body = await read_response(reader)
                received += len(body)
                latencies.append(time.perf_counter() - t)
                errors += status != 200
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*[connection() for _ in range(CLIENTS)])
    return (latencies, len(latencies) / (time.perf_counter() - t0), errors,
            received / max(len(latencies), 1))


def memory(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of ``pid`` and its descendants, MiB."""
    from _serve import process_tree
    tree, _ = process_tree(pid)
    rss = hwm = 0
    for member in tree:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, hwm / 1024


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f}" if len(values) > 10 else "—"


async def measure(dsn: str, home: Path, log: Log, held: list[list[Envelope]],
                  seconds: float, profile: str | None,
                  settings: dict[str, str] | None = None) -> dict[str, str]:
    row: dict[str, str] = {"size": f"{log.events + 60:,}",
                           "agreements": f"{len(log.agreements):,}"}
    server = Server(dsn, home, extra=settings)
    spy: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.perf_counter()
        await server.wait_ready()
        row["start"] = f"{time.perf_counter() - t0:.1f}"
        row["catch-up"] = f"{await caught_up(dsn):.1f}"
        checked = await server.history_checked()
        token = await auditor_token(dsn)
        print(f"  server ready in {row['start']} s, projections caught up "
              f"{row['catch-up']} s later, the background history check passed "
              f"{checked:.1f} s after that; load {load()}", flush=True)
        if profile:
            spy = start_profile(server.proc.pid, profile)
        before = load()
        lat, rate, refused, first, warm = await appends(server.port, held)
        if spy is not None:
            stop_profile(spy, profile)
            spy = None
        print(f"  appends: {len(lat):,} single events to {log.appended_to:,} agreements "
              f"(the first to each is a cold one), {rate:,.0f}/s, p50 {ms(lat, .5)} ms,"
              f" p99 {ms(lat, .99)} ms; the {len(warm):,} warm ones p50 {ms(warm, .5)}, "
              f"p99 {ms(warm, .99)} ms" + (f"; {refused} REFUSED, first: {first}"
                                           if refused else "")
              + f"; load {before} -> {load()}", flush=True)
        row.update({"append rate": f"{rate:,.0f}", "append p50": ms(lat, .5),
                    "append p99": ms(lat, .99), "warm append p99": ms(warm, .99)})
        await caught_up(dsn)
        size = log.events + 60
        before = load()
        paths = [f"/v1/agreements/{a}" for a in log.agreements]
        lat, rate, errors, body = await gets(server.port, paths, token, None)
        print(f"  first read of each agreement since the start ({len(paths):,}, "
              f"{body / 1024:,.0f} KiB answers): {rate:,.0f}/s, p50 {ms(lat, .5)} ms, "
              f"p99 {ms(lat, .99)} ms" + (f", {errors} non-200" if errors else "")
              + f"; load {before} -> {load()}", flush=True)
        row.update({"first read p50": ms(lat, .5), "first read p99": ms(lat, .99)})
        before = load()
        lat, rate, errors, body = await gets(server.port, paths, token, seconds)
        print(f"  agreement reads (uniform over {len(paths):,}, {body / 1024:,.0f} KiB "
              f"answers): {rate:,.0f}/s, p50 "
              f"{ms(lat, .5)} ms, p99 {ms(lat, .99)} ms"
              + (f", {errors} non-200" if errors else "") + f"; load {before} -> {load()}",
              flush=True)
        row.update({"read rate": f"{rate:,.0f}", "read p50": ms(lat, .5),
                    "read p99": ms(lat, .99)})
        before = load()
        paths = [f"/v1/log/proof/inclusion?index={i}&size={size}"
                 for i in random.Random(size).sample(range(size), min(size, 5000))]
        lat, rate, errors, _ = await gets(server.port, paths, token, seconds)
        print(f"  inclusion proofs (of {size:,}): {rate:,.0f}/s, p50 {ms(lat, .5)} ms, "
              f"p99 {ms(lat, .99)} ms" + (f", {errors} non-200" if errors else "")
              + f"; load {before} -> {load()}", flush=True)
        row.update({"proof rate": f"{rate:,.0f}", "proof p50": ms(lat, .5),
                    "proof p99": ms(lat, .99)})
        rss, hwm = memory(server.proc.pid)
        print(f"  server memory: RSS {rss:,.0f} MiB, peak {hwm:,.0f} MiB", flush=True)
        row.update({"RSS MiB": f"{rss:,.0f}", "peak MiB": f"{hwm:,.0f}", "load": load()})
        return row
    finally:
        if spy is not None and spy.poll() is None:
            spy.kill()
        await asyncio.to_thread(server.stop)


COLUMNS = ["size", "agreements", "fill s", "start", "catch-up", "append rate", "append p50",
           "append p99", "warm append p99", "first read p50", "first read p99", "read rate",
           "read p50", "read p99", "proof rate", "proof p50", "proof p99",
           "RSS MiB", "peak MiB", "load"]


async def main(sizes: list[int], hold: int, seconds: float, profile: str | None,
               settings: dict[str, str]) -> None:
    rows = []
    log = Log()
    with admin_dsn() as (admin, label), tempfile.TemporaryDirectory(
            prefix="ledger-bench-growth-") as tmp:
        print(f"setup: {machine()}; {label}; `ledger serve` (one process) with "
              + ", ".join(f"{k}={v}" for k, v in {**SERVER_SETTINGS, **settings}.items())
              + f"; {CLIENTS} clients; load {load()} at start", flush=True)
        async with fresh_database(admin) as dsn:
            for target in sizes:
                print(f"size {target:,}:", flush=True)
                held, made, appended = await fill(dsn, log, target, hold, not rows)
                t0 = time.perf_counter()
                await settle(dsn)
                settled = time.perf_counter() - t0
                signed = await sign_checkpoint(dsn, Path(tmp) / "home" / "log-key.pem")
                filled = log.events - sum(map(len, held))
                print(f"  filled to {filled:,} agreement events in {len(log.agreements):,} "
                      f"agreements: generate + sign {made:.0f} s, append through the "
                      f"store {appended:.0f} s, VACUUM ANALYZE {settled:.0f} s; "
                      f"checkpoint signed at {signed or 'none (no log key yet)'}; "
                      f"load {load()}", flush=True)
                row = await measure(dsn, Path(tmp) / "home", log, held, seconds,
                                    profile if target == sizes[-1] else None, settings)
                row["fill s"] = f"{made:.0f}+{appended:.0f}"
                rows.append(row)
    print("\n| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("---" for _ in COLUMNS) + "|")
    for row in rows:
        print("| " + " | ".join(row.get(c, "—") for c in COLUMNS) + " |")
    print("(latencies in ms; start: server start-up to ready, s; catch-up: projections "
          "after ready, s; fill s: generate+sign, append, since the previous size)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,500000,1000000",
                        help="log sizes in agreement events, comma-separated")
    parser.add_argument("--appends", type=int, default=2000,
                        help="single-event appends measured at each size")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="duration of each read measurement")
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy raw profile of the server during the appends at "
                             "the largest size (needs py-spy)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the server (e.g. LEDGER_CACHE_ANSWERS_MIB=64); "
                             "repeatable")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.setting)
    if not all(name.startswith("LEDGER_") for name in extra):
        parser.error("--setting takes LEDGER_… settings, as NAME=VALUE")
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.appends, args.seconds,
                     args.profile, extra))
