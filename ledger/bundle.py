"""The audit bundle: a JSON Lines export of the whole log, verifiable offline.

Line 1, the header: ``{"format": "mutualisation-ledger-bundle/1", "origin", "vkey", "size"}``.
Then one line per log entry in index order: ``{"index", "leaf" (base64 leaf bytes),
"envelope" (the DSSE envelope as a JSON object)}``. Then one line per checkpoint:
``{"checkpoint": "<signed note text>"}``. Export streams from one database snapshot,
so memory stays flat however long the log.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import IO, Any

import msgspec

from . import b64
from .leaf import encode_leaf
from .store import PostgresStore

__all__ = ["BUNDLE_FORMAT", "export_bundle", "header_line"]

BUNDLE_FORMAT = "mutualisation-ledger-bundle/1"
_enc = msgspec.json.Encoder()


def header_line(origin: str, vkey: str, size: int) -> bytes:
    return _enc.encode({"format": BUNDLE_FORMAT, "origin": origin, "vkey": vkey,
                        "size": size}) + b"\n"


def entry_line(index: int, leaf: bytes, envelope: bytes) -> bytes:
    """One entry line. ``envelope`` is the stored canonical JSON, embedded verbatim."""
    head = _enc.encode({"index": index, "leaf": b64.encode(leaf)})
    return head[:-1] + b',"envelope":' + envelope + b"}\n"


def checkpoint_line(note: str) -> bytes:
    return _enc.encode({"checkpoint": note}) + b"\n"


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


def parse_line(line: bytes) -> dict[str, Any]:
    value = msgspec.json.decode(line)
    if not isinstance(value, dict):
        raise ValueError("bundle line is not a JSON object")
    return value
