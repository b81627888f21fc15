"""Signed checkpoints of the global log: C2SP tlog-checkpoint in a C2SP signed-note.

Formats (c2sp.org/tlog-checkpoint, c2sp.org/signed-note, Ed25519 signature type 0x01;
byte-for-byte in ``docs/PROTOCOL.md (Part II)``)::

    body      = origin LF decimal-size LF base64(root hash) LF
    note      = body LF 1*( U+2014 SP key-name SP base64(key ID || signature) LF )
    key ID    = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    vkey      = key-name "+" hex8(key ID) "+" base64(0x01 || 32-byte public key)

The ledger signs with key name = origin, writes no extension lines and refuses to
read any. Parsing is strict: one spelling per value (canonical padded base64, no
leading zeros, lower-case hex key IDs). Opening a note verifies it against ONE
pinned :class:`Verifier`: signature lines of other keys are ignored, as the spec
requires; every line of the pinned key must verify, and at least one must exist.

Beyond golang.org/x/mod/sumdb/note, a verifier refuses an Ed25519 public key that is
a small-order point or a non-canonical encoding: under such a key, signatures can be
made without any private key.
"""

from __future__ import annotations

import hashlib
import re

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from ledger import b64

__all__ = [
    "ALG_ED25519",
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "MAX_TREE_SIZE",
    "SIGNATURE_PREFIX",
    "Checkpoint",
    "CheckpointError",
    "Verifier",
    "is_valid_key_name",
    "make_vkey",
    "note_key_id",
    "open_checkpoint",
    "open_note",
    "parse_body",
    "parse_vkey",
    "sign_checkpoint",
    "sign_note",
]

ALG_ED25519 = 0x01
"""Signature type byte of Ed25519 in c2sp.org/signed-note."""

SIGNATURE_PREFIX = "\u2014 "
"""A signature line starts with EM DASH (U+2014, bytes E2 80 94) and a space."""

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec asks to accept at least 16)."""

MAX_NOTE_BYTES = 1 << 20
"""Largest note, in bytes, that :func:`open_note` reads."""

MAX_TREE_SIZE = (1 << 64) - 1
"""Largest tree size a checkpoint may state (uint64, as other implementations)."""

HASH_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4

_DECIMAL = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_HEX8 = re.compile(r"[0-9a-f]{8}", re.ASCII)


class CheckpointError(Exception):
    """A checkpoint, signed note or verifier key is malformed or does not verify."""


# --- text rules ----------------------------------------------------------------------


def _control_char(text: str) -> str | None:
    """The first ASCII control character other than LF in ``text``, if any."""
    for ch in text:
        if ch < " " and ch != "\n":
            return ch
    return None


def _decode_utf8(data: bytes | str, what: str) -> str:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise CheckpointError(f"{what} is not valid UTF-8: {exc}") from exc
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{what} is not valid UTF-8: {exc}") from exc


def is_valid_key_name(name: str) -> bool:
    """True for a valid signed-note key name.

    Non-empty, valid UTF-8, no Unicode space (``str.isspace``), no ``+``, and no ASCII
    control character.
    """
    if not name or "+" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ch.isspace() or ch < " " for ch in name)


def _require_key_name(name: str) -> None:
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise CheckpointError(
            f"invalid key name {name!r}: must be non-empty, without spaces, '+' "
            "or control characters"
        )


# --- checkpoint body -----------------------------------------------------------------


class Checkpoint(msgspec.Struct, frozen=True):
    """A tree head: the log ``origin``, its tree ``size`` and the ``root_hash`` at it.

    Construction checks: origin non-empty, valid UTF-8, no control characters (so no
    newline); 0 <= size <= 2**64 - 1; root_hash of 32 bytes.
    """

    origin: str
    size: int
    root_hash: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin is empty")
        _decode_utf8(self.origin, "checkpoint origin")
        bad = next((ch for ch in self.origin if ch < " "), None)
        if bad is not None:
            raise CheckpointError(f"checkpoint origin contains control character {bad!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"checkpoint size must be an integer, got {self.size!r}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint size {self.size} out of range [0, 2**64 - 1]")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            got = len(self.root_hash) if isinstance(self.root_hash, bytes) else self.root_hash
            raise CheckpointError(f"checkpoint root hash has size {got!r}, want {HASH_SIZE}")

    def body(self) -> bytes:
        """The note text: ``origin\\nsize\\nbase64(root)\\n``, UTF-8, no extension lines."""
        return f"{self.origin}\n{self.size}\n{b64.encode(self.root_hash)}\n".encode()

    @classmethod
    def parse_body(cls, text: bytes | str) -> Checkpoint:
        """Same as the module-level :func:`parse_body`."""
        return parse_body(text)


def parse_body(text: bytes | str) -> Checkpoint:
    """Parse a checkpoint body written by :meth:`Checkpoint.body`; strict.

    Refuses: invalid UTF-8, control characters, a missing final newline, fewer or
    more than three lines (this ledger accepts no extension lines), an empty origin,
    a size that is not canonical ASCII decimal (leading zeros, signs, spaces) or
    exceeds 2**64 - 1, and a root hash that is not canonical padded base64 of 32
    bytes. Raises :class:`CheckpointError` saying which rule failed.
    """
    body = _decode_utf8(text, "checkpoint body")
    bad = _control_char(body)
    if bad is not None:
        raise CheckpointError(f"checkpoint body contains control character {bad!r}")
    if not body.endswith("\n"):
        raise CheckpointError("checkpoint body does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint body has {len(lines)} lines, want 3")
    if len(lines) > 3:
        raise CheckpointError(
            f"checkpoint body has {len(lines) - 3} extension line(s); this ledger accepts none"
        )
    origin, size_text, root_text = lines
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(
            f"checkpoint size {size_text!r} is not canonical decimal (digits, no leading zeros)"
        )
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint size {size_text} exceeds 2**64 - 1")
    try:
        root = b64.decode(root_text)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint root hash {root_text!r}: {exc}") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash has size {len(root)}, want {HASH_SIZE}")
    return Checkpoint(origin, size, root)


# --- Ed25519 public key hygiene ------------------------------------------------------

_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _ed25519_decode(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding, strict: None unless canonical and on the curve."""
    y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
    sign = raw[31] >> 7
    if y >= _P:
        return None
    u, v = (y * y - 1) % _P, (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
        if (x * x - x2) % _P != 0:
            return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = _P - x
    return x, y


def _ed25519_double(pt: tuple[int, int]) -> tuple[int, int]:
    x, y = pt
    t = _D * x * x * y * y % _P
    x3 = 2 * x * y * pow(1 + t, _P - 2, _P) % _P
    y3 = (y * y + x * x) * pow(1 - t, _P - 2, _P) % _P
    return x3, y3


def _check_ed25519_public_key(raw: bytes) -> None:
    """Refuse keys that are not 32 bytes, not a canonical point, or of small order."""
    if len(raw) != PUBLIC_KEY_SIZE:
        raise CheckpointError(f"Ed25519 public key has size {len(raw)}, want {PUBLIC_KEY_SIZE}")
    point = _ed25519_decode(raw)
    if point is None:
        raise CheckpointError(
            "unsafe verifier key: Ed25519 public key is not a canonically encoded curve point"
        )
    for _ in range(3):
        point = _ed25519_double(point)
    if point == (0, 1):
        raise CheckpointError("unsafe verifier key: Ed25519 public key is a small-order point")


def _raw_public_key(key: bytes | Ed25519PublicKey) -> bytes:
    if isinstance(key, Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return bytes(key)


# --- key IDs and verifier keys -------------------------------------------------------


def note_key_id(name: str, public_key: bytes | Ed25519PublicKey) -> bytes:
    """The 4-byte Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || public key)[:4].

    Read as a big-endian uint32 where a number is wanted. Requires a valid key name
    and a 32-byte public key.
    """
    _require_key_name(name)
    raw = _raw_public_key(public_key)
    if len(raw) != PUBLIC_KEY_SIZE:
        raise CheckpointError(f"Ed25519 public key has size {len(raw)}, want {PUBLIC_KEY_SIZE}")
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + raw).digest()[:KEY_ID_SIZE]


class Verifier(msgspec.Struct, frozen=True):
    """A pinned Ed25519 note verifier: key ``name``, 4-byte ``key_id``, raw ``public_key``.

    Construction checks that the name is valid, the public key is a safe Ed25519 key
    and ``key_id == note_key_id(name, public_key)``.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        _require_key_name(self.name)
        _check_ed25519_public_key(self.public_key)
        want = note_key_id(self.name, self.public_key)
        if self.key_id != want:
            raise CheckpointError(
                f"key ID {self.key_id.hex()} does not match key {self.name!r}, want {want.hex()}"
            )

    @property
    def vkey(self) -> str:
        """This verifier's vkey string (see :func:`make_vkey`)."""
        return make_vkey(self.name, self.public_key)

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes | Ed25519PublicKey) -> Verifier:
        """A verifier for ``public_key`` under key ``name``."""
        raw = _raw_public_key(public_key)
        return cls(name, note_key_id(name, raw), raw)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


def make_vkey(name: str, public_key: bytes | Ed25519PublicKey) -> str:
    """The verifier key string ``<name>+<hex8 key ID>+<base64(0x01 || public key)>``."""
    raw = _raw_public_key(public_key)
    key_id = note_key_id(name, raw)
    return f"{name}+{key_id.hex()}+{b64.encode(bytes([ALG_ED25519]) + raw)}"


def parse_vkey(vkey: str) -> Verifier:
    """Parse a vkey made by :func:`make_vkey`; strict.

    The key ID must be 8 lower-case hex digits equal to the recomputed key ID, the key
    canonical padded base64 of 0x01 followed by a safe 32-byte Ed25519 public key.
    """
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("malformed vkey: want <name>+<hex8 key ID>+<base64 key>")
    name, id_text, key_text = parts
    _require_key_name(name)
    if not _HEX8.fullmatch(id_text):
        raise CheckpointError(f"malformed vkey: key ID {id_text!r} is not 8 lower-case hex digits")
    try:
        key = b64.decode(key_text)
    except ValueError as exc:
        raise CheckpointError(f"malformed vkey: key: {exc}") from exc
    if not key:
        raise CheckpointError("malformed vkey: empty key")
    if key[0] != ALG_ED25519:
        raise CheckpointError(
            f"unsupported signature type 0x{key[0]:02x} in vkey, want 0x{ALG_ED25519:02x}"
        )
    raw = key[1:]
    if len(raw) != PUBLIC_KEY_SIZE:
        raise CheckpointError(
            f"malformed vkey: Ed25519 public key has size {len(raw)}, want {PUBLIC_KEY_SIZE}"
        )
    return Verifier(name, bytes.fromhex(id_text), raw)


# --- signed notes --------------------------------------------------------------------


def _check_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise CheckpointError("note text does not end with a newline")
    bad = _control_char(text)
    if bad is not None:
        raise CheckpointError(f"note text contains control character {bad!r}")


def sign_note(text: bytes | str, name: str, private_key: Ed25519PrivateKey) -> str:
    """A signed note of ``text`` with one Ed25519 signature line under key ``name``.

    Requires: text valid UTF-8, ending in a newline, without control characters other
    than newline; a valid key name.
    """
    body = _decode_utf8(text, "note text")
    _check_note_text(body)
    _require_key_name(name)
    key_id = note_key_id(name, private_key.public_key())
    signature = private_key.sign(body.encode())
    return f"{body}\n{SIGNATURE_PREFIX}{name} {b64.encode(key_id + signature)}\n"


def open_note(note: bytes | str, verifier: Verifier) -> bytes:
    """Verify a signed note against one pinned key; return the signed text (bytes).

    Structure (c2sp.org/signed-note): valid UTF-8, no control characters other than
    newline, text and signatures split at the LAST blank line, 1 to 100 signature
    lines ``— <name> <base64(key ID || signature)>``, each well formed. Lines whose
    (name, key ID) is not the verifier's are ignored. Every line of the pinned key
    must carry a valid signature of the text, and there must be at least one.
    """
    raw = note.encode("utf-8") if isinstance(note, str) else note
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError(f"malformed note: {len(raw)} bytes, limit {MAX_NOTE_BYTES}")
    msg = _decode_utf8(note, "note")
    bad = _control_char(msg)
    if bad is not None:
        raise CheckpointError(f"malformed note: contains control character {bad!r}")
    split = msg.rfind("\n\n")
    if split < 0:
        raise CheckpointError("malformed note: no blank line before the signatures")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs:
        raise CheckpointError("malformed note: no signature lines")
    if not sigs.endswith("\n"):
        raise CheckpointError("malformed note: last signature line does not end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(
            f"malformed note: {len(lines)} signature lines, limit {MAX_SIGNATURES}"
        )
    text_bytes = text.encode()
    verified = 0
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(
                f"malformed note: signature line {number} does not start with '\u2014 '"
            )
        name, sep, sig_text = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not is_valid_key_name(name):
            raise CheckpointError(f"malformed note: signature line {number} has no valid key name")
        try:
            blob = b64.decode(sig_text)
        except ValueError as exc:
            raise CheckpointError(f"malformed note: signature line {number}: {exc}") from exc
        if len(blob) < KEY_ID_SIZE + 1:
            raise CheckpointError(f"malformed note: signature line {number} is too short")
        key_id, signature = blob[:KEY_ID_SIZE], blob[KEY_ID_SIZE:]
        if name != verifier.name or key_id != verifier.key_id:
            continue  # Another key: ignored, as the spec requires.
        if not verifier.verify(text_bytes, signature):
            raise CheckpointError(
                f"invalid signature for key {verifier.name}+{verifier.key_id.hex()} "
                f"on signature line {number}"
            )
        verified += 1
    if verified == 0:
        raise CheckpointError(
            f"note has no signature by key {verifier.name}+{verifier.key_id.hex()}"
        )
    return text_bytes


# --- checkpoints ---------------------------------------------------------------------


def sign_checkpoint(checkpoint: Checkpoint, private_key: Ed25519PrivateKey) -> str:
    """The signed note of ``checkpoint``, signed with key name = origin.

    Requires the origin to be a valid key name (no spaces, no '+').
    """
    return sign_note(checkpoint.body(), checkpoint.origin, private_key)


def open_checkpoint(note_text: bytes | str, verifier: Verifier) -> Checkpoint:
    """Verify a signed checkpoint against the pinned ``verifier`` and parse it.

    Checks the note (see :func:`open_note`), then the body (see :func:`parse_body`),
    then that the origin equals the verifier's key name.
    """
    body = open_note(note_text, verifier)
    checkpoint = parse_body(body)
    if checkpoint.origin != verifier.name:
        raise CheckpointError(
            f"checkpoint origin {checkpoint.origin!r} does not match key name {verifier.name!r}"
        )
    return checkpoint
