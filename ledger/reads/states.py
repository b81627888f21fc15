"""An agreement's state at a stream version, folded from its newest good snapshot.

Why: a read that misses the cache of current states (``ledger.api``'s
``CurrentStates``), and every time-travel read, would otherwise fold the agreement's
whole stream, so its cost would grow with the agreement's history. Here a read takes
the newest snapshot at or before the version it wants (``agreement_snapshots``),
checks it (``ledger.snapshot.open_snapshot``: seal, state hash, event hash, format),
and folds only the events after it. A snapshot that fails a check is logged, deleted,
and never served: the next one down is tried, and without any the stream is folded
from its first event.

Snapshots are made by the reads themselves: a fold that passes a multiple of
``every`` stores the state at that version (so a stream has at most one snapshot per
``every`` events, whatever versions are read). A fold of more than ``off_loop``
events, and the decoding of a large snapshot, run in a worker thread, so that they
never hold up the event loop.

Why the read layer writes here: snapshots are a cache of reads, derived from the
signed events and checked on every use; like the read models they may be deleted at
any time (they are then made again). Nothing of history is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

import asyncpg

from ..domain import AgreementState, evolve, fact_from_stored, initial_state
from ..snapshot import FORMAT, SealedSnapshot, SnapshotRejected, open_snapshot, seal_snapshot
from .events import StoredEvent
from .reads import Reads

__all__ = ["AgreementStates", "fold_events"]

_log = logging.getLogger("ledger.reads.states")
T = TypeVar("T")

PAGE: Final = 1000
_OFF_LOOP_BYTES: Final = 32_768  # a snapshot this large is decoded in a worker thread
_ATTEMPTS: Final = 3  # snapshots tried (and discarded) before folding from the start

# The event hash is a subquery of the one row kept (one index lookup whatever the
# planner's statistics), not a join that a fresh table's plan may scan.
_NEWEST_SQL: Final = """
SELECT s.stream, s.version, s.event_hash, s.format, s.state, s.state_hash, s.seal,
       (SELECT e.event_hash FROM events e
        WHERE e.stream = s.stream AND e.version = s.version) AS actual
FROM agreement_snapshots s
WHERE s.stream = $1 AND s.format = $2 AND ($3::integer IS NULL OR s.version <= $3)
ORDER BY s.version DESC LIMIT 1
"""
_SAVE_SQL: Final = """
INSERT INTO agreement_snapshots (stream, version, event_hash, format, state, state_hash, seal)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING
"""
_DISCARD_SQL: Final = ("DELETE FROM agreement_snapshots "
                       "WHERE stream = $1 AND format = $2 AND version = $3")


def fold_events(events: Sequence[StoredEvent],
                state: AgreementState | None = None) -> AgreementState:
    """``events`` folded onto ``state`` (changed in place), or onto a fresh state."""
    state = initial_state() if state is None else state
    for e in events:
        state = evolve(state, fact_from_stored(e))
    return state


class AgreementStates:
    """Folds agreement states from snapshots (see the module's docstring).

    ``key``: the snapshots' sealing key (``ledger.snapshot.seal_key``); None reads and
    makes no snapshot. ``every``: events between two snapshots of a stream (0: none).
    ``off_loop``: a fold of more events than this runs in a worker thread.
    ``primary``: the pool snapshots are written to (and forged ones deleted from): the
    primary's, whatever pool a read came through (a read from a standby cannot write).

    ``folded`` counts the events folded and ``discarded`` the snapshots refused (what a
    test or a metric reads to see the work done).
    """

    def __init__(self, key: bytes | None = None, *, every: int = 200,
                 off_loop: int = 100, primary: asyncpg.Pool | None = None) -> None:
        self.key = key if every > 0 else None
        self.primary = primary
        self.every = every
        self.off_loop = off_loop
        self.folded = 0
        self.discarded = 0
        self._writable = True
        self._executor: ThreadPoolExecutor | None = None

    async def state_at(self, reads: Reads, stream: str, version: int | None = None,
                       ) -> tuple[AgreementState, int]:
        """The state of ``stream`` at ``version`` (None: its head) and the version
        reached (lower than ``version`` when the stream is shorter; 0 if empty)."""
        state, base = await self._newest(reads, stream, version)
        tail = await reads.read_whole_stream(stream, after_version=base, page=PAGE,
                                             until_version=version)
        if not tail:
            return state, base
        state = await self.fold(reads, state, tail, stream, base)
        return state, tail[-1].version

    async def fold(self, reads: Reads, state: AgreementState, events: Sequence[StoredEvent],
                   stream: str, base: int) -> AgreementState:
        """``events`` (those of ``stream`` after version ``base``) folded onto ``state``
        (changed in place): in a worker thread when they are many. A snapshot is stored
        at the last multiple of ``every`` they pass."""
        mark = self._mark(base, events[-1].version if events else base)
        if len(events) > self.off_loop:
            state, sealed = await self._off_loop(self._fold, state, events, stream, mark)
        else:
            state, sealed = self._fold(state, events, stream, mark)
        self.folded += len(events)
        if sealed is not None:
            await self._save(reads, sealed)
        return state

    def close(self) -> None:
        """Stop the worker threads (a fold in progress finishes; none queued starts)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the worker threads (two: the fold holds the GIL, so
        more would not fold faster, only queue behind each other)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=2,
                                                thread_name_prefix="ledger-fold")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _save(self, reads: Reads, s: SealedSnapshot) -> None:
        """Store a snapshot. A failure is never the read's (it is a cache): it is
        logged once, and no snapshot is stored from then on (e.g. reads from a
        read-only replica, or a login without the grant)."""
        if not self._writable:
            return
        try:
            await (self.primary or reads.pool).execute(
                _SAVE_SQL, s.stream, s.version, bytes.fromhex(s.event_hash), s.format,
                s.state, s.state_hash, s.seal)
        except asyncpg.PostgresError as exc:
            self._writable = False
            _log.warning("snapshot of %s at version %d not stored, and none will be from "
                         "this process: %s", s.stream, s.version, exc)

    def _mark(self, base: int, last: int) -> int | None:
        """The version to snapshot at while folding from ``base`` to ``last``."""
        if self.key is None:
            return None
        mark = last - last % self.every
        return mark if mark > base else None

    def _fold(self, state: AgreementState, events: Sequence[StoredEvent], stream: str,
              mark: int | None) -> tuple[AgreementState, SealedSnapshot | None]:
        sealed = None
        for e in events:
            state = evolve(state, fact_from_stored(e))
            if e.version == mark and self.key is not None:
                sealed = seal_snapshot(self.key, stream, e.version, e.event_hash, state)
        return state, sealed

    async def _newest(self, reads: Reads, stream: str, version: int | None,
                      ) -> tuple[AgreementState, int]:
        """The newest good snapshot of ``stream`` at or before ``version``, or the
        initial state at version 0."""
        if self.key is None:
            return initial_state(), 0
        for _ in range(_ATTEMPTS):
            try:
                row = await reads.pool.fetchrow(_NEWEST_SQL, stream, FORMAT, version)
            except asyncpg.UndefinedTableError:  # a database not migrated yet
                break
            if row is None:
                break
            snapshot = SealedSnapshot(row["stream"], row["version"],
                                      bytes(row["event_hash"]).hex(), row["format"],
                                      bytes(row["state"]), row["state_hash"],
                                      bytes(row["seal"]))
            actual = None if row["actual"] is None else bytes(row["actual"]).hex()
            try:
                if len(snapshot.state) > _OFF_LOOP_BYTES:
                    state = await self._off_loop(open_snapshot, self.key, snapshot, actual)
                else:
                    state = open_snapshot(self.key, snapshot, actual)
                return state, snapshot.version
            except SnapshotRejected as exc:
                self.discarded += 1
                _log.warning("snapshot of %s at version %d discarded, refolding from the "
                             "events: %s", stream, snapshot.version, exc)
                if self._writable:  # else the next read finds it again, and refuses it
                    with contextlib.suppress(asyncpg.PostgresError):
                        await (self.primary or reads.pool).execute(
                            _DISCARD_SQL, stream, FORMAT, snapshot.version)
                version = snapshot.version - 1  # the next one down
        return initial_state(), 0
