"""Rebuild every read model from position 0, fast, in one transaction.

Why not the runner with big pages: the runner writes each touched agreement's rows after
every page; a rebuild folds the whole log in memory first (each event is one ``evolve``)
and writes each agreement's final rows once, with COPY. The history summaries are
written with COPY in batches as the fold goes, so memory holds the states and one batch,
not the log. The next pages are read on two other connections while one is folded.
(Streaming the history into one long COPY as the fold goes was tried: the asynchronous
row iterator cost more Python time than the overlap saved.)

The rows come from the same ``fold_event`` and ``rows_of`` as the runner's, so a
rebuild equals what the runner maintains incrementally (a property test holds them to
it). The rebuild holds the checkpoint lock from the TRUNCATE to the commit: runners
wait, then resume from the rebuilt position. Readers of the tables wait too (TRUNCATE
locks them until the commit), then see the new rows; they never see half a rebuild.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Final

import asyncpg
import msgspec

from ledger.envelope import signed_payload

from . import sql
from .agreements import rows_of
from .fold import AGREEMENT_PREFIX, Tracked, fold_event

__all__ = ["RebuildReport", "rebuild"]

# One page is a range of log positions (gapless), so whatever plan the statistics lead
# to, a page reads and sorts at most ``page_size`` rows (a range open at the top, with
# LIMIT, made a never-analyzed table scan and sort the rest of the log for every page).
# The statement folded is the one the stored envelope signs (``signed_payload``), never
# the ``payload`` column, a copy that a superuser could change behind the log's back.
_PAGE_SQL: Final = ("SELECT position, recorded_at_us, stream, envelope FROM events "
                    "WHERE position >= $1 AND position < $2 AND stream LIKE 'agreement/%' "
                    "ORDER BY position")
_PREFIX_LEN: Final = len(AGREEMENT_PREFIX)

Progress = Callable[[int, int], None]


class RebuildReport(msgspec.Struct, frozen=True):
    """What a rebuild did: ``position`` is the checkpoint it saved (log entries read),
    ``events`` the agreement events among them."""

    position: int
    events: int
    agreements: int
    seconds: float


async def _pages(pool: asyncpg.Pool, end: int, size: int,
                 readers: int) -> AsyncGenerator[list[Any], None]:
    """The agreement events before log position ``end``, ``size`` positions at a time,
    in order. ``readers`` connections fetch the next pages while the caller works on
    this one (page k on connection k mod readers, one query in flight on each)."""
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(pool.acquire()) for _ in range(readers)]
        starts = range(0, end, size)
        pending: collections.deque[asyncio.Future[list[Any]]] = collections.deque()

        def launch(k: int) -> None:
            if k < len(starts):
                rows: Awaitable[list[Any]] = conns[k % readers].fetch(
                    _PAGE_SQL, starts[k], min(starts[k] + size, end))
                pending.append(asyncio.ensure_future(rows))

        for k in range(readers):
            launch(k)
        try:
            k = readers
            while pending:
                page = await pending.popleft()
                launch(k)
                k += 1
                if page:
                    yield page
        finally:
            for fut in pending:
                fut.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class _Writer:
    """COPY on the writer connection in the background, one table at a time: the
    server stores a batch while this process folds the next pages or makes rows."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.task: asyncio.Future[None] | None = None

    async def write(self, table: sql.Table, rows: list[tuple[Any, ...]]) -> None:
        """Start writing ``rows`` once the previous write is done."""
        await self.flush()
        self.task = asyncio.ensure_future(sql.copy_rows(self.conn, table, rows))
        await asyncio.sleep(0)  # let it encode and send what the socket takes now

    async def flush(self) -> None:
        """Wait for the write in progress; its error, if any, is raised here."""
        if self.task is not None:
            task, self.task = self.task, None
            await task

    async def close(self) -> None:
        """Abandon a write in progress (on error or cancellation)."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def rebuild(pool: asyncpg.Pool, *, name: str = sql.CHECKPOINT, page_size: int = 1000,
                  history_batch: int = 20_000,
                  progress: Progress | None = None) -> RebuildReport:
    """Empty the read models and replay the whole log; returns what was done.

    ``page_size``: log positions per read. ``history_batch``: history rows per write.
    ``progress(done, total)`` is called after each page, in log positions. Needs two
    connections from ``pool`` and uses three if it may (one writes, two read ahead, so
    the server reads and stores while this process folds). The cyclic garbage collector
    is paused meanwhile: the fold makes no cycles, and a full collection would re-scan
    every state it keeps (docs/PERFORMANCE.md, *Figures behind the code's choices*).
    """
    readers = min(2, pool.get_max_size() - 1)
    if readers < 1:
        raise ValueError("rebuild reads on one connection while it writes on another: "
                         f"the pool allows {pool.get_max_size()}, want at least 2")
    t0 = time.perf_counter()
    collecting = gc.isenabled()
    gc.disable()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await sql.lock_checkpoint(conn, name)
            end: int = await conn.fetchval("SELECT coalesce(max(position) + 1, 0) FROM events")
            # the runner's images of folded agreements go too (made again as it runs)
            await conn.execute(f"TRUNCATE {', '.join(t.name for t in sql.READ_MODELS)}, "
                               "projection_images")
            writer = _Writer(conn)
            try:
                states, events = await _fold_log(pool, end, page_size, readers, writer,
                                                 history_batch, progress)
                tables = await _state_rows(states)  # while the last history is stored
                for table, rows in zip(sql.TABLES, tables, strict=True):
                    await writer.write(table, rows)
                await writer.flush()
            finally:
                await writer.close()
            await sql.save_checkpoint(conn, end, name)
    finally:
        if collecting:
            gc.enable()
    if progress is not None:
        progress(end, end)
    return RebuildReport(end, events, len(states), time.perf_counter() - t0)


async def _fold_log(pool: asyncpg.Pool, end: int, page_size: int, readers: int,
                    writer: _Writer, batch: int,
                    progress: Progress | None) -> tuple[dict[str, Tracked], int]:
    """Fold every agreement event before ``end``, writing their history as it goes;
    the final states and the number of events."""
    states: dict[str, Tracked] = {}
    streams: dict[str, tuple[str, Tracked]] = {}
    events = 0
    history: list[tuple[Any, ...]] = []
    async with contextlib.aclosing(_pages(pool, end, page_size, readers)) as pages:
        async for page in pages:
            history += _fold_page(states, streams, page)
            if len(history) >= batch:
                events += len(history)
                await writer.write(sql.HISTORY, history)
                history = []
            if progress is not None:
                progress(page[-1][0] + 1, end)
    events += len(history)
    await writer.write(sql.HISTORY, history)
    return states, events


async def _state_rows(states: dict[str, Tracked]) -> list[list[tuple[Any, ...]]]:
    """The rows of every final state, per table; yields to the event loop now and then
    so that a write in progress keeps feeding the server."""
    tables: list[list[tuple[Any, ...]]] = [[] for _ in sql.TABLES]
    for n, (aid, t) in enumerate(states.items()):
        for rows, more in zip(tables, rows_of(aid, t), strict=True):
            rows.extend(more)
        if n % 16 == 15:
            await asyncio.sleep(0)
    return tables


def _fold_page(states: dict[str, Tracked], streams: dict[str, tuple[str, Tracked]],
               page: list[Any]) -> list[tuple[Any, ...]]:
    """Fold one page of agreement events; their history rows. ``streams`` maps each
    stream to its agreement id and state (the same ``Tracked`` as in ``states``)."""
    history = []
    known = streams.get
    for position, recorded_us, stream, envelope in page:
        entry = known(stream)
        if entry is None:
            aid = stream[_PREFIX_LEN:]
            entry = streams[stream] = (aid, states.setdefault(aid, Tracked()))
        history.append(fold_event(entry[1], entry[0], signed_payload(envelope), position,
                                  recorded_us))
    return history
