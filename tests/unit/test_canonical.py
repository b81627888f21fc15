"""RFC 8785 (JCS) behaviour of ``canonical_bytes`` / ``parse_canonical``.

The ledger uses JCS restricted to integers within ±(2^53-1) and NFC strings, and reads
every signed payload with ``parse_canonical``, which must refuse any byte string that
is not its own canonical encoding.
"""

from __future__ import annotations

import json

import pytest

from ledger.canonical import MAX_SAFE_INTEGER, canonical_bytes, is_canonical, parse_canonical
from ledger.errors import MalformedStatement, NonCanonicalPayload

# --- RFC 8785 §3.2.3: sorting of object properties ---------------------------------

# The RFC's own example, verbatim (keys written with the RFC's escapes).
RFC_SORTING_EXAMPLE = {
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\U0001f600": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis",
}


def test_rfc8785_sorting_example_is_refused_because_fb33_is_not_nfc():
    # U+FB33 is a composition exclusion: NFC turns it into U+05D3 U+05BC, so a key
    # spelled with it is not in NFC and the restricted encoder must refuse it.
    with pytest.raises(MalformedStatement) as info:
        canonical_bytes(RFC_SORTING_EXAMPLE)
    assert info.value.field == "$"
    assert "NFC" in info.value.detail


def test_rfc8785_sorting_example_without_fb33_keeps_the_rfc_order():
    value = {k: v for k, v in RFC_SORTING_EXAMPLE.items() if k != "\ufb33"}
    expected = (
        '{"\\r":"Carriage Return",'
        '"1":"One",'
        '"\u0080":"Control",'
        '"\u00f6":"Latin Small Letter O With Diaeresis",'
        '"\u20ac":"Euro Sign",'
        '"\U0001f600":"Emoji: Grinning Face"}'
    ).encode()
    assert canonical_bytes(value) == expected
    assert parse_canonical(expected) == value


def test_rfc8785_sorting_example_with_fb33_in_nfc_sorts_by_its_nfc_form():
    value = {k: v for k, v in RFC_SORTING_EXAMPLE.items() if k != "\ufb33"}
    value["\u05d3\u05bc"] = "Hebrew Letter Dalet With Dagesh (NFC)"
    out = canonical_bytes(value).decode()
    keys = list(json.loads(out))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u05d3\u05bc", "\u20ac", "\U0001f600"]


def test_property_names_sort_by_utf16_code_units_not_code_points():
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+FB01 (ﬁ) although its
    # code point is larger. Python's own string order gives the opposite answer.
    value = {"\ufb01": 1, "\U0001f600": 2}
    assert sorted(value) == ["\ufb01", "\U0001f600"]  # code point order: the trap
    assert canonical_bytes(value) == '{"\U0001f600":2,"\ufb01":1}'.encode()
    assert parse_canonical('{"\U0001f600":2,"\ufb01":1}'.encode()) == value
    with pytest.raises(NonCanonicalPayload):
        parse_canonical('{"\ufb01":1,"\U0001f600":2}'.encode())


def test_u_fb01_is_nfc_stable_and_accepted():
    assert canonical_bytes("\ufb01") == '"\ufb01"'.encode()


# --- RFC 8785 §3.2.2.2: serialization of strings ----------------------------------

# The RFC's input (numbers left out: the ledger has no floats).
RFC_STRING_INPUT = rb"""{
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_STRING_OUTPUT = (
    '{"literals":[null,true,false],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
).encode()


def test_rfc8785_string_example_golden_bytes():
    value = json.loads(RFC_STRING_INPUT)
    assert value["string"] == "€$\x0f\nA'B\"\\\\\"/"
    assert canonical_bytes(value) == RFC_STRING_OUTPUT
    # what the RFC prints as the result, byte for byte
    assert RFC_STRING_OUTPUT == (
        b'{"literals":[null,true,false],"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"'
        b'\\\\\\\\\\"/"}'
    )


def test_rfc8785_string_example_canonical_form_parses_and_input_form_is_refused():
    assert parse_canonical(RFC_STRING_OUTPUT) == json.loads(RFC_STRING_INPUT)
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(RFC_STRING_INPUT)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\b\t\n\f\r", b'"\\b\\t\\n\\f\\r"'),
        ("\x01\x02\x1f", b'"\\u0001\\u0002\\u001f"'),
        ("\x7f", b'"\x7f"'),  # DEL is not escaped
        ("\u2028\u2029", '"\u2028\u2029"'.encode()),  # nor are the JS line separators
        ('"\\/', b'"\\"\\\\/"'),  # solidus is not escaped
        ("é€😀", '"é€😀"'.encode()),  # non-ASCII is raw UTF-8
    ],
)
def test_string_escaping_golden_bytes(value, expected):
    assert canonical_bytes(value) == expected
    assert parse_canonical(expected) == value


# --- golden bytes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, b"null"),
        (True, b"true"),
        (False, b"false"),
        (0, b"0"),
        (-1, b"-1"),
        (MAX_SAFE_INTEGER, b"9007199254740991"),
        (-MAX_SAFE_INTEGER, b"-9007199254740991"),
        ("", b'""'),
        ([], b"[]"),
        ({}, b"{}"),
        ([1, [2, [3]], {}], b"[1,[2,[3]],{}]"),
        (
            {"b": [1, -2, True, None], "a": {"z": "é", "y": ""}},
            b'{"a":{"y":"","z":"\xc3\xa9"},"b":[1,-2,true,null]}',
        ),
        ({"aa": 1, "a": 2, "B": 3, "": 4}, b'{"":4,"B":3,"a":2,"aa":1}'),
    ],
)
def test_golden_bytes(value, expected):
    assert canonical_bytes(value) == expected
    assert parse_canonical(expected) == value
    assert is_canonical(expected)


def test_tuple_encodes_as_array():
    assert canonical_bytes((1, "a")) == b'[1,"a"]'


def test_bool_is_not_encoded_as_integer():
    assert canonical_bytes([True, 1, False, 0]) == b"[true,1,false,0]"


# --- refusals by the encoder -------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (1.0, "$"),
        (1e3, "$"),
        (0.5, "$"),
        (float("nan"), "$"),
        (float("inf"), "$"),
        ({"amount": 1.0}, "$.amount"),
        ([1, 2.0], "$[1]"),
        (MAX_SAFE_INTEGER + 1, "$"),
        (-MAX_SAFE_INTEGER - 1, "$"),
        (2**64, "$"),
        ({"n": [2**53]}, "$.n[0]"),
        (b"bytes", "$"),
        ({"s": {1, 2}}, "$.s"),
    ],
)
def test_encoder_refuses_floats_big_ints_and_non_json(value, field):
    with pytest.raises(MalformedStatement) as info:
        canonical_bytes(value)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("e\u0301", "$"),  # decomposed é
        ("\u212b", "$"),  # ANGSTROM SIGN, NFC is U+00C5
        ("\ufb33", "$"),
        ({"v": "e\u0301"}, "$.v"),
        (["ok", "\u212b"], "$[1]"),
        ({"e\u0301": 1}, "$"),  # non-NFC key
        ({"x": {"\u212b": 1}}, "$.x"),
    ],
)
def test_encoder_refuses_non_nfc_strings_and_keys(value, field):
    with pytest.raises(MalformedStatement) as info:
        canonical_bytes(value)
    assert info.value.field == field


def test_encoder_accepts_the_nfc_forms():
    assert canonical_bytes("\u00e9") == '"é"'.encode()
    assert canonical_bytes({"\u00c5": 1}) == '{"Å":1}'.encode()


@pytest.mark.parametrize("value", ["\ud800", "a\udc00b", {"\ud83d": 1}, ["\udfff"]])
def test_encoder_refuses_lone_surrogates(value):
    with pytest.raises(MalformedStatement):
        canonical_bytes(value)


def test_encoder_refuses_non_string_keys_with_typed_error():
    with pytest.raises(MalformedStatement):
        canonical_bytes({1: "a"})


# --- refusals by the parser --------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        # floats in any spelling
        b"1.0",
        b"1e3",
        b"1E3",
        b"-0.0",
        b'{"a":0.5}',
        # integers beyond ±(2^53-1)
        b"9007199254740992",
        b"-9007199254740992",
        b"123456789012345678901234567890",
        # integers in non-canonical spelling
        b"-0",
        b"01",
        b"+1",
        # non-NFC strings, values and keys
        '"e\u0301"'.encode(),
        '"\ufb33"'.encode(),
        '{"e\u0301":1}'.encode(),
        '{"a":["\u212b"]}'.encode(),
        # lone surrogates (escaped)
        b'"\\ud800"',
        b'"\\udc00"',
        b'{"\\ud83d":1}',
        # duplicate keys
        b'{"a":1,"a":1}',
        b'{"a":1,"a":2}',
        b'{"a":1,"b":2,"a":1}',
        # insignificant whitespace
        b'{"a": 1}',
        b'{ "a":1}',
        b'{"a" :1}',
        b"[1, 2]",
        b"{}\n",
        b" {}",
        b"\t{}",
        # wrong member order
        b'{"b":1,"a":2}',
        b'{"a":{"d":1,"c":2}}',
        b'{"aa":1,"a":2}',
        # escapes that are not the canonical ones
        b'"\\u0041"',
        b'"\\/"',
        b'"\\u000a"',
        b'"\\u000A"',
        b'"\\u001F"',
        b'"\\u00e9"',
        b'"\\u0008"',
        b'"\\u0022"',
        b'"\\ud83d\\ude00"',
        # not JSON at all / trailing garbage
        b"",
        b"{",
        b"{}x",
        b"{}{}",
        b"[1]]",
        b'"a" "b"',
        b"nul",
        b"True",
        b"'a'",
        b'"\x01"',  # raw control character inside a string
        b"\xff",
    ],
)
def test_parser_refuses_non_canonical_bytes(data):
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(data)
    assert not is_canonical(data)


@pytest.mark.parametrize(
    "data",
    [
        b'"\xed\xa0\x80"',  # UTF-8 encoding of the lone surrogate U+D800
        b'"\xff"',
        b'{"a\xc3":1}',  # truncated UTF-8 sequence in a key
        b'"\xc0\xaf"',  # overlong encoding of "/"
    ],
)
def test_parser_refuses_invalid_utf8_inside_strings_with_typed_error(data):
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(data)


def test_parser_error_names_the_path_of_a_refused_value():
    with pytest.raises(NonCanonicalPayload) as info:
        parse_canonical(b'{"a":{"b":[1,1.5]}}')
    assert info.value.field == "$.a.b[1]"


@pytest.mark.parametrize(
    "data",
    [
        b"9007199254740991",
        b"-9007199254740991",
        b'"\\u001f"',
        b'"\x7f"',
        '{"\U0001f600":2,"\ufb01":1}'.encode(),
        b'{"a":{"b":[1,{"c":null}]}}',
    ],
)
def test_parser_accepts_canonical_bytes(data):
    value = parse_canonical(data)
    assert canonical_bytes(value) == data


def test_u0000_is_refused_in_values_and_member_names():
    """PostgreSQL's jsonb cannot hold U+0000, so the ledger's canonical form excludes it."""
    for value in ({"a": "x\x00"}, {"a\x00": 1}, ["\x00"]):
        with pytest.raises(MalformedStatement, match="U\\+0000"):
            canonical_bytes(value)
    with pytest.raises(NonCanonicalPayload):
        parse_canonical(b'{"a":"\\u0000"}')
