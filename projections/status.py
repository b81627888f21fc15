"""Where the read models stand against the log, and how much they hold."""

from __future__ import annotations

import asyncpg
import msgspec

from . import sql

__all__ = ["ProjectionStatus", "status"]


class ProjectionStatus(msgspec.Struct, frozen=True):
    """``position``: log entries applied; ``log_size``: entries in the log;
    ``rows``: rows per read-model table."""

    name: str
    position: int
    log_size: int
    rows: dict[str, int]

    @property
    def lag(self) -> int:
        """Log entries not yet applied."""
        return self.log_size - self.position


async def status(pool: asyncpg.Pool, name: str = sql.CHECKPOINT) -> ProjectionStatus:
    """The projection's checkpoint, the log's size and the row count of each table."""
    async with pool.acquire() as conn:
        position = await sql.load_checkpoint(conn, name)
        size = await conn.fetchval("SELECT coalesce(max(position) + 1, 0) FROM events")
        counts = " UNION ALL ".join(f"SELECT '{t.name}', count(*) FROM {t.name}"
                                    for t in sql.READ_MODELS)
        rows = {r[0]: int(r[1]) for r in await conn.fetch(counts)}
    return ProjectionStatus(name, position, int(size), rows)
