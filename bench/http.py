"""HTTP throughput of a real ``ledger serve`` (client and server on one machine).

* appends: 16 signing clients, each with its own organization, key and agreement
  streams (an agreement of 25 events, then the next), each posting single-event
  ``POST /v1/events`` one after another over its own keep-alive connection. Events are
  signed and each request serialized before timing (the clients' cost); every one
  goes through the agreement rules and the signature checks. Only events answered
  ``201`` count; any other answer is counted and the first one printed. Beside the
  rate, the server processes' CPU time per acknowledged event (user + system, read
  from ``/proc`` on Linux): on a shared machine the rate follows the neighbours' load,
  the CPU an append costs the server much less so.
* reads: ``GET /v1/agreements/{id}`` of a public agreement (the demo's, recorded through
  the API) on 32 concurrent keep-alive connections for ``--seconds``, after a second of
  warm-up; latency is from sending a request to its last byte, and any answer but 200
  is counted. Nothing is written meanwhile, so the server answers from its current
  state without reading the stream's head (see ``api/controllers/agreements.py``).

Both clients are minimal HTTP/1.1 clients on asyncio streams in this one Python
process, so that they cost the shared CPU far less than the server they measure.

The server runs on a fresh database (embedded PostgreSQL unless BENCH_DATABASE_URL) with
``--workers`` processes (default 1) and is always stopped. Nothing is asserted about
speed: the figures are printed as measured.

Run: python bench/http.py [--events N] [--seconds S] [--only appends|reads] [--workers N]
"""

from __future__ import annotations

import os
import sys

# Scripts here are named after what they measure (http.py, projections.py), which would
# shadow the standard library's ``http`` and the ``projections`` package: put the
# repository first and this folder (for _setup.py) last on the module search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import msgspec
from _serve import SERVER_SETTINGS, Server
from _serve import cpu_seconds as _cpu_seconds
from _serve import percentile as _percentile
from _serve import post_request as _post_request
from _serve import read_response as _read_response
from _setup import admin_dsn, fresh_database, machine, signers

from ledger.demo import run_demo
from ledger.envelope import Envelope
from ledger.signer import Signer
from ledger.statement import event_hash

WRITERS = 16
READERS = 32
AGREEMENT_EVENTS = 25  # events per agreement in the append test


# --- (a) appends -------------------------------------------------------------------------


def _agreement_events(signer: Signer, n: int) -> list[Envelope]:
    """``n`` events the rules admit: agreements of ``AGREEMENT_EVENTS`` events each (a
    draft, then revisions by the drafter), one after another, like a busy organization."""
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


async def appends(port: int, per_writer: int, server_pid: int,
                  ) -> tuple[float, int, int, str | None, float | None]:
    """Acknowledged events per second, events acknowledged, refused, first refusal,
    the server's CPU seconds per acknowledged event (None where it cannot be read)."""
    orgs = signers(WRITERS)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_post_request(port, "/v1/events", msgspec.json.encode(
            {"events": [o.registration(o.org_id).to_json() for o in orgs]})))
        status, body = await _read_response(reader)
    finally:
        writer.close()
    if status != 201:
        raise RuntimeError(f"registration refused: {status} {body.decode()}")
    # Signed and serialized before timing: the clients' own cost is not the server's.
    work = [[_post_request(port, "/v1/events",
                           msgspec.json.encode({"events": [e.to_json()]}))
             for e in _agreement_events(o, per_writer)] for o in orgs]
    acknowledged = refused = 0
    first_refusal: str | None = None

    async def client(requests: list[bytes]) -> None:
        nonlocal acknowledged, refused, first_refusal
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in requests:
                writer.write(request)
                status, body = await _read_response(reader)
                if status == 201:
                    acknowledged += 1
                else:
                    refused += 1
                    first_refusal = first_refusal or f"{status} {body[:300].decode()}"
        finally:
            writer.close()

    cpu0 = _cpu_seconds(server_pid)
    t0 = time.perf_counter()
    await asyncio.gather(*[client(w) for w in work])
    elapsed = time.perf_counter() - t0
    cpu1 = _cpu_seconds(server_pid)
    cpu = (cpu1 - cpu0) / acknowledged if cpu0 is not None and cpu1 is not None \
        and acknowledged else None
    return acknowledged / elapsed, acknowledged, refused, first_refusal, cpu


# --- (b) reads ---------------------------------------------------------------------------


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
                status, _ = await _read_response(reader)
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
    elapsed = time.perf_counter() - t0
    return len(latencies) / elapsed, latencies, errors


# --- main --------------------------------------------------------------------------------


async def main(events: int, seconds: float, only: str | None, workers: int) -> None:
    with admin_dsn() as (admin, label), tempfile.TemporaryDirectory(
            prefix="ledger-bench-http-") as tmp:
        processes = "one process" if workers == 1 else f"{workers} processes"
        print(f"setup: {machine()}; {label}; `ledger serve --workers {workers}` "
              f"({processes}, uvicorn with uvloop and httptools), the clients (one Python "
              f"process) and PostgreSQL on this machine, over 127.0.0.1; server settings "
              + ", ".join(f"{k}={v}" for k, v in SERVER_SETTINGS.items()))
        async with fresh_database(admin) as dsn:
            server = Server(dsn, Path(tmp) / "home", workers)
            try:
                await server.wait_ready()
                if only != "reads":
                    per_writer = max(events // WRITERS, 2)
                    rate, acked, refused, first, cpu = await appends(
                        server.port, per_writer, server.proc.pid)
                    print(f"appends: {WRITERS} signing clients (one keep-alive connection "
                          f"each), single-event POST /v1/events, {acked:,} of "
                          f"{WRITERS * per_writer:,} events acknowledged (201): "
                          f"{rate:,.0f} events/s"
                          + (f", server CPU {cpu * 1e6:,.0f} µs per event"
                             if cpu is not None else "")
                          + (f"; {refused:,} refused, first: {first}" if refused else ""))
                if only == "appends":
                    return
                demo = await asyncio.to_thread(run_demo, server.url, suffix="-bench")
                path = f"/v1/agreements/{demo.agreement_id}"
                rps, latencies, errors = await reads(server.port, path, seconds)
                print(f"reads: GET {path} (public, {len(demo.steps)} events), "
                      f"{READERS} connections, {seconds:.0f} s: {rps:,.0f} reads/s, "
                      f"p50 {_percentile(latencies, 0.50) * 1000:.2f} ms, "
                      f"p99 {_percentile(latencies, 0.99) * 1000:.2f} ms"
                      + (f", {errors} non-200 answers" if errors else ""))
            finally:
                await asyncio.to_thread(server.stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=16_000,
                        help="events appended in all (default 16,000)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="duration of the read test (default 10)")
    parser.add_argument("--only", choices=["appends", "reads"],
                        help="run one of the two tests only")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes (`ledger serve --workers`, default 1)")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.seconds, args.only, args.workers))
