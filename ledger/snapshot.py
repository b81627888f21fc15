"""Snapshots of an agreement's state: the encoding, the seal, and the checks on reading.

Why: folding a long agreement (hundreds or thousands of events) on every read that
misses the cache makes a read's cost grow with the agreement's history. A snapshot is
the state folded up to a stream version, stored; a read folds only the events after it.

Why sealed: a snapshot is derived data in the database, which a database superuser can
change; what is served must still be what the signed events say. So each snapshot
carries an HMAC-SHA256 under a key derived from the log operator's private key (held
by the server, never by the database) over the format, the stream, the version, the
hash of the event at that version and the state bytes; and the terms' state hash,
recomputed from the decoded state. A snapshot that fails any check is refused
(:class:`SnapshotRejected`): the caller discards it and refolds from the events.

Why a format number: a snapshot is the encoding of the state's shape when it was made.
When ``AgreementState`` (or what ``evolve`` makes of events) changes, ``FORMAT`` is
raised and every older snapshot is simply ignored (then made again), never decoded
into a shape it was not written for.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from typing import Final

import msgspec

from .domain import AgreementState, state_hash

__all__ = ["FORMAT", "SealedSnapshot", "SnapshotRejected", "derive_key", "open_snapshot",
           "seal_key", "seal_mac", "seal_snapshot"]

#: The encoding of snapshot states. Raise it whenever ``AgreementState`` or the fold
#: changes: snapshots of any other format are ignored.
FORMAT: Final = 1

_KEY_LABEL: Final = b"mutualisation-ledger/agreement-snapshot-seal/1\n"
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AgreementState)


class SnapshotRejected(Exception):
    """A stored snapshot that must not be used (the reason says which check failed)."""


@dataclass(frozen=True, slots=True)
class SealedSnapshot:
    """A snapshot as stored: ``event_hash`` is the hex hash of the stream's event at
    ``version``."""

    stream: str
    version: int
    event_hash: str
    format: int
    state: bytes
    state_hash: str
    seal: bytes


def derive_key(label: bytes, secret: bytes) -> bytes:
    """The key sealing one kind of derived data (named by ``label``), derived from
    ``secret``, the log operator's private key bytes: SHA-256 of the two."""
    return hashlib.sha256(label + secret).digest()


def seal_mac(key: bytes, fmt: int, name: str, numbers: tuple[int, ...],
             *parts: bytes) -> bytes:
    """HMAC-SHA256 over the format and the name's length (4 bytes each), ``numbers``
    (8 bytes each), the name, then ``parts``; all integers big-endian. Every sealed
    kind (snapshots here, the projection runner's images) is one call."""
    encoded = name.encode()
    message = b"".join((struct.pack(f">II{len(numbers)}Q", fmt, len(encoded), *numbers),
                        encoded, *parts))
    return hmac.new(key, message, hashlib.sha256).digest()


def seal_key(secret: bytes) -> bytes:
    """The snapshots' sealing key derived from ``secret`` (the log key's bytes)."""
    return derive_key(_KEY_LABEL, secret)


def _mac(key: bytes, stream: str, version: int, event_hash: str, fmt: int,
         state: bytes) -> bytes:
    return seal_mac(key, fmt, stream, (version,), bytes.fromhex(event_hash), state)


def seal_snapshot(key: bytes, stream: str, version: int, event_hash: str,
                  state: AgreementState) -> SealedSnapshot:
    """The snapshot of ``state``, folded up to the event ``event_hash`` at ``version``."""
    data = _encoder.encode(state)
    return SealedSnapshot(stream, version, event_hash, FORMAT, data,
                          state_hash(state), _mac(key, stream, version, event_hash, FORMAT,
                                                  data))


def open_snapshot(key: bytes, snapshot: SealedSnapshot, event_hash: str | None
                  ) -> AgreementState:
    """The state a stored snapshot holds, once every check passed.

    ``event_hash``: the hash of the stream's event at the snapshot's version as the log
    holds it now (None: no such event). Raises :class:`SnapshotRejected`."""
    if snapshot.format != FORMAT:
        raise SnapshotRejected(f"format {snapshot.format}, not {FORMAT}")
    if event_hash is None or event_hash != snapshot.event_hash:
        raise SnapshotRejected(f"made after event {snapshot.event_hash[:16]}…, but the log "
                               f"holds {event_hash} at version {snapshot.version}")
    expected = _mac(key, snapshot.stream, snapshot.version, snapshot.event_hash,
                    snapshot.format, snapshot.state)
    if not hmac.compare_digest(expected, snapshot.seal):
        raise SnapshotRejected("its seal does not match its contents")
    try:
        state = _decoder.decode(snapshot.state)
    except msgspec.DecodeError as exc:
        raise SnapshotRejected(f"its state does not decode: {exc}") from None
    if state_hash(state) != snapshot.state_hash:
        raise SnapshotRejected("its state does not have its state hash")
    if state.version > snapshot.version:
        raise SnapshotRejected(f"its state is at version {state.version}, past "
                               f"{snapshot.version}")
    return state
