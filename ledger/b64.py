"""Strict base64: standard alphabet, padded, and canonical (RFC 4648 §4).

Signed material must have one spelling, so the ledger refuses base64 that does not
re-encode to itself (URL-safe letters, missing padding, non-zero trailing bits).
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def encode(data: bytes) -> str:
    """Standard, padded base64 text of ``data``."""
    return base64.b64encode(data).decode("ascii")


def decode(text: str) -> bytes:
    """Decode canonical standard base64; raises ValueError otherwise."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not standard base64: {exc}") from exc
    if encode(raw) != text:
        raise ValueError("base64 is not in canonical padded form")
    return raw
