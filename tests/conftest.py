"""Shared fixtures: a real PostgreSQL for the whole run, a fresh database per test.

With ``LEDGER_TEST_DATABASE_URL`` set (an admin DSN), tests use that server; otherwise
an embedded PostgreSQL starts in a temporary directory and is stopped and deleted at
the end of the run, even when tests fail or the run is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from ledger.db import EmbeddedPostgres, connect_pool, upgrade
from ledger.roles import runtime_role_name
from ledger.store import PostgresStore

LEDGER_ID = "test.mutualisation.example/ledger"


def _interrupt_stopping(server: EmbeddedPostgres) -> Callable[[int, FrameType | None], None]:
    """A SIGTERM handler that stops the suite's PostgreSQL first, then interrupts the run
    as Ctrl-C does. First, because the interrupt can be lost: a signal that lands while a
    gc callback or a ``__del__`` runs (hypothesis installs one) has its exception
    ignored, and the run would go on. A second SIGTERM ends the process at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        server.stop_now()
        raise KeyboardInterrupt(f"signal {signum}")

    return handler


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    env = os.environ.get("LEDGER_TEST_DATABASE_URL")
    if env:
        yield env
        return
    # SIGTERM (e.g. a CI time limit) interrupts the run as Ctrl-C does: pytest then
    # tears the fixtures down, and this one stops the embedded server.
    tmp = Path(tempfile.mkdtemp(prefix="ledger-test-pg-"))
    server = EmbeddedPostgres(tmp / "data", delete=True)
    previous = signal.signal(signal.SIGTERM, _interrupt_stopping(server))
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)  # the server deletes data/, not its parent
        signal.signal(signal.SIGTERM, previous)


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


async def _drop(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        # the runtime login the server made for it (role names are cluster-wide)
        await conn.execute(f'DROP ROLE IF EXISTS "{runtime_role_name(name)}"')
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="session")
async def template_database(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A migrated database the per-test databases are copied from (cheaper than
    migrating each one). Dropped at the end of the run."""
    name = f"ledger_template_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        await upgrade(with_database(pg_admin_dsn, name))
        yield name
    finally:
        await _drop(pg_admin_dsn, name)


@contextlib.asynccontextmanager
async def database_from_template(admin: str, template: str,
                                 prefix: str = "ledger_test") -> AsyncIterator[str]:
    """A fresh copy of the migrated template database; its admin DSN. Dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    try:
        yield with_database(admin, name)
    finally:
        await _drop(admin, name)


@pytest_asyncio.fixture
async def database(pg_admin_dsn: str, template_database: str) -> AsyncIterator[str]:
    """A fresh, migrated database; its admin DSN. Dropped afterwards."""
    async with database_from_template(pg_admin_dsn, template_database) as dsn:
        await upgrade(dsn)  # a no-op unless the template is behind
        yield dsn


@pytest_asyncio.fixture
async def store(database: str) -> AsyncIterator[PostgresStore]:
    pool = await connect_pool(database, min_size=1, max_size=20)
    s = PostgresStore(pool, ledger_id=LEDGER_ID)
    try:
        yield s
    finally:
        await s.close()
        await asyncio.wait_for(pool.close(), 10)
