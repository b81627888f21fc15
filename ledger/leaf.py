"""Leaf bytes: how one log entry is serialized for the Merkle tree.

    leaf = u64be(index) ‖ u64be(recorded_at_us) ‖ envelope

``index`` is the entry's global position (0-based, gapless), ``recorded_at_us`` the
time the ledger recorded it in microseconds since 1970-01-01T00:00:00Z, and
``envelope`` the canonical JSON bytes of the DSSE envelope (RFC 8785 form of
``{"payload", "payloadType", "signatures": [{"keyid", "sig"}]}``). The Merkle leaf hash
is SHA-256(0x00 ‖ leaf).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

__all__ = ["LEAF_HEADER_SIZE", "decode_leaf", "encode_leaf", "from_micros", "micros"]

LEAF_HEADER_SIZE = 16
_HEADER = struct.Struct(">QQ")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_leaf(index: int, recorded_at_us: int, envelope: bytes) -> bytes:
    """The leaf bytes of the entry at ``index``."""
    return _HEADER.pack(index, recorded_at_us) + envelope


def decode_leaf(leaf: bytes) -> tuple[int, int, bytes]:
    """Split leaf bytes into (index, recorded_at_us, envelope bytes)."""
    if len(leaf) < LEAF_HEADER_SIZE:
        raise ValueError(f"wrong leaf size {len(leaf)}, want at least {LEAF_HEADER_SIZE}")
    index, recorded = _HEADER.unpack_from(leaf)
    return index, recorded, leaf[LEAF_HEADER_SIZE:]


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    """The aware UTC datetime of a microsecond timestamp."""
    return datetime.fromtimestamp(us // 1_000_000, UTC).replace(microsecond=us % 1_000_000)
