"""The checks of one entry line, as a worker makes them: the line's shape, its leaf, its
envelope, its statement, its signatures.

What passes becomes a ``Row``: what the main sequence needs of the entry, and no more.
A worker learns each key an entry introduces (registration, key added) as it reads it;
a signature whose key it does not know yet travels with the row (``Pending``), and the
main process verifies it with the key its history holds at that position. A key id is
the SHA-256 of the key, so wherever a key was learned, it is the one key that id names;
whether it may sign there is the key history's question, answered in the main process.
"""

from __future__ import annotations

import binascii
import contextlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import msgspec
from cryptography.exceptions import InvalidSignature

from .. import b64, merkle
from ..canonical import MAX_DEPTH, canonical_bytes
from ..envelope import decode_canonical, decode_envelope_signed, pae
from ..errors import LedgerError, Rejected, TooDeep
from ..keys import key_id as compute_key_id
from ..keys import public_key_from_raw
from ..leaf import LEAF_HEADER_SIZE, decode_leaf
from ..registry import ORG_KEY_ADDED, ORG_REGISTERED
from ..statement import Statement, event_hash, parse_statement
from .report import Failure, refused

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from .replay import Replay

__all__ = ["Checked", "EntryChecker", "Held", "KeyCache", "Pending", "Row", "registered",
           "statement_decoder"]


class _Entry(msgspec.Struct):
    """An entry line as exported; ``envelope`` kept as the raw bytes of the line."""

    index: int
    leaf: str
    envelope: msgspec.Raw


_entry_decoder = msgspec.json.Decoder(_Entry)
_LEAF_HEAD = struct.Struct(">QQ")  # index, recorded_at_us (see ledger.leaf)
statement_decoder = msgspec.json.Decoder(Statement)


class Pending(msgspec.Struct, array_like=True, gc=False):
    """The signatures of an entry its worker could not verify, not knowing their keys
    yet: the signed message (DSSE PAE) and each (key id, signature), in order."""

    message: bytes
    signatures: list[tuple[str, bytes]]


class Row(msgspec.Struct, array_like=True, gc=False):
    """What the main sequence needs of an entry that passed a worker's checks. Rows
    cross from workers to the main process as MessagePack arrays (cheaper than pickling
    them). ``payload`` is shipped for organization streams only (the key history needs
    them); the sequence rebuilds enough of any other statement."""

    stream: str
    version: int
    prev: str | None
    event_hash: str
    actor: str
    key: str
    type: str
    cosigners: tuple[str, ...]   # the other signatures' key ids
    recorded_us: int
    payload: bytes | None
    pending: Pending | None      # signatures left for the main process to verify


class Checked(NamedTuple):
    """An entry that passed: its leaf hash, its row, its log index, and the replay
    partition it goes to (None: not replayed)."""

    leaf_hash: bytes
    row: Row
    log_index: int
    route: str | None


@dataclass(frozen=True, slots=True)
class Held:
    """An entry's failure, and signatures before it its worker could not verify: the
    main process checks them first (a bad signature there is the entry's first fault)."""

    failure: Failure
    pending: Pending


class KeyCache:
    """Ed25519 public keys loaded once per process, by their raw bytes."""

    def __init__(self) -> None:
        self._keys: dict[bytes, Ed25519PublicKey] = {}

    def verify(self, raw: bytes, signature: bytes, message: bytes) -> bool:
        key = self._keys.get(raw)
        if key is None:
            key = self._keys[raw] = public_key_from_raw(raw)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def introduced(st: Statement) -> tuple[str, bytes] | None:
    """(key id, raw key) of the key an organization's statement introduces
    (registration, key added), if it names one well-formed; the entry's checks say the
    rest."""
    if st.type in (ORG_REGISTERED, ORG_KEY_ADDED) and st.stream.startswith("org/"):
        data = st.data
        text = data.get("public_key") if isinstance(data, dict) else None
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                raw = b64.decode(text)
                if len(raw) == 32:
                    return compute_key_id(raw), raw
    return None


def registered(message: bytes, kid: str) -> bytes | None:
    """The key ``kid`` when the signed statement is a registration of it: signed by the
    key it registers, before the history holds that key. The statement is the last
    field of the DSSE message (its payload type has no space)."""
    with contextlib.suppress(ValueError, msgspec.DecodeError):
        st = statement_decoder.decode(message.split(b" ", 4)[-1])
        if st.type == ORG_REGISTERED:
            key = introduced(st)
            if key is not None and key[0] == kid:
                return key[1]
    return None


def _leaf_of(entry: _Entry) -> tuple[bytes, bytes | None]:
    """The entry's leaf bytes, and the envelope's bytes when the leaf is its 16-byte
    header followed by the line's envelope verbatim (else None).

    Usually it is: then encoding that guess (fast) and finding the entry's base64 text
    proves it, and is cheaper than decoding the text. Otherwise the text is decoded
    (strictly) as usual."""
    text = entry.leaf.encode("ascii", "replace")
    if len(text) > 24:
        envelope = bytes(entry.envelope)
        guess = binascii.a2b_base64(text[:24])[:LEAF_HEADER_SIZE] + envelope
        if binascii.b2a_base64(guess, newline=False) == text:
            return guess, envelope
    return b64.decode(entry.leaf), None


def _held(failure: Failure, message: bytes, unknown: list[tuple[str, bytes]] | None
          ) -> Failure | Held:
    return failure if unknown is None else Held(failure, Pending(message, unknown))


class EntryChecker:
    """One process's checks of entry lines for the audit of the ledger ``origin``: the
    keys it has learned so far (key id -> raw key), its key objects, and the replay's
    router (``route``), when rules are replayed."""

    def __init__(self, origin: str, router: Replay | None) -> None:
        self.origin = origin
        self.router = router
        self.known: dict[str, bytes] = {}
        self.keys = KeyCache()

    def learn(self, st: Statement) -> None:
        """The key an organization's statement introduces, known from here on.
        Learned before the statement is checked: an id names one key whatever the
        entry's fate, and a registration is signed by its own key."""
        key = introduced(st)
        if key is not None:
            self.known[key[0]] = key[1]

    def check(self, line: memoryview, expected: int | None) -> Checked | Failure | Held:
        """Check one entry line (``expected``: the index it must carry, when known)."""
        index: int | None = None
        try:
            try:
                entry = _entry_decoder.decode(line)
            except msgspec.ValidationError:
                found = msgspec.json.decode(line)
                index = found.get("index") if isinstance(found, dict) else None
                if type(index) is not int:
                    return Failure(None, "entry-malformed", "entry line has no integer index")
                raise
            index = entry.index
            if expected is not None and index != expected:
                return Failure(expected, "entry-missing",
                               f"expected entry {expected}, found entry {index}")
            leaf, verbatim = _leaf_of(entry)
            if verbatim is not None:
                leaf_index, recorded_us = _LEAF_HEAD.unpack_from(leaf)
                leaf_envelope = verbatim
            else:
                leaf_index, recorded_us, leaf_envelope = decode_leaf(leaf)
            if leaf_index != index:
                return Failure(index, "leaf-index", f"leaf carries index {leaf_index}")
            # Our exporter writes the envelope's canonical bytes verbatim; other writers
            # may space it differently: then it must re-encode to the leaf's bytes.
            if verbatim is None and leaf_envelope != bytes(entry.envelope) and canonical_bytes(
                    msgspec.json.decode(entry.envelope)) != leaf_envelope:
                return Failure(index, "leaf-envelope",
                               "the leaf bytes do not hold this entry's envelope")
            opened = decode_canonical(leaf_envelope)
            if opened is not None:
                payload_type, payload, signatures = opened
            else:  # the reference path decides, and words what is wrong
                env, payload, sigs = decode_envelope_signed(leaf_envelope)
                # The leaf holds the envelope's canonical bytes (checked above when the
                # line spells the envelope otherwise; here, when it repeats the leaf's).
                if verbatim is not None and env.canonical() != leaf_envelope:
                    return Failure(index, "leaf-envelope", "the leaf holds its envelope in "
                                   "a form that is not canonical JSON")
                payload_type = env.payloadType
                signatures = [(s.keyid, sig)
                              for s, sig in zip(env.signatures, sigs, strict=True)]
            st = parse_statement(payload)
            if st.ledger != self.origin:
                return Failure(index, "wrong-ledger", f"statement is for ledger {st.ledger!r}")
            org = st.stream.startswith("org/")
            if org:
                self.learn(st)
            message = pae(payload_type, payload)
            known = self.known
            signed_by_actor = False
            cosigners: list[str] = []
            unknown: list[tuple[str, bytes]] | None = None
            for kid, sig in signatures:
                raw = known.get(kid)
                if raw is None:  # introduced where this worker has not read: the main checks
                    if unknown is None:
                        unknown = []
                    unknown.append((kid, sig))
                elif not self.keys.verify(raw, sig, message):
                    return _held(Failure(index, "signature-invalid",
                                         f"signature by key {kid} does not verify"),
                                 message, unknown)
                if kid == st.key:
                    signed_by_actor = True
                else:
                    cosigners.append(kid)
            if not signed_by_actor:
                return _held(Failure(index, "signature-missing",
                                     "no signature by the statement's key"), message, unknown)
            try:  # where the statement goes, when rules are replayed
                route = None if self.router is None else self.router.route(st)
            except Rejected as exc:
                return _held(refused(index, exc), message, unknown)
            return Checked(merkle.hash_leaf(leaf), Row(
                st.stream, st.version, st.prev, event_hash(payload), st.actor, st.key,
                st.type, tuple(cosigners), recorded_us, payload if org else None,
                None if unknown is None else Pending(message, unknown)), index, route)
        except LedgerError as exc:
            return Failure(index, exc.code, exc.detail)
        except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
            return Failure(index, "entry-malformed", f"{type(exc).__name__}: {exc}")
        except RecursionError:  # deeper than any decoder goes; what it holds is checked above
            return Failure(index, TooDeep.code,
                           f"entry line nests arrays and objects more than {MAX_DEPTH} levels deep")
