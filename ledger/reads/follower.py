"""One follower of the log per process: ``LISTEN ledger_log``, or polling while it cannot.

Why one: the SSE hub and the projection runner both want to know when another
process commits. Each holding its own listening connection doubled the connections
and the code; the follower holds the process's only one and tells every subscriber the
last committed position it learnt of.

The listener is a connection of its own (not from the pool, so it never starves the
pool), named :data:`LISTENER_NAME`. When it drops, the follower polls the log size
every ``poll`` seconds and listens again as soon as it can; every subscriber is told of
the size found on each poll, so a notification lost while reconnecting is caught up.

Cancellation: whatever the moment a ``stop`` arrives (opening the connection, ``SET
ROLE``, ``add_listener``), the connection opened is closed before the task ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from ..db import APP_ROLE, connection_usable
from ..errors import Unavailable
from ..waits import bounded, wait_event
from .reads import Reads

__all__ = ["LISTENER_NAME", "NOTIFY_CHANNEL", "TRANSIENT", "LogFollower"]

NOTIFY_CHANNEL = "ledger_log"  # the store notifies the last position of each commit
LISTENER_NAME = "ledger-stream-listener"  # application_name of the listener connection
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 1.0

#: What "the database is unreachable" looks like; a follower waits it out and retries.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError, Unavailable,
)

_log = logging.getLogger("ledger.follower")

Subscriber = Callable[[int], None]


class LogFollower:
    """Learns the last committed log position and tells the subscribers.

    ``head``: the last position known to be committed (-1 for an empty log).
    ``live``: the listening session's number once it has caught up, else None (a new
    session, after a lost connection, changes it: notifications may have been missed).
    """

    def __init__(self, dsn: str, reads: Reads | Callable[[], Awaitable[int]], *,
                 heartbeat: float = HEARTBEAT_SECONDS, poll: float = POLL_SECONDS) -> None:
        self.dsn = dsn
        self._size = reads.size if isinstance(reads, Reads) else reads
        self.heartbeat = heartbeat
        self.poll = poll
        self.head = -1
        self.listening = False
        self.live: int | None = None
        self._sessions = 0
        self._subscribers: list[Subscriber] = []
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- subscribers -----------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(position)`` whenever a later committed position is learnt."""
        self._subscribers.append(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(callback)

    def advance(self, position: int) -> None:
        """Record that ``position`` is committed (also this process's own commits)."""
        if position > self.head:
            self.head = position
        for callback in list(self._subscribers):
            callback(position)

    # --- lifecycle -------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Start following in the background (once)."""
        if self._task is None and not self._stop.is_set():
            self._task = asyncio.get_running_loop().create_task(
                self._supervise(), name="ledger-log-follower")

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until ``head`` is known (at most ``timeout`` seconds); whether it is."""
        if not self._ready.is_set():
            await wait_event(self._ready, timeout)
        return self._ready.is_set()

    async def stop(self) -> None:
        """Stop following and close the listener connection."""
        self._stop.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- following -------------------------------------------------------------------

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self.advance(int(payload))

    async def _poll_once(self) -> bool:
        try:
            self.advance(await self._size() - 1)
        except TRANSIENT as exc:
            _log.warning("log follower: cannot read the log size: %s", exc)
            return False
        self._ready.set()
        return True

    async def _supervise(self) -> None:
        """Listen while the listener connection lives; poll while it is down."""
        while not self._stop.is_set():
            try:
                await self._listen_or_poll()
            except Exception:  # a bug: keep the subscribers alive on polling
                _log.exception("log follower: unexpected error")
                await wait_event(self._stop, self.poll)

    async def _listen_or_poll(self) -> None:
        """Listen until the connection is lost; then (or if it cannot be opened) poll
        once and wait a poll interval before trying again."""
        conn = await self._listen()
        if conn is not None:
            try:
                self.listening = True
                if await self._poll_once():  # what committed before LISTEN took hold
                    self._sessions += 1
                    self.live = self._sessions
                    await self._watch(conn)
            finally:
                self.live = None
                self.listening = False
                await _close_quietly(conn)
            if self._stop.is_set():
                return
            _log.warning("log follower: listener connection lost; polling every %s s",
                         self.poll)
        await self._poll_once()
        await wait_event(self._stop, self.poll)

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=5, server_settings={
                "application_name": LISTENER_NAME})
        except (*TRANSIENT, asyncpg.PostgresError) as exc:
            _log.warning("log follower: cannot open the listener connection: %s", exc)
            return None
        try:
            await conn.execute(f"SET ROLE {APP_ROLE}")
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
        except BaseException as exc:  # a cancellation too: never leave it open
            await _close_quietly(conn)
            if not isinstance(exc, (*TRANSIENT, asyncpg.PostgresError)):
                raise
            _log.warning("log follower: cannot LISTEN %s: %s", NOTIFY_CHANNEL, exc)
            return None
        return conn

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Return when the connection is lost (checked at once when the server closes
        it, else every heartbeat) or the follower stops."""
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _: lost.set())
        while not self._stop.is_set() and connection_usable(conn):
            if await wait_event(lost, self.heartbeat):
                return
            try:
                await bounded(conn.fetchval("SELECT 1"), 5)
            except (*TRANSIENT, asyncpg.PostgresError):
                return


async def _close_quietly(conn: asyncpg.Connection) -> None:
    """Close ``conn`` (bounded), or terminate it; safe under cancellation."""
    try:
        with contextlib.suppress(Exception):
            await bounded(asyncio.shield(conn.close()), 5)
    finally:
        if connection_usable(conn):
            conn.terminate()
