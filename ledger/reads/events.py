"""Log entries as read from the ``events`` and ``merkle_nodes`` tables.

Why its own module: the store (which writes) and the read layer (which serves) share
the row shape of an entry and the fetch of tree nodes; both live here once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from .. import merkle
from ..admission import Receipt
from ..envelope import signed_payload
from ..errors import NotFound
from ..leaf import encode_leaf, from_micros
from ..statement import Statement, format_time

__all__ = ["EVENT_COLUMNS", "NODES_SQL", "StoredEvent", "fetch_nodes", "row_event"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: exact envelope and payload bytes plus their place."""

    position: int
    recorded_at_us: int
    stream: str
    version: int
    event_hash: str
    envelope: bytes
    payload: bytes

    @property
    def recorded_at(self) -> str:
        return format_time(from_micros(self.recorded_at_us))

    @property
    def leaf(self) -> bytes:
        """The Merkle leaf bytes of this entry (see docs/PROTOCOL.md)."""
        return encode_leaf(self.position, self.recorded_at_us, self.envelope)

    def statement(self) -> Statement:
        return msgspec.json.decode(self.payload, type=Statement)

    def envelope_json(self) -> dict[str, Any]:
        value: dict[str, Any] = msgspec.json.decode(self.envelope)
        return value

    def receipt(self) -> Receipt:
        return Receipt(self.position, self.stream, self.version, self.event_hash,
                       self.recorded_at_us)



#: The columns an entry is read from. Not the ``payload`` column: the payload served
#: is the one the stored envelope signs (``signed_payload``), never a copy of it.
EVENT_COLUMNS = "position, recorded_at_us, stream, version, event_hash, envelope"


def row_event(r: asyncpg.Record) -> StoredEvent:
    envelope = bytes(r["envelope"])
    return StoredEvent(r["position"], r["recorded_at_us"], r["stream"], r["version"],
                       bytes(r["event_hash"]).hex(), envelope, signed_payload(envelope))


NODES_SQL = ("SELECT n.level, n.idx, n.hash FROM merkle_nodes n "
             "JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) "
             "ON n.level = w.level AND n.idx = w.idx")


async def fetch_nodes(conn: asyncpg.Connection | asyncpg.Pool,
                      ids: Sequence[merkle.NodeID]) -> dict[tuple[int, int], bytes]:
    """The hashes of tree nodes ``ids``; raises NotFound naming the first missing."""
    found = await fetch_some_nodes(conn, ids)
    missing = [i for i in ids if (i.level, i.index) not in found]
    if missing:
        raise NotFound(f"tree nodes missing: {missing[:3]}; is the requested size in the log?")
    return found


async def fetch_some_nodes(conn: asyncpg.Connection | asyncpg.Pool,
                           ids: Sequence[merkle.NodeID]) -> dict[tuple[int, int], bytes]:
    """The hashes of those of ``ids`` that are stored (missing ones are left out)."""
    if not ids:
        return {}
    rows = await conn.fetch(NODES_SQL, [i.level for i in ids], [i.index for i in ids])
    return {(r["level"], r["idx"]): bytes(r["hash"]) for r in rows}
