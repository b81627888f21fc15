"""The audit bundle: a JSON Lines export of the whole log, verifiable offline.

Line 1, the header: ``{"format": "mutualisation-ledger-bundle/1", "origin", "vkey", "size"}``.
Then one line per log entry in index order: ``{"index", "leaf" (base64 leaf bytes),
"envelope" (the DSSE envelope as a JSON object)}``. Then one line per checkpoint:
``{"checkpoint": "<signed note text>"}`` (docs/PROTOCOL.md Part III).

This module is the line format alone, with no database: the offline auditor reads it,
and ``ledger.bundle_export`` writes it from the store.
"""

from __future__ import annotations

import msgspec

from . import b64

__all__ = ["BUNDLE_FORMAT", "checkpoint_line", "entry_line", "header_line"]

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
