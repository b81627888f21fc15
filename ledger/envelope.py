"""DSSE envelopes: how a statement travels with its signatures.

An envelope is ``{"payloadType", "payload" (base64), "signatures": [{"keyid", "sig"}]}``
(DSSE v1). Each signature is Ed25519 over ``PAE(payloadType, payload)``. The ledger stores
the envelope re-encoded canonically (the envelope itself is not signed, only its payload)
and the payload bytes exactly as signed.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec

from . import b64
from .b64 import _ZERO_LOW4, canonical_form
from .canonical import canonical_bytes, check_depth
from .errors import MalformedEnvelope, TooDeep, UnknownPayloadType
from .keys import Ed25519PrivateKey, key_id
from .statement import Statement, _field_of

__all__ = [
    "PAYLOAD_TYPE",
    "Envelope",
    "Opened",
    "Signature",
    "decode_canonical",
    "decode_envelope",
    "decode_envelope_signed",
    "pae",
    "seal",
]

PAYLOAD_TYPE = "application/vnd.mutualisation-ledger.statement.v1+json"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_SIGNATURES = 8


class Signature(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    keyid: str
    sig: str


class Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A DSSE envelope as it appears on the wire (JSON names kept)."""

    payloadType: str
    payload: str
    signatures: list[Signature]

    def payload_bytes(self) -> bytes:
        return b64.decode(self.payload)

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payloadType,
            "payload": self.payload,
            "signatures": [{"keyid": s.keyid, "sig": s.sig} for s in self.signatures],
        }

    def canonical(self) -> bytes:
        """The bytes the ledger stores and puts in the Merkle leaf (RFC 8785 form).

        Envelope members are ASCII (a fixed payload type, base64, hex): msgspec's sorted
        encoder then gives exactly the canonical bytes; anything else takes the
        general path.
        """
        if self.payloadType.isascii() and self.payload.isascii() and all(
                s.keyid.isascii() and s.sig.isascii() for s in self.signatures):
            return _sorted.encode(self)  # members sorted by name, as in to_json()
        return canonical_bytes(self.to_json())


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding.

    ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` with LEN the decimal byte
    length, no leading zeros.
    """
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def seal(statement: Statement, *signers: Ed25519PrivateKey) -> Envelope:
    """Encode ``statement`` canonically and sign it with each of ``signers``."""
    payload = statement.encode()
    message = pae(PAYLOAD_TYPE, payload)
    sigs = [Signature(keyid=key_id(k), sig=b64.encode(k.sign(message))) for k in signers]
    return Envelope(payloadType=PAYLOAD_TYPE, payload=b64.encode(payload), signatures=sigs)


_decoder = msgspec.json.Decoder(Envelope)
_sorted = msgspec.json.Encoder(order="sorted")


class Opened(NamedTuple):
    """An envelope already checked by ``decode_envelope``, with its payload bytes."""

    envelope: Envelope
    payload: bytes


# Key ids already matched (the same few keys sign most envelopes); bounded.
_KEYIDS_MATCHED: set[str] = set()


def decode_envelope(
    value: bytes | dict[str, Any] | Envelope | Opened,
) -> tuple[Envelope, bytes]:
    """Validate an envelope's shape and return it with its decoded payload bytes.

    Accepts raw JSON bytes, an already-parsed JSON object or an Envelope. Checks the
    payload type, base64 forms and key id forms; signatures are checked elsewhere,
    against the key history.
    """
    if isinstance(value, Opened):
        return value.envelope, value.payload
    env, payload, _sigs = decode_envelope_signed(value)
    return env, payload


class _Signature64(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    keyid: str
    sig: bytes


class _Binary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The envelope with its base64 members decoded by msgspec (in C, faster than
    ``binascii``); their spelling is checked on the text separately."""

    payloadType: str
    payload: bytes
    signatures: list[_Signature64]


_binary_decoder = msgspec.json.Decoder(_Binary)


def decode_envelope_signed(
    value: bytes | dict[str, Any] | Envelope,
) -> tuple[Envelope, bytes, list[bytes]]:
    """``decode_envelope``, with the bytes of each signature (in order) as well.

    Raw JSON bytes take a fast path: the envelope is decoded twice by msgspec, once
    with its base64 members as text (for their canonical spelling and the Envelope)
    and once as bytes. Whatever the fast path does not accept goes through the text
    path, which decides and words the error; both give the same verdict on any input
    (``tests/property/test_core_props.py``).
    """
    if type(value) is bytes:
        check_depth(value, "envelope")
        try:
            env = _decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError) as exc:
            raise MalformedEnvelope(f"envelope: {exc}", field=_field_of(str(exc))) from exc
        try:
            binary = _binary_decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError):
            binary = None
        if binary is not None and env.payloadType == PAYLOAD_TYPE:
            signatures = env.signatures
            if len(signatures) == 1:  # the usual case, its checks written out
                s, sig = signatures[0], binary.signatures[0].sig
                # msgspec took the text as padded base64: 64 bytes are 86 characters
                # and "==", canonical when the last of them has zero spare bits.
                if (len(sig) == 64 and s.sig[-3] in _ZERO_LOW4 and s.keyid in _KEYIDS_MATCHED
                        and canonical_form(env.payload)):
                    return env, binary.payload, [sig]
            elif _checked_fast(env, binary):
                return env, binary.payload, [s.sig for s in binary.signatures]
    else:
        try:
            if isinstance(value, Envelope):
                env = value
            elif isinstance(value, bytes):
                check_depth(value, "envelope")
                env = _decoder.decode(value)
            else:
                env = msgspec.convert(value, Envelope)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError) as exc:
            raise MalformedEnvelope(f"envelope: {exc}", field=_field_of(str(exc))) from exc
    return _decode_texts(env)


def decode_canonical(data: bytes) -> tuple[str, bytes, list[tuple[str, bytes]]] | None:
    """For bytes that must be an envelope's canonical form (a Merkle leaf holds it):
    its payload type, payload bytes and (key id, signature bytes) pairs, when the bytes
    are a well-formed envelope in canonical form; None for anything else, which
    ``decode_envelope_signed`` and ``Envelope.canonical`` then decide and word.

    One decode, base64 members as bytes, and one sorted encode: msgspec writes bytes
    as standard padded base64, the one canonical spelling, so bytes that encode back
    identically had their members sorted, no space, no escape and every base64 text
    canonical (``tests/property/test_core_props.py`` holds it to the reference path).
    """
    try:
        check_depth(data, "envelope")
        binary = _binary_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, TooDeep):
        return None
    signatures = binary.signatures
    if binary.payloadType != PAYLOAD_TYPE or not 1 <= len(signatures) <= MAX_SIGNATURES:
        return None
    pairs = [(s.keyid, s.sig) for s in signatures]
    for keyid, sig in pairs:
        if keyid not in _KEYIDS_MATCHED or len(sig) != 64:
            return None
    if len(pairs) > 1 and len({keyid for keyid, _ in pairs}) != len(pairs):
        return None
    if _sorted.encode(binary) != data:
        return None
    return binary.payloadType, binary.payload, pairs


def _checked_fast(env: Envelope, binary: _Binary) -> bool:
    """True when the decoded members pass every check ``_decode_texts`` makes; False
    sends the envelope there, to be refused with the right words."""
    signatures = env.signatures
    if not canonical_form(env.payload) or not 1 <= len(signatures) <= MAX_SIGNATURES:
        return False
    for s, b in zip(signatures, binary.signatures, strict=True):
        if s.keyid not in _KEYIDS_MATCHED or len(b.sig) != 64 or not canonical_form(s.sig):
            return False
    return len(signatures) == 1 or len({s.keyid for s in signatures}) == len(signatures)


def _decode_texts(env: Envelope) -> tuple[Envelope, bytes, list[bytes]]:
    """Every check of the envelope's members, on their text (the reference path)."""
    if env.payloadType != PAYLOAD_TYPE:
        raise UnknownPayloadType(
            f"payloadType {env.payloadType!r} is not {PAYLOAD_TYPE!r}", field="payloadType"
        )
    try:
        payload = b64.decode(env.payload)
    except ValueError as exc:
        raise MalformedEnvelope(f"payload: {exc}", field="payload") from exc
    signatures = env.signatures
    if not signatures:
        raise MalformedEnvelope("envelope carries no signature", field="signatures")
    if len(signatures) > MAX_SIGNATURES:
        raise MalformedEnvelope(
            f"too many signatures {len(signatures)}, want at most {MAX_SIGNATURES}",
            field="signatures",
        )
    seen: set[str] = set()
    return env, payload, [_check_signature(s, i, seen) for i, s in enumerate(signatures)]


def _check_signature(s: Signature, i: int, seen: set[str]) -> bytes:
    """A key id of 64 lower-case hex digits, not in ``seen`` (then added), and 64
    signature bytes in canonical base64."""
    if s.keyid not in _KEYIDS_MATCHED:
        if not _HEX64.fullmatch(s.keyid):
            raise MalformedEnvelope("keyid must be 64 lower-case hex digits",
                                    field=f"signatures[{i}].keyid")
        if len(_KEYIDS_MATCHED) >= 4096:
            _KEYIDS_MATCHED.clear()
        _KEYIDS_MATCHED.add(s.keyid)
    if s.keyid in seen:
        raise MalformedEnvelope("two signatures by the same key",
                                field=f"signatures[{i}].keyid")
    seen.add(s.keyid)
    try:
        raw = b64.decode(s.sig)
    except ValueError as exc:
        raise MalformedEnvelope(f"sig: {exc}", field=f"signatures[{i}].sig") from exc
    if len(raw) != 64:
        raise MalformedEnvelope(f"wrong signature size {len(raw)}, want 64",
                                field=f"signatures[{i}].sig")
    return raw
