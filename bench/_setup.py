"""Shared benchmark setup: a throwaway database (embedded unless BENCH_DATABASE_URL),
machine facts to print beside the figures, and pre-signed events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ledger.db import EmbeddedPostgres, upgrade
from ledger.envelope import Envelope
from ledger.keys import private_key_from_seed
from ledger.signer import Signer
from ledger.statement import event_hash

LEDGER_ID = "bench.example/mutualisation-ledger"


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{platform.python_implementation()} {platform.python_version()}, "
            f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}")


@contextlib.contextmanager
def admin_dsn() -> Iterator[tuple[str, str]]:
    env = os.environ.get("BENCH_DATABASE_URL")
    if env:
        yield env, "external PostgreSQL (BENCH_DATABASE_URL)"
        return
    tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    server = EmbeddedPostgres(tmp / "data", delete=True)

    def stopped(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # runs the finally below: the server goes too

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield server.start(), "embedded PostgreSQL 18 (default settings, fsync on)"
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


@contextlib.asynccontextmanager
async def fresh_database(admin: str) -> AsyncIterator[str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    p = urlsplit(admin)
    dsn = urlunsplit((p.scheme, p.netloc, f"/{name}", p.query, p.fragment))
    await upgrade(dsn)
    try:
        yield dsn
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        await asyncio.sleep(0.1)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.close()


def signers(n: int) -> list[Signer]:
    return [Signer(f"org-{i:03d}", private_key_from_seed(i.to_bytes(32, "big")), LEDGER_ID)
            for i in range(1, n + 1)]


def stream_events(signer: Signer, stream: str, n: int, start_version: int = 0,
                  prev: str | None = None, payload_bytes: int = 200) -> list[Envelope]:
    """``n`` consecutive signed events of one stream (typical ~200-byte data)."""
    out = []
    note = "x" * max(payload_bytes - 100, 0)
    for v in range(start_version + 1, start_version + n + 1):
        env = signer.event(stream, v, prev, "bench.noted", {"n": v, "note": note})
        prev = event_hash(env.payload_bytes())
        out.append(env)
    return out
