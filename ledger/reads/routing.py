"""Which database answers a read: the primary, or one of its streaming replicas.

Why one place: the log's order stays single (one primary takes every append, the
sequencer, the checkpoints and the projection runner), and reads grow by PostgreSQL's
own streaming replication. Every read of the HTTP layer asks the :class:`ReadRouter`
for a :class:`Route` (a ``Reads`` over one pool, and the log position it is known to
reflect) with, optionally, a position it must reflect at least; no controller knows
that replicas exist.

The rules:

* a replica is *in rotation* when it answers, is still a standby, and lags the primary
  by at most ``max_lag_positions`` entries and ``max_lag_seconds`` seconds; a monitor
  measures each every ``probe_seconds`` and takes it out (and puts it back) by itself;
* a read without a minimum goes to a replica in rotation (round robin), else to the
  primary;
* a read that must reflect position ``p`` goes to a replica known to have replayed
  ``p``; if none has, it waits at most ``wait_seconds`` for one, then goes to the
  primary: never an older answer. A position beyond the primary's log is refused
  (:class:`PositionBeyondHead`), never waited for;
* a read whose replica fails mid-query (stopped, connection lost, a query cancelled
  by replay) is run again on the primary, and the replica is taken out until the
  monitor sees it well again.

How far a replica is: the log size it has replayed, ``max(position) + 1`` of its
``events`` (positions are gapless and committed in order, so that size means every
entry below it is there), and ``pg_last_xact_replay_timestamp()``. A replica's
replayed size only grows, so a size measured earlier is a lower bound of what a query
sees later.

NOTIFY does not reach a standby: the process's log follower (``follower.py``) keeps
listening on the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import asyncpg

from ..db import APP_ROLE, DATABASE_DOWN
from ..errors import LedgerError
from ..roles import with_login
from ..waits import bounded, wait_event
from .reads import Reads

__all__ = [
    "NO_REPLICAS",
    "PositionBeyondHead",
    "ReadRouter",
    "Replica",
    "ReplicaRefused",
    "ReplicaSettings",
    "Route",
]

_log = logging.getLogger("ledger.replicas")

PROBE_TIMEOUT = 2.0
CONNECT_TIMEOUT = 3.0
_WAIT_TICK = 0.02

#: A replica's query that failed for a reason of the replica (gone, shutting down, a
#: query cancelled by the replay of the primary's changes): run it on the primary.
_REPLICA_FAILED: tuple[type[BaseException], ...] = (
    *DATABASE_DOWN,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.SerializationError,  # "canceling statement due to conflict with recovery"
    asyncpg.exceptions.ReadOnlySQLTransactionError,
)


class PositionBeyondHead(LedgerError):
    """A read asked for a log position the log does not hold yet."""

    code = "position-beyond-head"
    title = "The log has not reached the position asked for"


class ReplicaRefused(LedgerError):
    """A replica DSN that is not a standby of this ledger's primary."""

    code = "replica-refused"
    title = "A replica is not a standby of this ledger"


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    return default if value in (None, "") else float(value)


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """``LEDGER_REPLICA_URLS`` and the bounds of the rotation (see docs/DEPLOYMENT.md).

    ``LEDGER_REPLICA_URLS``              DSNs of hot standbys, separated by commas or spaces
    ``LEDGER_REPLICA_MAX_LAG_POSITIONS`` out of rotation beyond this many entries (1000)
    ``LEDGER_REPLICA_MAX_LAG_SECONDS``   out of rotation beyond this many seconds (30)
    ``LEDGER_REPLICA_WAIT_SECONDS``      a read asking a position waits this long for a
                                         replica before going to the primary (0.5)
    ``LEDGER_REPLICA_PROBE_SECONDS``     how often each replica is measured (0.5)
    """

    urls: tuple[str, ...] = ()
    max_lag_positions: int = 1000
    max_lag_seconds: float = 30.0
    wait_seconds: float = 0.5
    probe_seconds: float = 0.5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReplicaSettings:
        env = os.environ if env is None else env
        urls = tuple(u for u in env.get("LEDGER_REPLICA_URLS", "").replace(",", " ").split()
                     if u)
        return cls(
            urls=urls,
            max_lag_positions=int(env.get("LEDGER_REPLICA_MAX_LAG_POSITIONS") or 1000),
            max_lag_seconds=_env_float(env, "LEDGER_REPLICA_MAX_LAG_SECONDS", 30.0),
            wait_seconds=_env_float(env, "LEDGER_REPLICA_WAIT_SECONDS", 0.5),
            probe_seconds=_env_float(env, "LEDGER_REPLICA_PROBE_SECONDS", 0.5),
        )


NO_REPLICAS = ReplicaSettings()


def replica_name(dsn: str) -> str:
    """``host:port/database`` of a DSN: how logs and metrics name a replica (never its
    password)."""
    parts = urlsplit(dsn)
    hostport = parts.netloc.rpartition("@")[2] or "localhost"
    return f"{hostport}{parts.path or '/'}"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one read goes: ``reads`` over the chosen pool, ``position`` the last log
    position it is known to reflect (-1: none), ``source`` "primary" or a replica's
    name."""

    reads: Reads
    position: int
    source: str


@dataclass(slots=True)
class Replica:
    """One streaming replica and what the monitor last measured of it."""

    name: str
    dsn: str
    pool: asyncpg.Pool
    reads: Reads
    replayed: int = 0  # the log size it has replayed (a lower bound)
    lag_positions: int | None = None
    lag_seconds: float | None = None
    up: bool = False
    in_rotation: bool = False
    reason: str = "not measured yet"
    taken_out: int = 0  # times it left the rotation
    checked: bool = False  # known to be a standby of this ledger's primary


class _ReplicaPool:
    """The pool ``Reads`` sees for a replica: each query on the replica, again on the
    primary if the replica fails under it (reads are idempotent)."""

    def __init__(self, router: ReadRouter, replica: Replica) -> None:
        self._router = router
        self._replica = replica

    async def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await getattr(self._replica.pool, method)(*args, **kwargs)
        except _REPLICA_FAILED as exc:
            self._router.take_out(self._replica, f"a read failed: {type(exc).__name__}")
            return await getattr(self._router.primary_pool, method)(*args, **kwargs)

    async def fetch(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetch", *args, **kwargs)

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchrow", *args, **kwargs)

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        return await self._run("fetchval", *args, **kwargs)

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        return self._replica.pool.acquire(*args, **kwargs)


async def _as_app_role(conn: asyncpg.Connection) -> None:
    await conn.execute(f"SET ROLE {APP_ROLE}")


_MEASURE_SQL = """
SELECT coalesce((SELECT max(position) FROM events), -1) + 1 AS size,
       pg_is_in_recovery() AS standby,
       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) AS behind
"""
_SIZE_SQL = "SELECT coalesce((SELECT max(position) FROM events), -1) + 1"


class ReadRouter:
    """Chooses the pool of each read (module docstring). Used from the event loop."""

    def __init__(self, primary: asyncpg.Pool, settings: ReplicaSettings | None = None,
                 ) -> None:
        self.settings = settings or ReplicaSettings()
        self.primary_pool = primary
        self.primary = Reads(primary)
        self.primary_size = 0  # the primary's log size, as last learnt (a lower bound)
        self.replicas: list[Replica] = []
        self._turn = itertools.count()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._identity: tuple[str, int | None] = ("", None)

    # --- opening and closing -----------------------------------------------------------

    async def open(self, login_dsn: str, origin: str, system_id: int | None) -> None:
        """Learn the primary's size and open a pool per replica URL (logging in as
        ``login_dsn``'s role: the runtime login, replicated with everything else).

        Raises ReplicaRefused (one line, naming the URL) for a replica that answers but
        is not a standby, is a standby of another cluster, or holds another ledger. A
        replica that does not answer is opened anyway, out of rotation until it does."""
        self.note_size(await self.primary.size())
        try:
            for url in self.settings.urls:
                dsn = _with_login_of(url, login_dsn)
                pool = await asyncpg.create_pool(
                    dsn, min_size=0, max_size=10, init=_as_app_role, timeout=CONNECT_TIMEOUT,
                    server_settings={"application_name": "ledger-replica-reads"})
                assert pool is not None
                replica = Replica(replica_name(url), dsn, pool, Reads(pool))
                replica.reads = Reads(cast(asyncpg.Pool, _ReplicaPool(self, replica)))
                self.replicas.append(replica)
                await self._check(replica, origin, system_id)
            self._identity = (origin, system_id)
            await self.refresh()
        except BaseException:
            await self.close()
            raise

    async def _check(self, replica: Replica, origin: str, system_id: int | None) -> None:
        """Refuse a replica that is positively not ours; one that cannot be checked yet
        (down, or not yet holding the ledger's login, database or origin: a new standby
        still catching up) stays unchecked, and out of rotation, until it can be."""
        try:
            conn = await asyncpg.connect(replica.dsn, timeout=CONNECT_TIMEOUT)
        except (*DATABASE_DOWN, asyncpg.PostgresError) as exc:
            replica.reason = f"cannot be checked yet ({type(exc).__name__})"
            _log.warning("replica %s cannot be checked yet (%s): out of rotation until "
                         "it can", replica.name, exc)
            return
        try:
            standby = await conn.fetchval("SELECT pg_is_in_recovery()")
            if not standby:
                raise ReplicaRefused(
                    f"LEDGER_REPLICA_URLS: {replica.name} is not a standby (it accepts "
                    "writes): give the DSN of a hot standby of the ledger's primary")
            if system_id is not None:
                theirs = await _system_id(conn)
                if theirs is not None and theirs != system_id:
                    raise ReplicaRefused(
                        f"LEDGER_REPLICA_URLS: {replica.name} is a standby of another "
                        f"PostgreSQL cluster (system identifier {theirs}, the primary's "
                        f"is {system_id})")
            stored = None
            if await conn.fetchval("SELECT to_regclass('ledger_meta') IS NOT NULL"):
                stored = await conn.fetchval(
                    "SELECT value FROM ledger_meta WHERE name = 'origin'")
            if stored is not None and stored != origin:
                raise ReplicaRefused(
                    f"LEDGER_REPLICA_URLS: {replica.name} holds the ledger {stored!r}, "
                    f"this one is {origin!r}")
            replica.checked = stored is not None
            if not replica.checked:
                replica.reason = "does not hold the ledger yet"
        finally:
            await conn.close()

    def start(self) -> None:
        """Measure the replicas in the background (when there are any)."""
        if self.replicas and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._monitor(), name="ledger-replica-monitor")

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for r in self.replicas:
            try:
                await bounded(r.pool.close(), 5)
            except TimeoutError:
                r.pool.terminate()
        self.replicas = []

    # --- what is known -----------------------------------------------------------------

    def note_size(self, size: int) -> None:
        """The primary's log has at least ``size`` entries (a commit, a notification)."""
        if size > self.primary_size:
            self.primary_size = size

    def take_out(self, replica: Replica, reason: str) -> None:
        if replica.in_rotation:
            replica.taken_out += 1
            _log.warning("replica %s out of rotation: %s", replica.name, reason)
        replica.in_rotation = False
        replica.reason = reason

    async def refresh(self) -> None:
        """Measure the primary and every replica once, and update the rotation."""
        with contextlib.suppress(*DATABASE_DOWN, asyncpg.PostgresError):
            self.note_size(await bounded(self.primary.size(), PROBE_TIMEOUT))
        await asyncio.gather(*(self._measure(r) for r in self.replicas))

    async def _measure(self, r: Replica) -> None:
        if not r.checked:
            try:
                await self._check(r, *self._identity)
            except ReplicaRefused as exc:
                _log.error("%s", exc.detail)
                r.reason = exc.detail
            if not r.checked:
                r.in_rotation = r.up = False
                return
        try:
            row = await bounded(r.pool.fetchrow(_MEASURE_SQL), PROBE_TIMEOUT)
        except (*DATABASE_DOWN, asyncpg.PostgresError) as exc:
            r.up = False
            r.lag_positions = r.lag_seconds = None
            self.take_out(r, f"does not answer ({type(exc).__name__})")
            return
        assert row is not None
        r.up = True
        r.replayed = max(r.replayed, int(row["size"]))
        self.note_size(r.replayed)  # a standby never holds more than its primary
        r.lag_positions = max(0, self.primary_size - r.replayed)
        behind = row["behind"]
        r.lag_seconds = 0.0 if r.lag_positions == 0 or behind is None \
            else max(0.0, float(behind))
        s = self.settings
        if not row["standby"]:
            self.take_out(r, "is no longer a standby (promoted?)")
        elif r.lag_positions > s.max_lag_positions:
            self.take_out(r, f"{r.lag_positions} entries behind (bound "
                             f"{s.max_lag_positions})")
        elif r.lag_seconds > s.max_lag_seconds:
            self.take_out(r, f"{r.lag_seconds:.1f} s behind (bound {s.max_lag_seconds} s)")
        else:
            if not r.in_rotation:
                _log.info("replica %s in rotation (%d entries behind)", r.name,
                          r.lag_positions)
            r.in_rotation = True
            r.reason = "in rotation"

    async def _monitor(self) -> None:
        while not self._stop.is_set():
            try:
                await self.refresh()
            except Exception:  # a bug: keep measuring
                _log.exception("replica monitor: unexpected error")
            await wait_event(self._stop, self.settings.probe_seconds)

    # --- routing -----------------------------------------------------------------------

    async def route(self, min_position: int | None = None) -> Route:
        """The pool for one read that must reflect ``min_position`` (any when None)."""
        need = 0
        if min_position is not None:
            await self._check_head(min_position)
            need = min_position + 1
        live = [r for r in self.replicas if r.in_rotation]
        if live:
            found = self._pick([r for r in live if r.replayed >= need])
            if found is None:
                found = await self._wait_for(live, need)
            if found is not None:
                return Route(found.reads, found.replayed - 1, found.name)
        return Route(self.primary, self.primary_size - 1, "primary")

    def _pick(self, candidates: Sequence[Replica]) -> Replica | None:
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]

    async def _wait_for(self, live: Sequence[Replica], need: int) -> Replica | None:
        """A replica of ``live`` once it has replayed ``need`` entries, measured every
        few milliseconds for at most ``wait_seconds``; None past that."""
        deadline = time.monotonic() + self.settings.wait_seconds
        while True:
            for r in live:
                if not r.in_rotation:
                    continue
                with contextlib.suppress(*DATABASE_DOWN, asyncpg.PostgresError):
                    r.replayed = max(r.replayed, int(await bounded(
                        r.pool.fetchval(_SIZE_SQL), PROBE_TIMEOUT)))
                if r.replayed >= need:
                    return r
            if time.monotonic() + _WAIT_TICK > deadline:
                return None
            await asyncio.sleep(_WAIT_TICK)

    async def _check_head(self, min_position: int) -> None:
        if min_position < self.primary_size:
            return
        self.note_size(await self.primary.size())
        if min_position >= self.primary_size:
            raise PositionBeyondHead(
                f"position {min_position} is beyond the log, which has {self.primary_size} "
                "entries (its last position is "
                f"{self.primary_size - 1})", field="min_position",
                log_size=self.primary_size)

    # --- reporting ---------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """What ``/readyz`` and ``/metrics`` show of each replica."""
        return [{"name": r.name, "in_rotation": r.in_rotation, "up": r.up,
                 "replayed_size": r.replayed, "lag_positions": r.lag_positions,
                 "lag_seconds": r.lag_seconds, "reason": r.reason}
                for r in self.replicas]


async def _system_id(conn: asyncpg.Connection) -> int | None:
    """The cluster's system identifier, None if this login may not read it."""
    try:
        value = await conn.fetchval("SELECT system_identifier FROM pg_control_system()")
    except asyncpg.InsufficientPrivilegeError:
        return None
    return None if value is None else int(value)


async def system_identifier(dsn: str) -> int | None:
    """The system identifier of the cluster behind ``dsn`` (None if not readable)."""
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    try:
        return await _system_id(conn)
    finally:
        await conn.close()


def _with_login_of(url: str, login_dsn: str) -> str:
    """``url`` logging in as ``login_dsn``'s user and password (the runtime login)."""
    login = urlsplit(login_dsn)
    if not login.username:
        return url
    return with_login(url, unquote(login.username), unquote(login.password or ""))
