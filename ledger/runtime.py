"""Opening a ledger: database (embedded or not), migrations, origin, pool, store, log.

``open_ledger(settings)`` is the one place the shell (server, CLI, benchmarks) builds a
running ledger, and it always tears down what it started, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

import asyncpg

from .config import Settings
from .db import EmbeddedPostgres, close_pool, connect_pool, upgrade
from .errors import LedgerError
from .history_check import HistoryCheck, run_history_check
from .integrity import verify_derived_columns, verify_protections
from .keys import Ed25519PrivateKey
from .log import TransparencyLog, ledger_log_key
from .reads.routing import ReadRouter, system_identifier
from .roles import runtime_login
from .store import PostgresStore
from .validation import AgreementRules
from .waits import bounded

__all__ = ["POOL_CLOSE_TIMEOUT", "Ledger", "OriginMismatch", "open_ledger", "resolve_database",
           "stored_origin"]

# Every step of closing a ledger is bounded (seconds): a bug that leaks a connection
# or a task that ignores its cancellation cannot keep the process from stopping.
POOL_CLOSE_TIMEOUT = 10.0
STEP_TIMEOUT = 10.0
_log = logging.getLogger("ledger.runtime")


class OriginMismatch(LedgerError):
    code = "origin-mismatch"
    title = "This database belongs to another ledger origin"


@dataclass(slots=True)
class Ledger:
    settings: Settings
    dsn: str
    pool: asyncpg.Pool
    store: PostgresStore
    log: TransparencyLog
    router: ReadRouter  # which pool each read uses: the primary's, or a replica's
    #: The background check of the whole stored history (``ledger.history_check``).
    history: HistoryCheck = field(default_factory=HistoryCheck)


@contextlib.contextmanager
def resolve_database(settings: Settings, *, verbose: bool = False):  # type: ignore[no-untyped-def]
    """Yield an admin DSN: DATABASE_URL, or an embedded server stopped on exit (its
    own log lines shown only when ``verbose``)."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.home / "pgdata", verbose=verbose)
    try:
        yield server.start()
    finally:
        server.stop()


async def stored_origin(dsn: str, wanted: str) -> str:
    """Fix the ledger's origin at first start; refuse a different one later."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO ledger_meta (name, value) VALUES ('origin', $1) "
            "ON CONFLICT (name) DO NOTHING", wanted)
        origin: str = await conn.fetchval("SELECT value FROM ledger_meta WHERE name = 'origin'")
    finally:
        await conn.close()
    if origin != wanted:
        raise OriginMismatch(
            f"the database's ledger origin is {origin!r}, LEDGER_ORIGIN says {wanted!r}")
    return origin


async def _log_key(dsn: str, settings: Settings) -> Ed25519PrivateKey:
    """The ledger's own log key (``ledger.log.ledger_log_key``: another is refused)."""
    conn = await asyncpg.connect(dsn)
    try:
        return await ledger_log_key(conn, settings.log_key_path, settings.origin)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def open_ledger(settings: Settings, dsn: str, *, verify_history: bool = True,
                      background: bool = True,
                      pool_size: int = 10, rules: bool = True) -> AsyncIterator[Ledger]:
    """Migrate, check the stored history since the last checkpoint, and run.

    The start-up check (``verify_history``) reads only what the last signed checkpoint
    does not cover (``TransparencyLog.verify_recent``, the derived columns from there),
    so its time does not grow with the log. With ``background`` (the server), the whole
    history is checked from entry 0 in a task the ledger owns, once it runs
    (``ledger.history_check``); it is cancelled, bounded, on close.

    ``rules`` puts the agreement rules at the door (``ledger.validation``): only
    ``org/`` and ``agreement/`` streams, and agreement events the decider would make.

    Raises HistoryMismatch (and starts nothing) if the stored tree after the last
    signed checkpoint disagrees with it, or a stored column since then with the signed
    envelope it is derived from; HistoryUnprotected if a protection of history
    (trigger, grant) is missing or disabled (``ledger.integrity``).
    """
    await upgrade(dsn)
    origin = await stored_origin(dsn, settings.origin)
    log_key = await _log_key(dsn, settings)
    system_id = await system_identifier(dsn) if settings.replicas.urls else None
    dsn = await runtime_login(dsn)  # never the admin login from here on (ledger.roles)
    pool = await connect_pool(dsn, min_size=1, max_size=pool_size)
    store: PostgresStore | None = None
    log: TransparencyLog | None = None
    checking: asyncio.Task[None] | None = None
    router = ReadRouter(pool, settings.replicas)
    try:
        # Replicas are checked before anything runs: one that is not a standby of this
        # ledger's primary stops the start with one line (ReplicaRefused).
        await router.open(dsn, origin, system_id)
        caches = settings.caches
        store = PostgresStore(pool, ledger_id=origin, limits=settings.limits,
                              max_public_keys=caches.public_keys)
        if rules:
            store.validator = AgreementRules(store, max_cached=caches.rules_agreements,
                                             max_bytes=caches.rules_bytes)
        log = TransparencyLog(store, log_key, interval=settings.checkpoint_interval,
                              signed_head=settings.signed_head)
        if verify_history:
            async with pool.acquire() as conn:
                await verify_protections(conn)
            await log.verify_recent()
            last = await log.latest()
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                await verify_derived_columns(conn, start=0 if last is None else last.size)
        ledger = Ledger(settings, dsn, pool, store, log, router)
        if background:
            log.start()
            checking = asyncio.get_running_loop().create_task(
                run_history_check(log, ledger.history), name="history-check")
        router.start()
        store.on_commit.append(router.note_size)
        yield ledger
    finally:
        if checking is not None:
            checking.cancel()
            await _bounded("the history check", _settled(checking))
        await _bounded("the replica monitor", router.close())
        if log is not None:
            await _bounded("the checkpointer", log.stop())
        if store is not None:
            await _bounded("the store", store.close())
        await close_pool(pool, timeout=POOL_CLOSE_TIMEOUT)


async def _settled(task: asyncio.Task[None]) -> None:
    """Wait for a cancelled task to end; its own cancellation is not raised here, but
    one of the caller still is."""
    await asyncio.wait({task})


async def _bounded(what: str, closing: Awaitable[None]) -> None:
    """Await one step of a shutdown for at most ``STEP_TIMEOUT`` seconds, so that a
    stuck step is logged and skipped instead of holding the process for good."""
    try:
        await bounded(closing, STEP_TIMEOUT)
    except TimeoutError:
        _log.warning("%s did not stop within %g s; going on", what, STEP_TIMEOUT)
