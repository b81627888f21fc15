"""What the fault suites share: a real ``ledger serve`` process that can be killed and
restarted on the same port, database and log key; HTTP writers that retry the very same
signed envelopes (appends are idempotent); runs of the CLI; checks of the stored log.

Every process started here is stopped by its owner's ``finally`` (``ServerProcess.stop``
and ``Child.stop``), whatever happens to the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from ledger.db import APP_ROLE
from ledger.envelope import Envelope
from ledger.signer import Signer
from ledger.tokens import create_token
from tests.api.conftest import Agreement
from tests.helpers import LEDGER_ID, Chain, hash_of, org

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 45.0
PROBLEM_JSON = "application/problem+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_from_env(default: int | None = None) -> int:
    """``LEDGER_FAULT_SEED`` replays a run; otherwise a fresh seed (printed by callers)."""
    env = os.environ.get("LEDGER_FAULT_SEED")
    if env:
        return int(env)
    return default if default is not None else random.SystemRandom().randrange(1 << 30)


def child_env(database: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``ledger`` child process: this database, home and origin."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LEDGER_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=database, LEDGER_HOME=str(home), LEDGER_ORIGIN=LEDGER_ID,
               LEDGER_OPEN_REGISTRATION="1", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledger", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, cwd=REPO,
                          stdin=subprocess.DEVNULL)


# --- processes -----------------------------------------------------------------------


class Child:
    """A child process whose output goes to ``log`` (appended across restarts)."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         cwd=REPO)
        self.starts += 1

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """``kill -9`` this process (by its pid) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s. Safe to call at any time, twice."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, n: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-n:])


class ServerProcess(Child):
    """``ledger serve`` on a fixed free port, restartable with the same settings."""

    def __init__(self, database: str, home: Path, log: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        extra_env.setdefault("LEDGER_CHECKPOINT_INTERVAL", "0.1")
        super().__init__([sys.executable, "-m", "ledger", "serve", "--port", str(self.port),
                          "--log-level", "warning"],
                         child_env(database, home, **extra_env), log)

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> float:
        """Wait for ``/readyz`` to answer 200; the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    pytest.fail(f"ledger serve exited with {self.proc.returncode}:\n"
                                f"{self.tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/readyz")).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.05)
        pytest.fail(f"ledger serve not ready within {timeout} s:\n{self.tail()}")


@contextlib.contextmanager
def stopping(*children: Child) -> Iterator[None]:
    """Stop every child on the way out, whatever happened."""
    try:
        yield
    finally:
        for child in children:
            child.stop()


# --- HTTP writers ----------------------------------------------------------------------


@dataclass
class Stats:
    """What the writers saw: statuses, network errors, retries, latencies."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    retries: int = 0
    max_latency: float = 0.0
    bad_problems: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    details: Counter[str] = field(default_factory=Counter)  # problem details of 503s

    def merge(self, other: Stats) -> None:
        self.statuses.update(other.statuses)
        self.transport_errors.update(other.transport_errors)
        self.timeouts += other.timeouts
        self.retries += other.retries
        self.max_latency = max(self.max_latency, other.max_latency)
        self.bad_problems += other.bad_problems
        self.unexpected += other.unexpected
        self.details.update(other.details)


class GaveUp(Exception):
    pass


def batch_body(envelopes: Sequence[Envelope]) -> bytes:
    return json.dumps({"events": [e.to_json() for e in envelopes]},
                      separators=(",", ":")).encode()


def check_problem(response: httpx.Response, stats: Stats) -> None:
    """A 4xx/5xx must be problem+json; 503 and 429 must carry Retry-After."""
    ok = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
    if ok:
        try:
            doc = response.json()
            ok = doc.get("status") == response.status_code and "type" in doc
        except ValueError:
            ok = False
    if response.status_code in (429, 503) and "retry-after" not in response.headers:
        ok = False
    if not ok:
        stats.bad_problems.append(f"{response.status_code} {response.headers} "
                                  f"{response.text[:200]}")


async def post(http: httpx.AsyncClient, body: bytes, stats: Stats, *, deadline: float,
               pause: float = 0.05, accept: tuple[int, ...] = (201,),
               retry: tuple[int, ...] = (429, 503)) -> httpx.Response:
    """POST the same body until it gets a status in ``accept``; retries network errors,
    timeouts and the statuses in ``retry`` (the same signed envelopes: appends are
    idempotent). Any other status is recorded in ``stats.unexpected`` and returned."""
    first = True
    while True:
        if not first:
            stats.retries += 1
            if time.monotonic() > deadline:
                raise GaveUp("no acknowledgement before the deadline")
            await asyncio.sleep(pause)
        first = False
        started = time.monotonic()
        try:
            r = await http.post("/v1/events", content=body,
                                headers={"content-type": "application/json"})
        except httpx.TimeoutException:
            stats.timeouts += 1
            continue
        except httpx.TransportError as exc:
            stats.transport_errors[type(exc).__name__] += 1
            continue
        stats.max_latency = max(stats.max_latency, time.monotonic() - started)
        stats.statuses[r.status_code] += 1
        if r.status_code >= 400:
            check_problem(r, stats)
        if r.status_code in accept:
            return r
        if r.status_code in retry:
            if r.status_code == 503:
                with contextlib.suppress(ValueError, AttributeError):
                    stats.details[str(r.json().get("detail"))[:120]] += 1
            continue
        stats.unexpected.append(f"{r.status_code}: {r.text[:300]}")
        return r


class LoadClient:
    """One organization writing its own streams in multi-event batches: its ``org/``
    stream (profile updates) and an agreement it drafted (revisions), mixed in one batch.
    It alone writes these streams, so it signs each batch once and re-sends the same
    bytes until acknowledged. ``inflight`` holds the hashes of the batch being sent."""

    def __init__(self, name: str, rng: random.Random) -> None:
        self.signer: Signer = org(name)
        self.rng = rng
        self.org = Chain(self.signer, self.signer.stream)
        self.agreement = Agreement(self.signer, name)
        self.batches: list[list[str]] = []           # event hashes of every batch sent
        self.receipts: dict[str, dict[str, Any]] = {}  # event hash -> receipt (acked)
        self.inflight: list[str] | None = None
        self.acked_at: list[float] = []  # when each batch was acknowledged (monotonic)
        self.stats = Stats()

    def next_batch(self) -> list[Envelope]:
        if self.org.version == 0:
            reg = self.signer.registration(self.signer.org_id)
            self.org.version, self.org.head = 1, hash_of(reg)
            return [reg, self.profile()]
        k = self.rng.randint(1, 3)
        m = self.rng.randint(1, 2)
        profiles = [self.profile() for _ in range(k)]
        revisions = [self.agreement.next() for _ in range(m)]
        out: list[Envelope] = []
        while profiles or revisions:  # interleave the streams, each in its own order
            src = profiles if profiles and (not revisions or self.rng.random() < 0.5) \
                else revisions
            out.append(src.pop(0))
        return out

    def profile(self) -> Envelope:
        return self.org.next("organization.profile_updated",
                             {"profile": {"description": str(self.org.version + 1)}})

    async def run(self, http: httpx.AsyncClient, stop: asyncio.Event, *,
                  ack_timeout: float = 30.0, pause: float = 0.05,
                  retry: tuple[int, ...] = (429, 503)) -> None:
        """Append batches until ``stop``; the batch in flight is finished first. Gives
        up (``GaveUp``) if one batch is not acknowledged within ``ack_timeout``.
        ``retry``: the statuses after which the same batch is sent again."""
        while not stop.is_set():
            envelopes = self.next_batch()
            hashes = [hash_of(e) for e in envelopes]
            self.batches.append(hashes)
            self.inflight = hashes
            r = await post(http, batch_body(envelopes), self.stats, pause=pause,
                           deadline=time.monotonic() + ack_timeout, retry=retry)
            assert r.status_code == 201, r.text
            for h, receipt in zip(hashes, r.json()["receipts"], strict=True):
                assert receipt["event_hash"] == h
                self.receipts[h] = receipt
            self.acked_at.append(time.monotonic())
            self.inflight = None


# --- the stored log ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    position: int
    stream: str
    version: int
    event_hash: str
    prev_hash: str | None
    recorded_at_us: int


async def fetch_log(dsn: str) -> list[Row]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT position, stream, version, event_hash, prev_hash, recorded_at_us "
            "FROM events ORDER BY position")
    finally:
        await conn.close()
    return [Row(r["position"], r["stream"], r["version"], bytes(r["event_hash"]).hex(),
                None if r["prev_hash"] is None else bytes(r["prev_hash"]).hex(),
                r["recorded_at_us"]) for r in rows]


async def stored_hashes(dsn: str, hashes: Sequence[str]) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT event_hash FROM events WHERE event_hash = ANY($1)",
                                [bytes.fromhex(h) for h in hashes])
    finally:
        await conn.close()
    return {bytes(r["event_hash"]).hex() for r in rows}


def check_log(rows: Sequence[Row]) -> dict[str, int]:
    """Positions gapless from 0, each stream's versions 1..n with an unbroken prev
    chain (no fork), every event hash once, recorded_at never going back."""
    assert [r.position for r in rows] == list(range(len(rows))), "positions not gapless"
    assert len({r.event_hash for r in rows}) == len(rows), "an event hash stored twice"
    heads: dict[str, tuple[int, str]] = {}
    last_us = 0
    for r in rows:
        version, head = heads.get(r.stream, (0, None))
        assert r.version == version + 1, f"{r.stream}: version {r.version} after {version}"
        assert r.prev_hash == head, f"{r.stream} v{r.version}: prev does not chain (fork)"
        heads[r.stream] = (r.version, r.event_hash)
        assert r.recorded_at_us >= last_us, f"recorded_at goes back at {r.position}"
        last_us = r.recorded_at_us
    return {"entries": len(rows), "streams": len(heads)}


def check_receipts(rows: Sequence[Row], receipts: dict[str, dict[str, Any]]) -> None:
    """Every acknowledged event is stored where its receipt says."""
    by_hash = {r.event_hash: r for r in rows}
    lost = [h for h in receipts if h not in by_hash]
    assert not lost, f"{len(lost)} acknowledged events lost, e.g. {lost[:3]}"
    for h, rc in receipts.items():
        row = by_hash[h]
        assert (rc["position"], rc["stream"], rc["version"]) == \
            (row.position, row.stream, row.version), (rc, row)


# --- export and audit ----------------------------------------------------------------


@dataclass
class Audit:
    vkey: str
    export: subprocess.CompletedProcess[str]
    verify: subprocess.CompletedProcess[str] | None
    report: dict[str, Any] | None
    seconds: float


def export_and_verify(env: dict[str, str], out: Path) -> Audit:
    """``ledger log key``, ``ledger export --out``, ``ledger audit verify --json``."""
    started = time.monotonic()
    key = cli(env, "log", "key")
    assert key.returncode == 0, key.stderr
    vkey = key.stdout.strip()
    export = cli(env, "export", "--out", str(out), "--json")
    if export.returncode != 0:
        return Audit(vkey, export, None, None, time.monotonic() - started)
    verify = cli(env, "audit", "verify", str(out), "--log-key", vkey, "--json")
    try:
        report = json.loads(verify.stdout)
    except ValueError:
        report = None
    return Audit(vkey, export, verify, report, time.monotonic() - started)


async def auditor_token(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"SET ROLE {APP_ROLE}")
        token, _ = await create_token(conn, "auditor", "fault-suite")
        return token
    finally:
        await conn.close()
