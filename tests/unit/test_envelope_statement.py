"""DSSE envelopes, PAE, strict base64 and statement validation (pure, no database)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from ledger import b64
from ledger.admission import verify_candidate_signatures
from ledger.canonical import canonical_bytes
from ledger.envelope import (
    MAX_SIGNATURES,
    PAYLOAD_TYPE,
    Envelope,
    Signature,
    decode_envelope,
    pae,
    seal,
)
from ledger.errors import (
    BadSignature,
    MalformedEnvelope,
    MalformedStatement,
    MissingActorSignature,
    NonCanonicalPayload,
    UnknownKey,
    UnknownPayloadType,
)
from ledger.keys import key_id, private_key_from_seed, raw_public_key, verify_signature
from ledger.statement import Statement, event_hash, parse_statement

LEDGER = "test.mutualisation.example/ledger"
KEY = private_key_from_seed(b"\x07" * 32)
OTHER = private_key_from_seed(b"\x08" * 32)
KID = key_id(KEY)
PREV = "ab" * 32


def statement_json(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "ledger": LEDGER,
        "stream": "agreement/2026-compta",
        "version": 2,
        "prev": PREV,
        "type": "agreement.proposed",
        "data": {"amount": 1200, "unit": "EUR-cents"},
        "actor": "centre-arts",
        "key": KID,
        "issued_at": "2026-11-26T06:30:00.000000Z",
    }
    value.update(changes)
    return value


def make_statement(**changes: Any) -> Statement:
    return parse_statement(canonical_bytes(statement_json(**changes)))


def envelope_json(payload: bytes = b"{}", *, sigs: list[dict[str, str]] | None = None,
                  payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    if sigs is None:
        sigs = [{"keyid": KID, "sig": b64.encode(b"\x01" * 64)}]
    return {"payloadType": payload_type, "payload": b64.encode(payload), "signatures": sigs}


# --- PAE -------------------------------------------------------------------------


def test_pae_dsse_known_example():
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_empty_and_lengths_in_bytes():
    assert pae("", b"") == b"DSSEv1 0  0 "
    # lengths count UTF-8 bytes, not characters
    assert pae("é", "€".encode()) == b"DSSEv1 2 \xc3\xa9 3 \xe2\x82\xac"
    # the body is taken verbatim, even when it holds spaces and digits
    assert pae("t", b"1 2 3") == b"DSSEv1 1 t 5 1 2 3"


def test_pae_separates_type_from_body():
    # without length prefixes these two would produce the same bytes
    assert pae("a b", b"c") != pae("a", b"b c")


# --- seal and verify -------------------------------------------------------------


def test_seal_round_trip():
    st = make_statement()
    env = seal(st, KEY)
    assert env.payloadType == PAYLOAD_TYPE
    assert [s.keyid for s in env.signatures] == [KID]
    decoded, payload = decode_envelope(env.to_json())
    assert decoded == env
    assert payload == st.encode() == canonical_bytes(statement_json())
    assert parse_statement(payload) == st
    sig = b64.decode(env.signatures[0].sig)
    assert verify_signature(raw_public_key(KEY), sig, pae(PAYLOAD_TYPE, payload))
    # domain separation: the signature is over PAE, not the bare payload or another type
    assert not verify_signature(raw_public_key(KEY), sig, payload)
    assert not verify_signature(raw_public_key(KEY), sig, pae("application/json", payload))
    keys = {KID: raw_public_key(KEY)}
    assert verify_candidate_signatures(env, payload, st, keys.get) == (KID,)


def test_seal_round_trip_through_canonical_envelope_bytes():
    st = make_statement()
    env = seal(st, KEY, OTHER)
    raw = env.canonical()
    assert raw.startswith(b'{"payload":"')  # members sorted: payload < payloadType
    decoded, payload = decode_envelope(raw)
    assert decoded == env and payload == st.encode()
    keys = {KID: raw_public_key(KEY), key_id(OTHER): raw_public_key(OTHER)}
    assert verify_candidate_signatures(decoded, payload, st, keys.get) == (KID, key_id(OTHER))
    assert event_hash(payload) == hashlib.sha256(payload).hexdigest()


def test_verify_refuses_signature_over_another_payload():
    st = make_statement()
    env = seal(st, KEY)
    other_payload = make_statement(version=3).encode()
    keys = {KID: raw_public_key(KEY)}
    with pytest.raises(BadSignature) as info:
        verify_candidate_signatures(env, other_payload, st, keys.get)
    assert info.value.field == "signatures[0].sig"


def test_verify_refuses_unknown_key():
    st = make_statement()
    env = seal(st, KEY)
    with pytest.raises(UnknownKey) as info:
        verify_candidate_signatures(env, st.encode(), st, {}.get)
    assert info.value.field == "signatures[0].keyid"


def test_verify_requires_the_actors_own_key_among_signers():
    st = make_statement()
    env = seal(st, OTHER)  # valid signature, but not by st.key
    keys = {key_id(OTHER): raw_public_key(OTHER)}
    with pytest.raises(MissingActorSignature) as info:
        verify_candidate_signatures(env, st.encode(), st, keys.get)
    assert info.value.field == "signatures"


# --- statement validation ----------------------------------------------------------


def assert_malformed(field: str, **changes: Any) -> MalformedStatement:
    with pytest.raises(MalformedStatement) as info:
        make_statement(**changes)
    assert type(info.value) is MalformedStatement
    assert info.value.field == field, info.value.detail
    return info.value


def test_valid_statement_parses():
    st = make_statement()
    assert (st.stream_kind, st.stream_key) == ("agreement", "2026-compta")
    assert st.to_json() == statement_json()


@pytest.mark.parametrize(
    "stream",
    [
        "org",
        "org/",
        "/acme",
        "Org/acme",
        "1org/acme",
        "org/-acme",
        "org/.acme",
        "org/ac me",
        "org/acme/x",
        "a" * 33 + "/x",
        "org/" + "a" * 129,
        "",
    ],
)
def test_bad_stream(stream):
    assert_malformed("stream", stream=stream)


def test_stream_limits_accepted():
    assert make_statement(stream="a" * 32 + "/" + "A" * 128).stream_kind == "a" * 32
    assert make_statement(stream="org/A1._:-").stream_key == "A1._:-"


@pytest.mark.parametrize(
    "type_",
    ["registered", "Organization.registered", "organization.", ".registered",
     "organization..registered", "organization.Registered", "organization.key-added",
     "1org.x", ""],
)
def test_bad_type(type_):
    assert_malformed("type", type=type_)


@pytest.mark.parametrize(
    "actor",
    ["", "Acme", "-acme", "acme-", "ac me", "ac_me", "a" * 65, "é"],
)
def test_bad_actor(actor):
    assert_malformed("actor", actor=actor)


def test_actor_limits_accepted():
    assert make_statement(actor="a").actor == "a"
    assert make_statement(actor="a" * 64).actor == "a" * 64
    assert make_statement(actor="a-1").actor == "a-1"


@pytest.mark.parametrize(
    "key",
    [KID.upper(), KID[:-1], KID + "0", "g" * 64, "", "0x" + KID[2:]],
)
def test_bad_key(key):
    assert_malformed("key", key=key)


@pytest.mark.parametrize(
    "issued_at",
    [
        "2026-11-26T06:30:00+00:00",
        "2026-11-26T06:30:00",
        "2026-11-26 06:30:00Z",
        "2026-11-26t06:30:00Z",
        "2026-11-26T06:30:00z",
        "2026-11-26T06:30Z",
        "2026-11-26T06:30:00.Z",
        "2026-11-26T06:30:00.1234567Z",
        "26-11-26T06:30:00Z",
        "2026-02-30T00:00:00Z",  # right shape, no such day
        "2026-11-26T24:00:00Z",
        "2026-11-26T23:59:60Z",  # no leap seconds
        "2026-13-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",  # Arabic-Indic digits match \d
        "",
    ],
)
def test_bad_issued_at(issued_at):
    assert_malformed("issued_at", issued_at=issued_at)


def test_issued_at_forms_accepted():
    assert make_statement(issued_at="2026-11-26T06:30:00Z").issued_at.endswith("00Z")
    assert make_statement(issued_at="2026-11-26T06:30:00.1Z")
    assert make_statement(issued_at="2024-02-29T23:59:59.999999Z")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stream", "agreement/2026-compta\n"),
        ("actor", "centre-arts\n"),
        ("key", KID + "\n"),
        ("issued_at", "2026-11-26T06:30:00.000000Z\n"),
        ("prev", PREV + "\n"),
    ],
)
def test_trailing_newline_is_refused(field, value):
    assert_malformed(field, **{field: value})


@pytest.mark.parametrize("version", [0, -1])
def test_version_below_one(version):
    assert_malformed("version", version=version, prev=None)


def test_prev_must_be_null_at_version_1():
    assert_malformed("prev", version=1, prev=PREV)
    assert make_statement(version=1, prev=None).prev is None


@pytest.mark.parametrize("prev", [None, PREV.upper(), PREV[:-2], "", "zz" * 32])
def test_prev_must_be_a_hash_after_version_1(prev):
    assert_malformed("prev", version=2, prev=prev)


@pytest.mark.parametrize("ledger", ["", "x" * 256])
def test_bad_ledger(ledger):
    assert_malformed("ledger", ledger=ledger)


def test_ledger_of_255_chars_accepted():
    assert make_statement(ledger="x" * 255).ledger == "x" * 255


def test_unknown_member():
    value = statement_json(extra=1)
    with pytest.raises(MalformedStatement) as info:
        parse_statement(canonical_bytes(value))
    assert info.value.field == "extra"


@pytest.mark.parametrize(
    "member",
    ["ledger", "stream", "version", "prev", "type", "data", "actor", "key", "issued_at"],
)
def test_missing_member(member):
    value = statement_json()
    del value[member]
    with pytest.raises(MalformedStatement) as info:
        parse_statement(canonical_bytes(value))
    assert type(info.value) is MalformedStatement
    assert info.value.field == member


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("version", "2"),
        ("version", True),
        ("version", None),
        ("prev", 1),
        ("data", []),
        ("data", "x"),
        ("data", None),
        ("stream", 1),
        ("type", None),
        ("actor", ["centre-arts"]),
        ("key", 7),
        ("issued_at", 1764138600),
        ("ledger", None),
    ],
)
def test_wrong_member_type(member, value):
    assert_malformed(member, **{member: value})


@pytest.mark.parametrize("payload", [b"[]", b'"x"', b"1", b"null"])
def test_statement_must_be_an_object(payload):
    with pytest.raises(MalformedStatement):
        parse_statement(payload)


def test_statement_payload_must_be_canonical():
    good = canonical_bytes(statement_json())
    with pytest.raises(NonCanonicalPayload):
        parse_statement(good.replace(b",", b", ", 1))
    with pytest.raises(NonCanonicalPayload):
        parse_statement(canonical_bytes(statement_json(data={"x": 1})).replace(b"1", b"1.0"))


# --- strict base64 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        base64.urlsafe_b64encode(b"\xfb\xff").decode(),  # "-_8=" url-safe alphabet
        "e30",  # missing padding
        "e3==",  # wrong padding
        "e31=",  # non-zero trailing bits (decodes to b"{}" leniently)
        "YQ==YQ==",  # padding in the middle
        "e30=\n",
        " e30=",
        "e3 0=",
        "é30=",
        "e30==",
        "P7PQ=",  # a whole group, then stray padding
    ],
)
def test_b64_decode_is_strict(text):
    with pytest.raises(ValueError):
        b64.decode(text)


def test_b64_canonical_forms():
    assert b64.decode("e30=") == b"{}"
    assert b64.decode("+/8=") == b"\xfb\xff"
    assert b64.decode("") == b""
    assert b64.encode(b"\xfb\xff") == "+/8="


@pytest.mark.parametrize("text", ["-_8=", "e30", "e31=", "e30=\n"])
def test_envelope_payload_must_be_strict_base64(text):
    env = envelope_json()
    env["payload"] = text
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(env)
    assert type(info.value) is MalformedEnvelope
    assert info.value.field == "payload"


@pytest.mark.parametrize("mutate", ["urlsafe", "unpadded", "trailing-bits"])
def test_envelope_sig_must_be_strict_base64(mutate):
    raw = bytes(range(64))  # 64 bytes -> 88 chars with "==" padding
    text = b64.encode(raw)
    if mutate == "urlsafe":
        raw = b"\xfb\xff" * 32
        text = base64.urlsafe_b64encode(raw).decode()
    elif mutate == "unpadded":
        text = text.rstrip("=")
    else:
        # last data char before "==" carries 4 unused bits; set one of them
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        last = text[-3]
        text = text[:-3] + alphabet[alphabet.index(last) | 1] + "=="
        assert base64.b64decode(text) == raw  # lenient decoders take it
    env = envelope_json(sigs=[{"keyid": KID, "sig": text}])
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(env)
    assert info.value.field == "signatures[0].sig"


# --- envelope shape ----------------------------------------------------------------


def test_envelope_without_signatures():
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(envelope_json(sigs=[]))
    assert info.value.field == "signatures"


def test_envelope_with_duplicate_keyid():
    sig = {"keyid": KID, "sig": b64.encode(b"\x01" * 64)}
    other = {"keyid": key_id(OTHER), "sig": b64.encode(b"\x02" * 64)}
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(envelope_json(sigs=[sig, other, dict(sig)]))
    assert info.value.field == "signatures[2].keyid"


@pytest.mark.parametrize("size", [63, 65, 0, 32])
def test_envelope_signature_of_wrong_size(size):
    env = envelope_json(sigs=[{"keyid": KID, "sig": b64.encode(b"\x01" * size)}])
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(env)
    assert info.value.field == "signatures[0].sig"


def test_envelope_with_too_many_signatures():
    sigs = [{"keyid": f"{i:064x}", "sig": b64.encode(b"\x01" * 64)}
            for i in range(MAX_SIGNATURES + 1)]
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(envelope_json(sigs=sigs))
    assert info.value.field == "signatures"
    decode_envelope(envelope_json(sigs=sigs[:MAX_SIGNATURES]))


@pytest.mark.parametrize("keyid", [KID.upper(), KID[:-1], "g" * 64, ""])
def test_envelope_keyid_form(keyid):
    env = envelope_json(sigs=[{"keyid": keyid, "sig": b64.encode(b"\x01" * 64)}])
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(env)
    assert info.value.field == "signatures[0].keyid"


def test_envelope_keyid_with_trailing_newline():
    env = envelope_json(sigs=[{"keyid": KID + "\n", "sig": b64.encode(b"\x01" * 64)}])
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(env)
    assert info.value.field == "signatures[0].keyid"


@pytest.mark.parametrize(
    "payload_type",
    ["application/json", "", PAYLOAD_TYPE.upper(), PAYLOAD_TYPE + " ",
     "application/vnd.in-toto+json"],
)
def test_unknown_payload_type(payload_type):
    with pytest.raises(UnknownPayloadType) as info:
        decode_envelope(envelope_json(payload_type=payload_type))
    assert info.value.field == "payloadType"


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"payloadType":"x"}',
        b'{"payloadType":1,"payload":"","signatures":[]}',
        b'{"payloadType":"x","payload":"","signatures":{}}',
        b'{"payloadType":"x","payload":"","signatures":[{"keyid":"a"}]}',
    ],
)
def test_envelope_malformed_json_bytes(value):
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(value)
    assert type(info.value) is MalformedEnvelope


def test_envelope_unknown_member():
    env = envelope_json()
    env["extra"] = 1
    with pytest.raises(MalformedEnvelope):
        decode_envelope(env)
    sig = {"keyid": KID, "sig": b64.encode(b"\x01" * 64), "extra": "x"}
    with pytest.raises(MalformedEnvelope):
        decode_envelope(envelope_json(sigs=[sig]))


def test_envelope_bytes_with_invalid_utf8_in_a_string():
    raw = b'{"payloadType":"\xff","payload":"e30=","signatures":[]}'
    with pytest.raises(MalformedEnvelope):
        decode_envelope(raw)


def test_envelope_object_passes_through():
    env = Envelope(PAYLOAD_TYPE, "e30=", [Signature(KID, b64.encode(b"\x01" * 64))])
    decoded, payload = decode_envelope(env)
    assert decoded is env and payload == b"{}"


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"payloadType": PAYLOAD_TYPE, "signatures": []}, "payload"),
        ({"payloadType": 1, "payload": "e30=", "signatures": []}, "payloadType"),
        ({"payloadType": PAYLOAD_TYPE, "payload": "e30=", "signatures": {}}, "signatures"),
    ],
)
def test_envelope_shape_errors_name_the_member(value, field):
    with pytest.raises(MalformedEnvelope) as info:
        decode_envelope(value)
    assert info.value.field == field
