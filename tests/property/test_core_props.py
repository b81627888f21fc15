"""Properties of the pure core: canonical JSON round trips, and tamper detection.

No database. Bit flips go through ``admission.prepare``, the same function the store
runs on every append: a flipped payload or signature must be refused with a typed error,
never accepted and never with another exception.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ledger.envelope as envelope_module
from ledger import b64
from ledger.admission import Limits, prepare
from ledger.canonical import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    canonical_json_bytes,
    parse_canonical,
)
from ledger.envelope import PAYLOAD_TYPE, decode_envelope_signed, seal
from ledger.errors import (
    BadSignature,
    LedgerError,
    Malformed,
    MalformedEnvelope,
    MalformedStatement,
    MissingActorSignature,
    NonCanonicalPayload,
    WrongLedger,
)
from ledger.keys import key_id, private_key_from_seed, raw_public_key
from ledger.leaf import micros
from ledger.statement import HEX64, Statement, is_hex64, parse_time

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# --- JSON values without floats --------------------------------------------------

nfc_text = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                   max_size=12).map(
    lambda s: unicodedata.normalize("NFC", s))
safe_ints = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
scalars = st.none() | st.booleans() | safe_ints | nfc_text
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(nfc_text, children, max_size=5),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equality that does not confuse True with 1 or a tuple with a list."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def oracle(value: Any) -> bytes:
    """An independent JCS encoder: json.dumps with members pre-sorted by UTF-16 units."""

    def sort(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: sort(v[k]) for k in sorted(v, key=lambda k: k.encode("utf-16-be"))}
        if isinstance(v, list):
            return [sort(x) for x in v]
        return v

    return json.dumps(sort(value), ensure_ascii=False, separators=(",", ":")).encode()


@SETTINGS
@given(json_values)
def test_parse_inverts_canonical_bytes(value):
    data = canonical_bytes(value)
    assert same(parse_canonical(data), value)


@SETTINGS
@given(json_values)
def test_canonical_bytes_is_idempotent(value):
    once = canonical_bytes(value)
    assert canonical_bytes(parse_canonical(once)) == once
    assert canonical_bytes(json.loads(once)) == once


@SETTINGS
@given(json_values)
def test_canonical_bytes_matches_an_independent_encoder(value):
    assert canonical_bytes(value) == oracle(value)


@SETTINGS
@given(json_values.filter(lambda v: isinstance(v, dict | list) and len(v) > 0))
def test_pretty_printed_forms_are_refused(value):
    pretty = json.dumps(value, ensure_ascii=False, indent=1).encode()
    assert pretty != canonical_bytes(value)
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(pretty)


@SETTINGS
@given(st.dictionaries(nfc_text, safe_ints, min_size=2, max_size=6))
def test_any_other_member_order_is_refused(value):
    canonical = canonical_bytes(value)
    reordered = json.dumps(dict(reversed(json.loads(canonical).items())),
                           ensure_ascii=False, separators=(",", ":")).encode()
    assert reordered != canonical
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(reordered)


# --- tamper detection through admission.prepare ---------------------------------

LEDGER = "test.mutualisation.example/ledger"
KEY = private_key_from_seed(b"\x11" * 32)
KID = key_id(KEY)
ISSUED = "2026-11-26T06:30:00.000000Z"
NOW_US = micros(parse_time(ISSUED))
# The clock-skew check runs before signature verification; a flipped digit of
# issued_at must reach the signature check, so the window is made very wide here.
WIDE = Limits(max_skew_us=10**20)

STATEMENT = Statement(
    ledger=LEDGER,
    stream="agreement/2026-compta",
    version=2,
    prev="ab" * 32,
    type="agreement.contribution_pledged",
    data={"amount": 125000, "unit": "EUR-cents", "note": "quote-part été", "ok": True},
    actor="centre-arts",
    key=KID,
    issued_at=ISSUED,
)
ENVELOPE = seal(STATEMENT, KEY).to_json()
PAYLOAD = b64.decode(ENVELOPE["payload"])
SIG = b64.decode(ENVELOPE["signatures"][0]["sig"])
PUBLIC = {KID: raw_public_key(KEY)}


def run_prepare(envelope: dict[str, Any]) -> Any:
    return prepare([envelope], ledger_id=LEDGER, now_us=NOW_US, public_key=PUBLIC.get,
                   limits=WIDE)


def flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def with_payload(payload: bytes) -> dict[str, Any]:
    env = dict(ENVELOPE)
    env["payload"] = b64.encode(payload)
    return env


def with_sig(sig_text: str) -> dict[str, Any]:
    env = dict(ENVELOPE)
    env["signatures"] = [{"keyid": KID, "sig": sig_text}]
    return env


def valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_untampered_envelope_is_accepted():
    [cand] = run_prepare(ENVELOPE)
    assert cand.payload == PAYLOAD and cand.statement == STATEMENT
    assert cand.signer_keys == (KID,)
    # and with the ledger's normal limits too
    prepare([ENVELOPE], ledger_id=LEDGER, now_us=NOW_US, public_key=PUBLIC.get)


def assert_payload_flip_refused(bit: int) -> None:
    tampered = flip(PAYLOAD, bit)
    try:
        run_prepare(with_payload(tampered))
    except (BadSignature, Malformed) as exc:
        assert exc.index == 0
    else:
        pytest.fail(f"payload with bit {bit} flipped was accepted: {tampered!r}")


# Bits of the 64 hex digits of the statement's "key" value: tested on their own below.
_KEY_AT = PAYLOAD.index(b'"key":"') + len(b'"key":"')
KEY_BITS = range(_KEY_AT * 8, (_KEY_AT + 64) * 8)
OTHER_BITS = [b for b in range(len(PAYLOAD) * 8) if b not in KEY_BITS]


@SETTINGS
@given(st.sampled_from(OTHER_BITS))
def test_payload_bit_flip_is_refused(bit):
    assert_payload_flip_refused(bit)


def test_every_payload_bit_flip_is_refused():
    outcomes: set[type[LedgerError]] = set()
    for bit in OTHER_BITS:
        try:
            run_prepare(with_payload(flip(PAYLOAD, bit)))
        except (BadSignature, Malformed) as exc:
            outcomes.add(type(exc))
        else:
            pytest.fail(f"payload with bit {bit} flipped was accepted")
    # the flips reach every layer: JSON/canonical form, statement, ledger id, signature
    assert {BadSignature, NonCanonicalPayload, MalformedStatement, WrongLedger} <= outcomes


def test_every_flip_of_the_key_value_is_refused():
    # whatever the error class, a flipped key id is never accepted
    for bit in KEY_BITS:
        with pytest.raises((BadSignature, Malformed, MissingActorSignature)):
            run_prepare(with_payload(flip(PAYLOAD, bit)))


def test_flip_of_the_key_value_is_a_bad_signature():
    for bit in KEY_BITS:
        tampered = flip(PAYLOAD, bit)
        with pytest.raises((BadSignature, Malformed)):
            run_prepare(with_payload(tampered))


def test_payload_bit_flip_breaking_utf8_is_refused_with_typed_error():
    # bit 7 of the first letter of "actor": '"a' -> '"\xe1', invalid UTF-8 in a string
    # (msgspec raises UnicodeDecodeError there, not DecodeError)
    bit = (PAYLOAD.index(b'"actor"') + 1) * 8 + 7
    assert not valid_utf8(flip(PAYLOAD, bit))
    with pytest.raises(NonCanonicalPayload):
        run_prepare(with_payload(flip(PAYLOAD, bit)))


@SETTINGS
@given(st.integers(0, len(SIG) * 8 - 1))
def test_signature_bit_flip_is_refused(bit):
    with pytest.raises(BadSignature) as info:
        run_prepare(with_sig(b64.encode(flip(SIG, bit))))
    assert info.value.index == 0
    assert info.value.field == "signatures[0].sig"


def test_every_signature_bit_flip_is_refused():
    for bit in range(len(SIG) * 8):
        with pytest.raises(BadSignature):
            run_prepare(with_sig(b64.encode(flip(SIG, bit))))


@SETTINGS
@given(st.data())
def test_signature_text_bit_flip_is_refused(data):
    text = ENVELOPE["signatures"][0]["sig"].encode("ascii")
    bit = data.draw(st.integers(0, len(text) * 8 - 1))
    tampered = flip(text, bit).decode("latin-1")
    try:
        run_prepare(with_sig(tampered))
    except BadSignature as exc:
        assert exc.field == "signatures[0].sig"
    except MalformedEnvelope as exc:  # the base64 itself broke
        assert exc.field == "signatures[0].sig"
    else:
        pytest.fail(f"signature text {tampered!r} was accepted")


def test_no_other_exception_on_any_signature_text_flip():
    text = ENVELOPE["signatures"][0]["sig"].encode("ascii")
    outcomes: set[type[LedgerError]] = set()
    for bit in range(len(text) * 8):
        with pytest.raises((BadSignature, MalformedEnvelope)) as info:
            run_prepare(with_sig(flip(text, bit).decode("latin-1")))
        outcomes.add(type(info.value))
    assert outcomes == {BadSignature, MalformedEnvelope}


def _b64_reference(text: str) -> bytes | None:
    """The definition: standard base64 that re-encodes to exactly itself."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


_B64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \né"


def _b64_edit(data: bytes, at: int, char: str, how: str) -> str:
    """Valid base64 of ``data`` with one character replaced, inserted or deleted."""
    text = base64.b64encode(data).decode("ascii")
    i = at % len(text)
    tail = text[i + 1:] if how != "insert" else text[i:]
    return text[:i] + ("" if how == "delete" else char) + tail


@given(st.one_of(
    st.text(alphabet=_B64_CHARS, max_size=12),
    st.binary(max_size=9).map(lambda b: base64.b64encode(b).decode("ascii")),
    st.builds(_b64_edit, st.binary(min_size=1, max_size=9), st.integers(0, 20),
              st.sampled_from(_B64_CHARS), st.sampled_from(["replace", "insert", "delete"])),
))
def test_b64_decode_accepts_exactly_the_canonical_forms(text: str) -> None:
    want = _b64_reference(text)
    if want is None:
        with pytest.raises(ValueError):
            b64.decode(text)
    else:
        assert b64.decode(text) == want


# --- the canonical fast path agrees with the general path ----------------------------

wild_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=8) | st.sampled_from(["\x00", "\ud800", "e\u0301", "\u00e9"]))
wild_values = st.recursive(
    wild_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


def _encodings(value: Any) -> list[bytes]:
    """Spellings of one value: canonical-looking, ASCII-escaped, unsorted."""
    out = []
    for ascii_only in (True, False):
        for sort in (True, False):
            with contextlib.suppress(ValueError, TypeError):
                out.append(json.dumps(value, ensure_ascii=ascii_only, sort_keys=sort,
                                      separators=(",", ":")).encode("utf-8", "surrogatepass"))
    return out


def _outcome(parse: Any, data: bytes) -> Any:
    try:
        return ("ok", parse(data))
    except NonCanonicalPayload:
        return ("refused",)


@SETTINGS
@given(wild_values)
def test_canonical_fast_path_agrees_with_the_general_path(value):
    from ledger.canonical import _parse_general

    for data in _encodings(value):
        fast, general = _outcome(parse_canonical, data), _outcome(_parse_general, data)
        assert fast[0] == general[0], data
        if fast[0] == "ok":
            assert same(fast[1], general[1])


@pytest.mark.parametrize("data", [
    b'{"a":1.0}', b'{"a":1e3}', b'{"a":-0}', b'{"a":9007199254740992}',
    b'{"a":"\\u0000"}', b'{"a":"\\ud800"}', b'{"a":"\\u00e9"}', b'{"b":1,"a":2}',
    b'{"a":1,"a":1}', b'{"a":"\\/"}', b'{"a":"\\u001F"}',
])
def test_canonical_fast_path_refuses_what_the_general_path_refuses(data):
    from ledger.canonical import _parse_general

    with pytest.raises(NonCanonicalPayload):
        _parse_general(data)
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(data)


wild_objects = st.recursive(
    wild_scalars | st.binary(max_size=3) | st.tuples(st.integers(0, 3)),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=4) | st.integers(0, 3), children, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(wild_objects)
def test_canonical_bytes_fast_path_agrees_with_the_checked_path(value):
    from ledger.canonical import _checked_canonical_bytes

    def outcome(encode: Any) -> Any:
        try:
            return ("ok", encode(value))
        except MalformedStatement:
            return ("refused",)

    assert outcome(canonical_bytes) == outcome(_checked_canonical_bytes)


# --- envelope decoding: the fast path (msgspec decodes the base64) against the text
# path (binascii, strict), on envelopes whose members are near-base64 junk.

_B64_CHARS = "ABCDQRSTghwx0189+/="
b64ish = st.one_of(
    st.binary(max_size=70).map(lambda raw: base64.b64encode(raw).decode()),
    st.text(alphabet=_B64_CHARS, max_size=12),
    st.binary(min_size=1, max_size=70).map(lambda raw: base64.b64encode(raw).decode()).flatmap(
        lambda text: st.integers(0, len(text) - 1).flatmap(lambda i: st.sampled_from(
            [text[:i] + c + text[i + 1:] for c in "ABQRgw=+-_ \\\"é"] + [text[:i], text + "="]))),
)


def _spare_bits(size: st.SearchStrategy[int]) -> st.SearchStrategy[str]:
    """Base64 of ``size`` bytes with the character before its padding replaced: the
    same bytes, but often non-zero spare bits (a non-canonical spelling)."""
    def respell(raw: bytes, c: str) -> str:
        text = base64.b64encode(raw).decode()
        pad = len(text) - len(text.rstrip("="))
        return text if not pad else text[:-pad - 1] + c + text[-pad:]
    return st.builds(respell, size.flatmap(lambda n: st.binary(min_size=n, max_size=n)),
                     st.sampled_from("AEQRgwx+/"))


b64ish = b64ish | _spare_bits(st.integers(1, 40))
sig_text = st.one_of(b64ish, _spare_bits(st.just(64)),
                     st.binary(min_size=64, max_size=64).map(
                         lambda raw: base64.b64encode(raw).decode()))
keyids = st.one_of(st.just("ab" * 32), st.just("cd" * 32), st.text(alphabet="0123456789abcdefA",
                                                                    min_size=63, max_size=65))


_SIG = base64.b64encode(bytes(range(64))).decode()
_SIG_SPARE = _SIG[:-3] + "R=="  # the same length, non-zero spare bits


@settings(max_examples=400, deadline=None)
@example(PAYLOAD_TYPE, "QR==", [("ab" * 32, _SIG)], False)       # payload spare bits
@example(PAYLOAD_TYPE, "QUF=", [("ab" * 32, _SIG)], False)
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG_SPARE)], False)  # signature spare bits
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG), ("ab" * 32, _SIG)], False)  # same key
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, "QUFB")], False)      # 3 signature bytes
@example(PAYLOAD_TYPE, "QQ==", [], False)                         # no signature
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)] * 9, False)    # too many
@example(PAYLOAD_TYPE, "QUFB", [("ab" * 32, _SIG), ("cd" * 32, _SIG)], True)
@example("text/plain", "QQ==", [("ab" * 32, _SIG)], False)
@example(PAYLOAD_TYPE, "QQ==", [("AB" * 32, _SIG)], False)        # key id not lower-case hex
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 31, _SIG)], False)        # key id too short
@given(st.one_of(st.just(PAYLOAD_TYPE), st.text(max_size=5)), b64ish,
       st.lists(st.tuples(keyids, sig_text), max_size=3),
       st.booleans())
def test_envelope_fast_path_agrees_with_the_text_path(payload_type, payload, sigs, escape):
    # Key ids already seen take the fast path: make sure the usual ones are.
    decode_envelope_signed(json.dumps({"payloadType": PAYLOAD_TYPE, "payload": "", "signatures": [
        {"keyid": k, "sig": base64.b64encode(bytes(64)).decode()} for k in ("ab" * 32, "cd" * 32)
    ]}).encode())
    obj = {"payloadType": payload_type, "payload": payload,
           "signatures": [{"keyid": k, "sig": s} for k, s in sigs]}
    raw = json.dumps(obj, ensure_ascii=escape).encode()
    if escape:  # a JSON escape inside a base64 member: the same text, spelled otherwise
        raw = raw.replace(b'"payload": "Q', b'"payload": "\\u0051', 1)

    def outcome(fn):
        try:
            env, body, signatures = fn()
        except LedgerError as exc:
            return type(exc).__name__, exc.field
        return env, body, signatures

    reference = outcome(lambda: envelope_module._decode_texts(envelope_module._decoder.decode(raw)))
    assert outcome(lambda: decode_envelope_signed(raw)) == reference
    assert outcome(lambda: decode_envelope_signed(raw)) == reference  # key ids now matched


@settings(max_examples=400, deadline=None)
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)], "canonical")       # the usual leaf
@example(PAYLOAD_TYPE, "QR==", [("ab" * 32, _SIG)], "canonical")       # payload spare bits
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG_SPARE)], "canonical")  # signature's
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)], "spaced")
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)], "escaped")
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)], "unsorted")
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG), ("ab" * 32, _SIG)], "canonical")
@example(PAYLOAD_TYPE, "QQ==", [("ab" * 32, _SIG)] * 9, "canonical")
@example(PAYLOAD_TYPE, "QQ==", [], "canonical")
@example("text/plain", "QQ==", [("ab" * 32, _SIG)], "canonical")
@given(st.one_of(st.just(PAYLOAD_TYPE), st.text(max_size=5)), b64ish,
       st.lists(st.tuples(keyids, sig_text), max_size=3),
       st.sampled_from(["canonical", "spaced", "escaped", "unsorted"]))
def test_decode_canonical_is_the_reference_path_on_canonical_bytes(payload_type, payload,
                                                                   sigs, spelling):
    """``decode_canonical`` (one binary decode, one encode) gives what the reference
    path gives for bytes that are an envelope's canonical form, and None for anything
    else: an envelope it refuses, or one spelled otherwise."""
    obj = {"payloadType": payload_type, "payload": payload,
           "signatures": [{"keyid": k, "sig": s} for k, s in sigs]}
    if spelling == "unsorted":
        raw = json.dumps(obj, separators=(",", ":")).encode()
    else:
        raw = json.dumps(obj, sort_keys=True, separators=(",", ":") if spelling != "spaced"
                         else (", ", ": ")).encode()
    if spelling == "escaped":
        raw = raw.replace(b'"payload":"Q', b'"payload":"\\u0051', 1)
    try:  # the reference; it also remembers the well-formed key ids, as a worker would
        env, body, signatures = decode_envelope_signed(raw)
        want = ((env.payloadType, body, [(s.keyid, sig) for s, sig in
                                         zip(env.signatures, signatures, strict=True)])
                if env.canonical() == raw else None)
    except LedgerError:
        want = None
    assert envelope_module.decode_canonical(raw) == want


@given(st.text(max_size=8), st.text(max_size=12),
       st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=3))
def test_envelope_canonical_is_the_canonical_bytes_of_its_json(payload_type, payload, sigs):
    """``Envelope.canonical`` (the sorted encoder on the Struct, when every member is
    ASCII) gives exactly ``canonical_bytes`` of the envelope's JSON object."""
    env = envelope_module.Envelope(payload_type, payload,
                                   [envelope_module.Signature(k, s) for k, s in sigs])
    try:
        want = canonical_bytes(env.to_json())
    except LedgerError:
        return  # text the canonical form refuses (not NFC, U+0000...)
    assert env.canonical() == want


# JSON types alone, as canonical_json_bytes' callers promise, but any text and integer:
# wide member names, text not in NFC, U+0000, lone surrogates, integers past 2^53.
json_typed = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4)
    | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(json_typed)
@example({"\ud800": 1, "a": 2})           # a lone surrogate as a member name
@example({"\U0001f600": 1, "\uffff": 2})   # code-point and UTF-16 orders differ
@example(["e\u0301"])                      # not NFC
@example({"n": 2**53})                     # past the safe range
def test_canonical_json_bytes_is_canonical_bytes_for_json_typed_values(value):
    def outcome(fn):
        try:
            return fn(value)
        except LedgerError as exc:
            return type(exc).__name__
    assert outcome(canonical_json_bytes) == outcome(canonical_bytes)


hexish = st.text(alphabet="0123456789abcdefABCDEF g\n\u0660\uff10", min_size=62, max_size=66)


@settings(max_examples=500)
@example("0" * 64)
@example("a" * 63 + "\n")       # "$" matches before a final newline; fullmatch does not
@example("a" * 64 + "\n")
@example("\u0660" * 64)         # Arabic-Indic digits: decimal, not ASCII
@example("A" * 64)
@given(st.one_of(hexish, st.text(max_size=70)))
def test_is_hex64_is_the_hex64_pattern(text: str) -> None:
    """The hash check without the expression agrees with the expression."""
    assert is_hex64(text) == bool(re.fullmatch(HEX64, text))
