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
from ..integrity import DerivedColumnForged
from ..leaf import encode_leaf, from_micros
from ..statement import Statement, format_time

__all__ = ["EVENT_COLUMNS", "NODES_SQL", "StoredEvent", "contiguous", "fetch_nodes",
           "row_event"]


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


class _Place(msgspec.Struct, frozen=True):
    """Where a statement says it stands (the rest of the payload is not decoded)."""

    stream: str
    version: int


_place = msgspec.json.Decoder(_Place)


def row_event(r: asyncpg.Record) -> StoredEvent:
    """The entry of a row, its payload taken from the signed envelope. The stream and
    version columns the row was found by are held to what the signed statement says:
    a column forged behind the ledger's back is refused (500), never served."""
    envelope = bytes(r["envelope"])
    payload = signed_payload(envelope)
    place = _place.decode(payload)
    if place.stream != r["stream"] or place.version != r["version"]:
        raise DerivedColumnForged(
            f"entry {r['position']}: stored as {r['stream']} version {r['version']}, "
            f"but its signed statement is {place.stream} version {place.version} "
            "(changed in the database)", index=r["position"])
    return StoredEvent(r["position"], r["recorded_at_us"], r["stream"], r["version"],
                       bytes(r["event_hash"]).hex(), envelope, payload)


def contiguous(stream: str, after_version: int, events: Sequence[StoredEvent]) -> None:
    """Refuse a read of ``stream`` whose versions skip one: versions have no gaps, so a
    gap means an entry's columns were changed to take it out of the stream."""
    for expected, event in enumerate(events, after_version + 1):
        if event.version != expected:
            raise DerivedColumnForged(
                f"{stream}: version {expected} is missing from the stored stream (an "
                "entry's columns were changed in the database)", index=event.position)


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
