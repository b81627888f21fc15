"""The audit bundle written from the database: one consistent snapshot, streamed.

The line format is ``ledger.bundle`` (pure, read by the offline auditor); this module
reads the store. Export streams from one database snapshot, so memory stays flat however
long the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO

from .bundle import checkpoint_line, entry_line, header_line
from .leaf import encode_leaf
from .store import PostgresStore

__all__ = ["export_bundle", "iter_bundle"]


async def iter_bundle(store: PostgresStore, vkey: str,
                      progress: Callable[[int, int], None] | None = None,
                      ) -> AsyncIterator[bytes]:
    """Yield the bundle's lines from one consistent snapshot of the database."""
    async with store.pool.acquire() as conn, conn.transaction(
            isolation="repeatable_read", readonly=True):
        last = await conn.fetchval("SELECT max(position) FROM events")
        size = 0 if last is None else int(last) + 1
        yield header_line(store.ledger_id, vkey, size)
        done = 0
        async for row in conn.cursor(
                "SELECT position, recorded_at_us, envelope FROM events ORDER BY position",
                prefetch=2000):
            envelope = bytes(row["envelope"])
            yield entry_line(row["position"],
                             encode_leaf(row["position"], row["recorded_at_us"], envelope),
                             envelope)
            done += 1
            if progress is not None and done % 5000 == 0:
                progress(done, size)
        async for row in conn.cursor(
                "SELECT note FROM checkpoints WHERE size <= $1 ORDER BY size", size):
            yield checkpoint_line(row["note"])
        if progress is not None:
            progress(done, size)


async def export_bundle(store: PostgresStore, vkey: str, out: IO[bytes],
                        progress: Callable[[int, int], None] | None = None) -> int:
    """Write the bundle to ``out``; returns the number of entries."""
    entries = 0
    async for line in iter_bundle(store, vkey, progress):
        out.write(line)
        if line.startswith(b'{"index"'):
            entries += 1
    return entries
