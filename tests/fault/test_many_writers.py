"""16 writers × 1,000 events over HTTP against a real ``ledger serve``.

8 writers each own a stream (their organization's ``org/`` stream); 8 more share two
streams, four per stream, all signing with that organization's key: they race for
every version. On 409 a writer re-signs its batch on top of the ``current_version`` and
``head_hash`` the problem document carries. Every event carries (writer, n) so that,
afterwards, each writer's 0..999 is found exactly once: nothing lost, nothing
duplicated; versions are contiguous, prev hashes chain (no fork), positions gapless,
every receipt matches what is stored.

An SSE follower (``GET /v1/stream?after=-1``, auditor token) reads the log while it is
written and must see every entry once, in order (any answer but 200 fails the test).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ledger.signer import Signer
from tests.fault.support import (
    ServerProcess,
    Stats,
    auditor_token,
    batch_body,
    check_log,
    check_receipts,
    fetch_log,
    post,
    stopping,
)
from tests.helpers import hash_of, org

pytestmark = [pytest.mark.pg, pytest.mark.fault]

OWN_WRITERS = 8
SHARED_STREAMS = 2
WRITERS_PER_SHARED = 4
PER_WRITER = 1000
OWN_BATCH = 10
SHARED_BATCH = 10
TYPE = "organization.profile_updated"


@dataclass
class Head:
    version: int
    hash: str | None


@dataclass
class Writer:
    name: str
    signer: Signer
    head: Head  # this writer's view of its stream's head
    batch: int
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    conflicts: int = 0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)

    async def run(self, http: httpx.AsyncClient, deadline: float) -> None:
        done = 0
        stream = self.signer.stream
        while done < PER_WRITER:
            k = min(self.batch, PER_WRITER - done)
            envelopes, version, prev = [], self.head.version, self.head.hash
            for j in range(k):
                env = self.signer.event(stream, version + 1, prev, TYPE,
                                        {"profile": {"sector": self.name,
                                                     "description": str(done + j)}})
                envelopes.append(env)
                version, prev = version + 1, hash_of(env)
            started = time.monotonic()
            r = await post(http, batch_body(envelopes), self.stats, deadline=deadline,
                           accept=(201, 409))
            self.requests += 1
            self.latencies.append(time.monotonic() - started)
            if r.status_code == 409:
                # Someone else took the version: re-sign on top of the head it names.
                doc = r.json()
                assert doc["stream"] == stream and doc["index"] == 0, doc
                self.head = Head(doc["current_version"], doc["head_hash"])
                self.conflicts += 1
                continue
            for env, receipt in zip(envelopes, r.json()["receipts"], strict=True):
                assert receipt["event_hash"] == hash_of(env)
                self.receipts[receipt["event_hash"]] = receipt
            self.head = Head(version, prev)
            done += k


@dataclass
class Follower:
    """Reads ``GET /v1/stream?after=-1`` until it has seen ``want`` entries."""

    url: str
    token: str
    seen: list[tuple[int, int, str]] = field(default_factory=list)  # (id, index, hash)
    error: str | None = None
    want: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(10, read=30)
        try:
            async with httpx.AsyncClient(base_url=self.url, timeout=timeout) as http, \
                    http.stream("GET", "/v1/stream", params={"after": -1},
                                headers=headers) as r:
                if r.status_code != 200:
                    self.error = f"GET /v1/stream answered {r.status_code}: {await r.aread()!r}"
                    return
                event: dict[str, str] = {}
                async for line in r.aiter_lines():
                    if line == "":
                        if "data" in event:
                            self._entry(event)
                        event = {}
                        if self.want is not None and len(self.seen) >= self.want:
                            return
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        event[name] = event[name] + "\n" + value if name in event else value
        except (httpx.HTTPError, ValueError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def _entry(self, event: dict[str, str]) -> None:
        if event.get("event", "message") != "entry":
            return
        data = json.loads(event["data"])
        self.seen.append((int(event.get("id", -1)), int(data["index"]), data["event_hash"]))


async def _profiles(dsn: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT statement->'data'->'profile'->>'sector' AS w, "
            "(statement->'data'->'profile'->>'description')::int AS n FROM events "
            "WHERE type = $1", TYPE)
    finally:
        await conn.close()
    return [(r["w"], r["n"]) for r in rows]


@pytest.mark.stress
@pytest.mark.timeout(300)  # 16,000 events through a real server
async def test_sixteen_writers_a_thousand_events_each(database: str, tmp_path: Path):
    server = ServerProcess(database, tmp_path / "home", tmp_path / "serve.log",
                           LEDGER_WRITES_PER_KEY_PER_SECOND="1000000",
                           LEDGER_CHECKPOINT_INTERVAL="0.5")
    own = [org(f"own-{i}") for i in range(OWN_WRITERS)]
    shared = [org(f"shared-{i}") for i in range(SHARED_STREAMS)]
    registrations = [s.registration(s.org_id) for s in own + shared]
    heads = {s.org_id: Head(1, hash_of(reg)) for s, reg in zip(own + shared, registrations,
                                                               strict=True)}
    writers = [Writer(s.org_id, s, heads[s.org_id], OWN_BATCH) for s in own]
    writers += [Writer(f"{s.org_id}-w{j}", s, heads[s.org_id], SHARED_BATCH)
                for s in shared for j in range(WRITERS_PER_SHARED)]
    total = len(registrations) + len(writers) * PER_WRITER
    with stopping(server):
        server.start()
        await server.wait_ready()
        follower = Follower(server.url, await auditor_token(database), want=total)
        follow = asyncio.create_task(follower.run())
        limits = httpx.Limits(max_connections=len(writers) + 4)
        async with httpx.AsyncClient(base_url=server.url, timeout=30, limits=limits) as http:
            r = await http.post("/v1/events", content=batch_body(registrations),
                                headers={"content-type": "application/json"})
            assert r.status_code == 201, r.text
            started = time.monotonic()
            deadline = started + 240
            outcomes = await asyncio.gather(*(w.run(http, deadline) for w in writers),
                                            return_exceptions=True)
            elapsed = time.monotonic() - started
        failures = [repr(o) for o in outcomes if isinstance(o, BaseException)]
        assert not failures, f"writers failed: {failures[:3]}\n{server.tail()}"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(follower.done.wait(), 30)
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
        rows = await fetch_log(database)
        profiles = await _profiles(database)

    stats = Stats()
    receipts: dict[str, dict[str, Any]] = {}
    for w in writers:
        stats.merge(w.stats)
        receipts.update(w.receipts)
    latencies = sorted(x for w in writers for x in w.latencies)
    shape = check_log(rows)
    check_receipts(rows, receipts)
    assert len(rows) == total, f"log holds {len(rows)} entries, expected {total}"
    per_writer: dict[str, list[int]] = {}
    for w_name, n in profiles:
        per_writer.setdefault(w_name, []).append(n)
    for w in writers:
        got = sorted(per_writer.get(w.name, []))
        assert got == list(range(PER_WRITER)), \
            f"{w.name}: {PER_WRITER - len(set(got))} lost, {len(got) - len(set(got))} duplicated"
    own_conflicts = sum(w.conflicts for w in writers[:OWN_WRITERS])
    shared_conflicts = sum(w.conflicts for w in writers[OWN_WRITERS:])
    requests = sum(w.requests for w in writers)
    print(f"\n[writers] {len(writers)} writers x {PER_WRITER} events ({OWN_WRITERS} on own "
          f"streams, batches of {OWN_BATCH}; {SHARED_STREAMS * WRITERS_PER_SHARED} on "
          f"{SHARED_STREAMS} shared streams, batches of {SHARED_BATCH}): {total - 10} events in "
          f"{elapsed:.1f} s = {(total - 10) / elapsed:,.0f} events/s over {requests} requests "
          f"({requests / elapsed:,.0f}/s); 409 conflicts re-signed: shared {shared_conflicts}, "
          f"own {own_conflicts}; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms, max "
          f"{latencies[-1] * 1000:.0f} ms; statuses={dict(stats.statuses)}; log "
          f"{shape['entries']} entries, {shape['streams']} streams: gapless, contiguous, "
          f"unforked; 0 lost, 0 duplicated")
    assert own_conflicts == 0
    assert stats.statuses[500] == 0 and not stats.unexpected, stats.unexpected[:3]

    assert follower.error is None, follower.error
    ids = [s[0] for s in follower.seen]
    print(f"[writers] SSE follower saw {len(follower.seen)} of {len(rows)} entries, "
          f"{len(set(ids))} distinct, in order: {ids == sorted(ids)}")
    assert ids == list(range(len(rows))), "the SSE follower missed, repeated or reordered"
    assert [s[1] for s in follower.seen] == ids
    assert [s[2] for s in follower.seen] == [r.event_hash for r in rows]
