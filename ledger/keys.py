"""Ed25519 keys: key ids, raw public keys, private key files.

A key id is the lower-case hex SHA-256 of the raw 32-byte public key, so anyone can
recompute it from the key alone. Private keys live in PEM (PKCS#8) files with mode 0600.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_private_key",
    "key_id",
    "load_private_key",
    "private_key_from_seed",
    "public_key_from_raw",
    "raw_public_key",
    "save_private_key",
    "verify_signature",
]


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 private key from the operating system's randomness."""
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """Deterministic key from a 32-byte seed (test vectors, reproducible demos)."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key (RFC 8032 encoding)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """Load a raw 32-byte public key; raises ValueError if it is not one."""
    if len(raw) != 32:
        raise ValueError(f"wrong public key size {len(raw)}, want 32")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(public: bytes | Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Hex SHA-256 of the raw public key."""
    raw = public if isinstance(public, bytes) else raw_public_key(public)
    return hashlib.sha256(raw).hexdigest()


def verify_signature(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message``."""
    try:
        public_key_from_raw(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, readable by its owner only (0600).

    The file is created with mode 0600 from the start, never widened afterwards.
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a key written by ``save_private_key`` (or any PKCS#8 Ed25519 PEM)."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key
