"""RFC 8785 (JSON Canonicalization Scheme) restricted to what the ledger signs.

The ledger signs and hashes exact bytes, so exactly one encoding of a value is valid.
We use the JCS rules with three restrictions that remove every ambiguity JCS leaves to
number formatting and Unicode:

* no floating-point numbers at all (amounts are integers in a stated unit);
* integers only within the interoperable range -(2**53 - 1) .. 2**53 - 1;
* every string (keys included) in Unicode Normalization Form C, with no lone surrogate
  and no U+0000 (PostgreSQL's ``jsonb``, which the store keeps beside the exact bytes
  for queries, cannot hold it; no text of ours needs it).

Objects are serialized with members sorted by the UTF-16 code units of their names,
no insignificant whitespace, strings escaped as ECMAScript's JSON.stringify does
(only ``"``, ``\\`` and control characters below U+0020; ``\\b \\t \\n \\f \\r`` in
short form, the rest as ``\\u00xx`` in lower-case hex), everything else as UTF-8.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import msgspec

from .errors import MalformedStatement, NonCanonicalPayload, TooDeep

__all__ = [
    "MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "NOT_PLAIN",
    "canonical_bytes",
    "canonical_json_bytes",
    "check_depth",
    "encode_sorted",
    "is_canonical",
    "is_plain",
    "parse_canonical",
    "plain_decoder",
]

MAX_SAFE_INTEGER = 2**53 - 1

#: How deep arrays and objects may nest in any JSON the ledger reads (a request, an
#: envelope, a signed statement: the statement object itself is level 1). Documented in
#: docs/PROTOCOL.md. Why a limit: decoders recurse, and past about a thousand levels they
#: fail in ways a caller cannot word; no event of ours needs more than a handful.
MAX_DEPTH = 32

_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(data: bytes) -> int:
    """How deep arrays and objects nest in JSON text (brackets inside strings ignored);
    for text that is not JSON, a number that the decoder's own refusal makes moot."""
    brackets = _STRING.sub(b"", _ESCAPED.sub(b"", data)).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def check_depth(data: bytes, what: str = "payload") -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH`` with ``TooDeep``, before any decoder
    recurses into it. Two counts in C settle the usual case (fewer opening brackets
    than the limit); only then are the brackets walked."""
    if data.count(b"[") + data.count(b"{") > MAX_DEPTH and json_depth(data) > MAX_DEPTH:
        raise TooDeep(f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep "
                      f"(the limit, docs/PROTOCOL.md)", field=what if what == "payload" else None)

_SHORT_ESCAPES = {
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_ESCAPE_TABLE: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPE_TABLE.update(_SHORT_ESCAPES)


def _string(s: str, path: str) -> str:
    _check_text(s, path)
    return '"' + s.translate(_ESCAPE_TABLE) + '"'


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _encode(value: Any, path: str, out: list[str]) -> None:
    # bool before int: bool is a subclass of int.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value, path))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedStatement(
                f"integer at {path} is outside ±(2^53-1)", field=path
            )
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise MalformedStatement(
            f"number at {path} is not an integer; amounts are integers", field=path
        )
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key in sorted(value, key=_utf16_key):
            if not isinstance(key, str):
                raise MalformedStatement(f"object key at {path} is not a string", field=path)
            if not first:
                out.append(",")
            first = False
            out.append(_string(key, path))
            out.append(":")
            _encode(value[key], f"{path}.{key}", out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, f"{path}[{i}]", out)
        out.append("]")
    else:
        raise MalformedStatement(
            f"value at {path} has type {type(value).__name__}, not a JSON type", field=path
        )


def _check_text(text: str, path: str, what: str = "string") -> None:
    if "\x00" in text:
        raise MalformedStatement(f"{what} at {path} contains U+0000", field=path)
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        raise MalformedStatement(f"{what} at {path} is not in Unicode NFC", field=path)


def _check(value: Any, path: str) -> bool:
    """Validate a JSON value for canonical encoding; True if a member name contains a
    code point from U+D800 up, where code-point order and UTF-16 order may differ."""
    kind = type(value)
    if kind is str:
        _check_text(value, path)
        return False
    if kind is dict:
        wide = False
        for key, item in value.items():
            if type(key) is not str:
                raise MalformedStatement(f"object key at {path} is not a string", field=path)
            _check_text(key, path, "member name")
            if not key.isascii():
                wide = wide or max(key) >= "\ud800"
            if type(item) is str:
                _check_text(item, f"{path}.{key}")
            elif _check(item, f"{path}.{key}"):
                wide = True
        return wide
    if kind is int:
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise MalformedStatement(f"integer at {path} is outside ±(2^53-1)", field=path)
        return False
    if value is None or kind is bool:
        return False
    if kind is list or kind is tuple:
        wide = False
        for i, item in enumerate(value):
            wide = _check(item, f"{path}[{i}]") or wide
        return wide
    if isinstance(value, float):
        raise MalformedStatement(
            f"number at {path} is not an integer; amounts are integers", field=path
        )
    raise MalformedStatement(
        f"value at {path} has type {type(value).__name__}, not a JSON type", field=path
    )


_fast = msgspec.json.Encoder(order="sorted")
encode_sorted = _fast.encode
"""msgspec's JSON with object members and Struct fields sorted by name (a Struct's
defaults omitted when it says so): canonical for plain values (``canonical_bytes``)."""


def canonical_bytes(value: Any) -> bytes:
    """Encode a JSON value (dict, list, str, int, bool, None) canonically.

    Raises ``MalformedStatement`` for floats, out-of-range integers, non-NFC strings,
    lone surrogates and non-JSON types.

    msgspec's sorted encoder escapes strings exactly as JCS does and sorts member names
    by code point, which equals UTF-16 order unless a name holds a code point from
    U+D800 up; only then does the pure-Python encoder below sort by UTF-16 units.
    """
    try:
        out: bytes | None = _fast.encode(value)
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        out = None
    if out is not None and is_plain(out):
        # Plain output that decodes (floats refused) back to an equal value: the value
        # held only JSON types, NFC strings and safe integers. Anything else (bytes,
        # datetimes, tuples, non-string keys... that msgspec would write some way)
        # compares unequal and takes the checked path below.
        try:
            if _no_float.decode(out) == value:
                return out
        except (_Float, msgspec.DecodeError):
            pass
    return _checked_canonical_bytes(value)


def canonical_json_bytes(value: Any) -> bytes:
    """``canonical_bytes`` of a value its caller built of JSON types alone (dicts with
    string keys, lists, tuples, strings, integers, booleans, None; never a float), as
    the agreement's terms are: msgspec's sorted encoding of such a value is canonical
    exactly when it is plain (``is_plain`` rules out what it would write otherwise: text
    not in NFC, U+0000, wide member names, integers past 2^53), so the decode that
    ``canonical_bytes`` compares with is spared. Anything else takes
    ``canonical_bytes``, which decides and words any refusal."""
    try:
        out = _fast.encode(value)
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        return canonical_bytes(value)
    return out if is_plain(out) else canonical_bytes(value)


def _checked_canonical_bytes(value: Any) -> bytes:
    """``canonical_bytes`` without its fast path: every value walked and checked."""
    wide = _check(value, "$")
    if not wide:
        try:
            return _fast.encode(value)
        except UnicodeEncodeError as exc:
            raise MalformedStatement("string contains a lone surrogate") from exc
    return _slow_canonical_bytes(value)


def _slow_canonical_bytes(value: Any) -> bytes:
    """The reference encoder: JCS written out in Python (used for wide member names,
    and by the tests as the reference the fast path must agree with)."""
    out: list[str] = []
    _encode(value, "$", out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedStatement("string contains a lone surrogate") from exc


class _Float(Exception):
    pass


def _refuse_float(text: str) -> Any:
    raise _Float(text)


_no_float = msgspec.json.Decoder(float_hook=_refuse_float)
# Digits to "0", everything else to " ": a run of 16 digits becomes a run of 16 zeros,
# which a plain substring search finds far faster than a regular expression.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_SIXTEEN_DIGITS = b"0" * 16


_BELOW_ED = bytes(range(0xED))


def is_plain(data: bytes) -> bool:
    """True for bytes the fast paths may decide (see ``plain_decoder``): no ``\\u0000``
    escape, no run of 16 digits, and either ASCII or UTF-8 text in NFC with no code
    point from U+D000 up (no lead byte from 0xED: member names then sort the same by
    code point as by UTF-16 unit)."""
    if (b"\\" in data and b"\\u0000" in data) or _SIXTEEN_DIGITS in data.translate(_DIGITS_ONLY):
        return False
    if data.isascii():
        return True
    if data.translate(None, _BELOW_ED):
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return unicodedata.is_normalized("NFC", text)


NOT_PLAIN: Any = object()
"""What a ``plain_decoder`` function returns when the general path must decide."""


def plain_decoder(type_: Any = Any) -> Callable[[bytes], Any]:
    """The fast path for plain bytes (``is_plain``): a function that decodes them into
    ``type_`` (any JSON value by default; for msgspec Structs the sorted encoder writes
    fields in name order, as JCS does) when they are the canonical encoding of the
    result, and returns ``NOT_PLAIN`` otherwise (the general path then decides, and
    words the error).

    Why that suffices: a value that re-encodes to plain bytes has its strings written
    raw in them (the encoder escapes only quotes, backslashes and control characters),
    so they are in NFC when the text is (quotes and the other JSON punctuation never
    compose with their neighbours); no U+0000 can hide; member names sort alike in both
    orders; every integer has at most 15 digits, inside ±(2^53-1); floats are refused
    while decoding. What is left is one C-speed round trip.
    """
    decoder = msgspec.json.Decoder(type_, float_hook=_refuse_float)

    def decode(data: bytes) -> Any:
        try:
            value = decoder.decode(data)
            again = _fast.encode(value)
        except (_Float, msgspec.DecodeError, UnicodeEncodeError):
            return NOT_PLAIN
        return value if again == data else NOT_PLAIN

    return decode


_parse_plain = plain_decoder()


def parse_canonical(data: bytes) -> Any:
    """Parse ``data`` as JSON and require that it is its own canonical encoding.

    This is how the ledger reads every signed payload: bytes that are not canonical
    (whitespace, member order, escapes, duplicate names, floats...) are refused rather
    than silently normalized, so that what is stored is exactly what was signed.
    JSON nested deeper than ``MAX_DEPTH`` is refused with ``TooDeep``.
    """
    check_depth(data)
    if is_plain(data):
        value = _parse_plain(data)
        if value is not NOT_PLAIN:
            return value
    return _parse_general(data)


def _parse_general(data: bytes) -> Any:
    """``parse_canonical`` without the fast path: the reference the tests hold it to."""
    try:
        value = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise NonCanonicalPayload(f"payload is not valid JSON in UTF-8: {exc}") from exc
    try:
        again = canonical_bytes(value)
    except MalformedStatement as exc:
        raise NonCanonicalPayload(f"payload cannot be canonical: {exc.detail}",
                                  field=exc.field) from exc
    if again != data:
        raise NonCanonicalPayload(
            "payload bytes differ from their RFC 8785 canonical form "
            f"(got {len(data)} bytes, canonical form has {len(again)})",
            field="payload",
        )
    return value


def is_canonical(data: bytes) -> bool:
    """True when ``data`` parses and is its own canonical encoding."""
    try:
        parse_canonical(data)
    except NonCanonicalPayload:
        return False
    return True
