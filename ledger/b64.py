"""Strict base64: standard alphabet, padded, and canonical (RFC 4648 §4).

Signed material must have one spelling, so the ledger refuses base64 that does not
re-encode to itself (URL-safe letters, missing padding, non-zero trailing bits).
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["canonical_form", "decode", "encode"]


def encode(data: bytes) -> str:
    """Standard, padded base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


# The character before the padding carries bits past the end of the data: canonical
# base64 leaves them zero. Before "==" four bits are spare, before "=" two.
_ZERO_LOW4 = frozenset("AQgw")
_ZERO_LOW2 = frozenset("AEIMQUYcgkosw048")


def decode(text: str) -> bytes:
    """Decode canonical standard base64; raises ValueError otherwise.

    ``binascii``'s strict mode refuses foreign characters, bad padding and data after
    the padding; what it lets through (a length that is not a multiple of four,
    non-zero spare bits before the padding) is checked here, without re-encoding.
    """
    try:
        raw = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not standard base64: {exc}") from exc
    if not canonical_form(text):
        raise ValueError("base64 is not in canonical padded form")
    return raw


def canonical_form(text: str) -> bool:
    """For text that decodes as standard padded base64: whether it is the canonical
    spelling (a length that is a multiple of four, zero spare bits before padding)."""
    if len(text) % 4:
        return False
    if text.endswith("="):
        return text[-3] in _ZERO_LOW4 if text.endswith("==") else text[-2] in _ZERO_LOW2
    return True
