"""``GET /v1/stream`` against a real ``ledger serve`` process (SSE through the in-process
test client can block): live entries in order and once each, resumption without gap or
duplicate, the agreement filter, who sees what, the fall-back to polling when the
listener connection drops, and SIGTERM ending open streams. The server is always
stopped, in ``finally``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ledger.api.controllers.stream import LISTENER_NAME, StreamHub
from ledger.db import APP_ROLE
from ledger.envelope import Envelope
from ledger.runtime import open_ledger
from ledger.store import PostgresStore
from ledger.tokens import create_token
from tests.api.conftest import PROBLEM, Agreement, body, settings_for
from tests.api.test_serve import _free_port, _stop, _wait_until_healthy
from tests.helpers import LEDGER_ID, Chain, hash_of, org

pytestmark = pytest.mark.pg

HEARTBEAT = 0.5  # seconds, set on the server so that "caught up" shows quickly
WAIT = 10.0  # seconds to wait for an expected event


@dataclass
class Server:
    url: str
    dsn: str
    proc: subprocess.Popen[bytes]
    log: Path
    http: httpx.AsyncClient = field(init=False)

    async def token(self, kind: str, subject: str) -> dict[str, str]:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f"SET ROLE {APP_ROLE}")
            token, _ = await create_token(conn, kind, subject)
        finally:
            await conn.close()
        return {"Authorization": f"Bearer {token}"}

    async def append(self, *envelopes: Envelope) -> list[dict[str, Any]]:
        r = await self.http.post("/v1/events", json=body(*envelopes))
        assert r.status_code == 201, r.text
        receipts: list[dict[str, Any]] = r.json()["receipts"]
        return receipts


@contextlib.asynccontextmanager
async def serve(dsn: str, home: Path) -> AsyncIterator[Server]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(DATABASE_URL=dsn, LEDGER_HOME=str(home), LEDGER_ORIGIN=LEDGER_ID,
               LEDGER_OPEN_REGISTRATION="1",
               LEDGER_CHECKPOINT_INTERVAL="1", LEDGER_SSE_HEARTBEAT_SECONDS=str(HEARTBEAT),
               LEDGER_WRITES_PER_KEY_PER_SECOND="100000")
    log = home.parent / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "serve", "--port", str(port),
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", dsn, proc, log)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            server.http = http
            await _wait_until_healthy(http, proc, log)
            yield server
    finally:
        await asyncio.to_thread(_stop, proc)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture
async def server(database: str, tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(database, tmp_path / "home") as s:
        yield s


# --- an SSE client -----------------------------------------------------------------------


@dataclass
class Sse:
    """One open stream; ``next()`` returns the next event or comment as a dict."""

    lines: AsyncIterator[str]

    async def next(self, timeout: float = WAIT) -> dict[str, Any]:
        return await asyncio.wait_for(self._next(), timeout)

    async def _next(self) -> dict[str, Any]:
        event: dict[str, Any] = {}
        async for line in self.lines:
            if line == "":
                if event:
                    return event
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                event.setdefault("comment", value)
            elif name == "data":
                event["data"] = json.loads(value)
            else:
                event[name] = value
        raise EOFError("the stream ended")

    async def entry(self) -> dict[str, Any]:
        """The next entry, skipping heartbeats."""
        while True:
            event = await self.next()
            if event.get("event") == "entry":
                return event

    async def exactly(self, want: list[int]) -> list[dict[str, Any]]:
        """The entries at these positions and nothing more: once they came, the next
        thing the (now idle) server sends is a heartbeat."""
        got = [await self.entry() for _ in want]
        assert positions(got) == want
        extra = await self.next()
        assert "comment" in extra, f"one entry too many: {extra}"
        return got


@contextlib.asynccontextmanager
async def sse(server: Server, headers: dict[str, str] | None = None,
              **params: Any) -> AsyncIterator[Sse]:
    async with server.http.stream("GET", "/v1/stream", headers=headers or {},
                                  params=params) as r:
        assert r.status_code == 200, (await r.aread()).decode()
        assert r.headers["content-type"].startswith("text/event-stream")
        stream = Sse(r.aiter_lines())
        first = await stream.next()  # the server is subscribed once this arrives
        assert first == {"retry": "2000"}
        yield stream


def positions(events: list[dict[str, Any]]) -> list[int]:
    return [int(e["id"]) for e in events]


# --- the tests ---------------------------------------------------------------------------


async def test_live_entries_in_order_once_then_resume_without_gap(server: Server):
    auditor = await server.token("auditor", "cour-des-comptes")
    a = org("centre-arts")
    draft = Agreement(a, "ateliers")
    await server.append(a.registration("Centre d'arts"))
    async with sse(server, auditor) as stream:
        receipts = []
        receipts += await server.append(draft.next())
        receipts += await server.append(*[draft.next() for _ in range(5)])
        for _ in range(4):
            receipts += await server.append(draft.next())
        got = [await stream.entry() for _ in receipts]
        assert positions(got) == [r["position"] for r in receipts] == list(range(1, 11))
        first = got[0]["data"]
        assert first.keys() == {"index", "stream", "version", "type", "actor", "event_hash",
                                "recorded_at", "envelope"}
        assert first["index"] == 1 and first["stream"] == "agreement/ateliers"
        assert (first["type"], first["actor"], first["version"]) == \
            ("agreement.drafted", "centre-arts", 1)
        assert first["event_hash"] == receipts[0]["event_hash"]
        assert first["recorded_at"] == receipts[0]["recorded_at"]
        assert first["envelope"]["signatures"][0]["keyid"]
        assert got[0]["event"] == "entry"
        assert (await stream.next())["comment"] == "heartbeat"  # nothing more, once each

    more = [r for _ in range(5) for r in await server.append(draft.next())]
    async with sse(server, auditor | {"Last-Event-ID": "7"}) as stream:
        await stream.exactly(list(range(8, 16)))
        late = await server.append(draft.next())
        assert int((await stream.entry())["id"]) == late[0]["position"] == 16
    async with sse(server, auditor, after=13) as stream:  # the query form
        await stream.exactly([14, 15, 16])
    async with sse(server, auditor | {"Last-Event-ID": "14"}, after=2) as stream:
        await stream.exactly([15, 16])  # header wins
    async with sse(server, auditor, after=-1) as stream:
        await stream.exactly(list(range(17)))
    assert more[-1]["position"] == 15


async def test_catching_up_reads_page_after_page(server: Server):
    a = org("centre-arts")
    registration = a.registration("A")
    chain = Chain(a, "org/centre-arts", version=1, head=hash_of(registration))
    await server.append(registration)
    for _ in range(3):  # 1,201 entries: three pages and a bit
        await server.append(*[_profile(chain, f"n{chain.version}") for _ in range(400)])
    async with sse(server, after=-1) as stream:
        await stream.exactly(list(range(1201)))
    async with sse(server, {"Last-Event-ID": "499"}) as stream:
        await stream.exactly(list(range(500, 1201)))


async def test_who_sees_what_and_the_agreement_filter(server: Server):
    a, b, c = org("centre-arts"), org("theatre"), org("festival")
    await server.append(a.registration("A"), b.registration("B"), c.registration("C"))
    private = Agreement(a, "prive")
    public = Agreement(b, "public")
    draft_public = public.next("agreement.drafted", {
        "agreement_id": "public", "title": "Public", "purpose": "Partager", "binding": False,
        "public": True})
    await server.append(private.next(), draft_public, private.next(), public.next())
    # positions: 0-2 org streams, 3 and 5 private, 4 and 6 public
    tokens = {
        "anonymous": {},
        "festival": await server.token("org", "festival"),
        "centre-arts": await server.token("org", "centre-arts"),
        "auditor": await server.token("auditor", "cour-des-comptes"),
        "trust": await server.token("trust", "witness"),
    }
    sees = {"anonymous": [0, 1, 2, 4, 6], "festival": [0, 1, 2, 4, 6],
            "centre-arts": list(range(7)), "auditor": list(range(7)),
            "trust": [0, 1, 2, 4, 6]}  # a trust without consent: what is public
    for who, headers in tokens.items():
        async with sse(server, headers, after=-1) as stream:
            await stream.exactly(sees[who])

    # live: an organization's stream never carries another agreement's private entries
    async with sse(server, tokens["festival"]) as stream:
        await server.append(private.next())
        pub = await server.append(public.next())
        got = await stream.entry()
        assert got["data"]["stream"] == "agreement/public"
        assert int(got["id"]) == pub[0]["position"]

    async with sse(server, tokens["centre-arts"], after=-1, agreement="prive") as stream:
        got = await stream.exactly([3, 5, 7])
        assert {e["data"]["stream"] for e in got} == {"agreement/prive"}
        await server.append(public.next())
        later = await server.append(private.next())
        assert int((await stream.entry())["id"]) == later[0]["position"]
    async with sse(server, after=-1, agreement="public") as stream:
        await stream.exactly([4, 6, 8, 9])

    r = await server.http.get("/v1/stream", params={"agreement": "prive"},
                              headers=tokens["festival"])
    _assert_problem(r, 403, "forbidden")
    r = await server.http.get("/v1/stream", params={"agreement": "prive"})
    _assert_problem(r, 401, "token-missing")
    r = await server.http.get("/v1/stream", params={"agreement": "nulle-part"})
    _assert_problem(r, 404, "not-found")


async def test_bad_requests_are_problems(server: Server):
    bad = {"Authorization": "Bearer ml_" + "A" * 43}
    _assert_problem(await server.http.get("/v1/stream", headers=bad), 401, "token-invalid")
    _assert_problem(await server.http.get("/v1/stream", headers={"Authorization": "Basic x"}),
                    401, "token-missing")
    _assert_problem(await server.http.get("/v1/stream", headers={"Last-Event-ID": "abc"}),
                    400, "request-malformed")
    _assert_problem(await server.http.get("/v1/stream", params={"after": -2}),
                    400, "request-invalid")
    _assert_problem(await server.http.get("/v1/stream", params={"agreement": "a b"}),
                    400, "request-invalid")


async def test_entries_of_other_processes_wake_streams_even_after_a_listener_drop(
        server: Server, store: PostgresStore):
    """``store`` is another writer on the same database: only the hub's LISTEN (or its
    polling) can tell the server about its commits."""
    a = org("centre-arts")
    registration = a.registration("A")
    chain = Chain(a, "org/centre-arts", version=1, head=hash_of(registration))
    admin = await asyncpg.connect(server.dsn)
    try:
        async with sse(server) as stream:
            assert await _listeners(admin) == 1  # one listener, whatever the streams
            async with sse(server):
                assert await _listeners(admin) == 1
            receipt, = await store.append([registration])
            assert int((await stream.entry())["id"]) == receipt.position
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = $1", LISTENER_NAME)
            receipt, = await store.append([_profile(chain, "while down")])
            assert int((await stream.entry())["id"]) == receipt.position
            deadline = time.monotonic() + WAIT
            while await _listeners(admin) != 1:  # listening again
                assert time.monotonic() < deadline, "the hub did not listen again"
                await asyncio.sleep(0.1)
            receipt, = await store.append([_profile(chain, "notified")])
            assert int((await stream.entry())["id"]) == receipt.position
    finally:
        await admin.close()


async def test_without_a_listener_connection_the_hub_polls(database: str, tmp_path: Path,
                                                           store: PostgresStore):
    settings = settings_for(tmp_path, database)
    async with open_ledger(settings, database, background=False) as ledger:
        unreachable = dataclasses.replace(ledger, dsn="postgresql://postgres@127.0.0.1:9/x")
        hub = StreamHub(unreachable, poll=0.2)
        try:
            await hub.ensure_started()  # ready on its first poll
            assert (hub.head, hub.listening) == (-1, False)
            changed = hub.waiter()
            await store.append([org("centre-arts").registration("A")])
            await asyncio.wait_for(changed.wait(), 3)
            assert hub.head == 0
            rows, upto = await hub.read_after(-1, None)
            assert [e.position for e in rows] == [0] and upto == 0
        finally:
            await hub.stop()
        assert hub.closing


async def test_sigterm_ends_open_streams_and_the_server_stops(database: str, tmp_path: Path):
    async with serve(database, tmp_path / "home") as server, sse(server) as stream:
        server.proc.terminate()
        t0 = time.monotonic()
        with pytest.raises((EOFError, httpx.RemoteProtocolError, httpx.ReadError)):
            while True:
                await stream.next()
        assert await asyncio.to_thread(server.proc.wait, 10) == 0
        assert time.monotonic() - t0 < 5


# --- helpers -----------------------------------------------------------------------------


def _profile(chain: Chain, note: str) -> Envelope:
    return chain.next("organization.profile_updated", {"profile": {"description": note}})


async def _listeners(admin: asyncpg.Connection) -> int:
    n: int = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LISTENER_NAME)
    return n


def _assert_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"] == PROBLEM + code, r.json()
