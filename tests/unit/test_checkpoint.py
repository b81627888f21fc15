"""Unit tests of ledger.checkpoint: known answers, Go interop, adversarial notes."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    Verifier,
    is_valid_key_name,
    make_vkey,
    note_key_id,
    open_checkpoint,
    open_note,
    parse_body,
    parse_vkey,
    sign_checkpoint,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "checkpoint"

ORIGIN = "example.org/mutualisation-ledger"
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
LOG_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(65, 97)))
LOG = Verifier.from_public_key(ORIGIN, LOG_KEY.public_key())
CP8 = Checkpoint(ORIGIN, 8, ROOT_8)
NOTE8 = sign_checkpoint(CP8, LOG_KEY)
BODY8 = CP8.body().decode()
SIG_LINE = NOTE8[len(BODY8) + 1 :]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _fails(note: str | bytes, verifier: Verifier = LOG) -> str:
    with pytest.raises(CheckpointError) as info:
        open_checkpoint(note, verifier)
    return str(info.value)


# --- known answers -----------------------------------------------------------------


def test_known_answer_vectors() -> None:
    cases = _load("checkpoint_kat.json")["cases"]
    assert len(cases) == 3
    for case in cases:
        key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(case["seed"]))
        pub = key.public_key().public_bytes_raw()
        assert pub.hex() == case["publicKey"]
        assert note_key_id(case["keyName"], pub).hex() == case["keyId"]
        assert make_vkey(case["keyName"], pub) == case["vkey"]
        cp = Checkpoint(case["origin"], case["size"], bytes.fromhex(case["rootHash"]))
        assert cp.body().decode() == case["body"]
        assert key.sign(cp.body()).hex() == case["signature"]
        note = sign_checkpoint(cp, key)
        if "witness" in case:
            w = case["witness"]
            wkey = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(w["seed"]))
            assert make_vkey(w["keyName"], wkey.public_key()) == w["vkey"]
            note += sign_note(cp.body(), w["keyName"], wkey).split("\n\n", 1)[1]
            with pytest.raises(CheckpointError, match="does not match key name"):
                open_checkpoint(note, parse_vkey(w["vkey"]))
            assert open_note(note, parse_vkey(w["vkey"])) == cp.body()
        assert note == case["note"]
        assert open_checkpoint(case["note"], parse_vkey(case["vkey"])) == cp
        assert parse_body(case["body"]) == cp


def test_known_answer_by_hand() -> None:
    """The spec's formulas, spelled out without the module's helpers."""
    pub = LOG_KEY.public_key().public_bytes_raw()
    key_id = hashlib.sha256(ORIGIN.encode() + b"\x0a\x01" + pub).digest()[:4]
    assert LOG.key_id == key_id
    assert LOG.vkey == ORIGIN + "+" + key_id.hex() + "+" + _b64(b"\x01" + pub)
    body = f"{ORIGIN}\n8\n{_b64(ROOT_8)}\n".encode()
    assert CP8.body() == body
    sig = LOG_KEY.sign(body)
    want = body + b"\n" + "\u2014 ".encode() + ORIGIN.encode() + b" "
    want += _b64(key_id + sig).encode() + b"\n"
    assert NOTE8.encode() == want
    assert "\u2014 ".encode() == b"\xe2\x80\x94\x20"


def test_vector_files_are_fresh() -> None:
    spec = importlib.util.spec_from_file_location(
        "checkpoint_vectors_generate", VECTORS / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [
        name
        for name, content in module.build().items()
        if (VECTORS / name).read_text(encoding="utf-8") != module.render(content)
    ]
    assert not stale, f"regenerate with tests/vectors/checkpoint/generate.py: {stale}"


# --- vector folder -----------------------------------------------------------------


def test_vector_folder() -> None:
    """notes.json, bodies.json, vkeys.json; all failures reported together."""
    failures: list[str] = []
    total = 0

    def check(name: str, case: dict[str, Any], run: Any) -> None:
        nonlocal total
        total += 1
        try:
            got = run()
        except CheckpointError as exc:
            if not case["wantErr"]:
                failures.append(f"{name}: {case['desc']}: unexpected error: {exc}")
            return
        if case["wantErr"]:
            failures.append(f"{name}: {case['desc']}: accepted, want error")
        elif got is not None and "origin" in case:
            want = Checkpoint(case["origin"], case["size"], bytes.fromhex(case["rootHash"]))
            if got != want:
                failures.append(f"{name}: {case['desc']}: got {got}, want {want}")

    for case in _load("notes.json")["cases"]:
        note = case["note"] if "note" in case else bytes.fromhex(case["noteHex"])
        check(
            "notes.json",
            case,
            lambda note=note, case=case: open_checkpoint(note, parse_vkey(case["vkey"])),
        )
    for case in _load("bodies.json")["cases"]:
        check("bodies.json", case, lambda case=case: parse_body(case["body"]))
    for case in _load("vkeys.json")["cases"]:

        def run_vkey(case: dict[str, Any] = case) -> None:
            v = parse_vkey(case["vkey"])
            if not case["wantErr"]:
                got = (v.name, v.key_id.hex(), v.public_key.hex())
                want = (case["name"], case["keyId"], case["publicKey"])
                if got != want:
                    failures.append(f"vkeys.json: {case['desc']}: got {got}, want {want}")

        check("vkeys.json", case, run_vkey)
    assert total > 600
    assert not failures, f"{len(failures)} out of {total} failures:\n" + "\n".join(failures[:50])


# --- golang.org/x/mod/sumdb/note interop -------------------------------------------

GO = _load("go_sumdb_note.json")


def test_go_note_round_trip() -> None:
    seed = base64.b64decode(GO["skey"].split("+", 4)[4])
    assert seed[0] == 0x01 and seed[1:].hex() == GO["seed"]
    key = Ed25519PrivateKey.from_private_bytes(seed[1:])
    assert sign_note(GO["text"], "PeterNeumann", key) == GO["note"]
    verifier = parse_vkey(GO["vkey"])
    assert verifier.key_id.hex() == "c74f20a3"
    assert open_note(GO["note"], verifier) == GO["text"].encode()
    # Another key's line is ignored, before or after.
    sig = GO["note"][len(GO["text"]) + 1 :]
    other = GO["otherSignatureLine"]
    assert open_note(GO["text"] + "\n" + sig + other, verifier) == GO["text"].encode()
    assert open_note(GO["text"] + "\n" + other + sig, verifier) == GO["text"].encode()
    enoch = parse_vkey(GO["otherVkey"])
    assert open_note(GO["text"] + "\n" + sig + other, enoch) == GO["text"].encode()
    with pytest.raises(CheckpointError, match="no signature by key PeterNeumann"):
        open_note(GO["text"] + "\n" + other, verifier)
    # Go: an invalid signature from the known key rejects the note.
    with pytest.raises(CheckpointError, match="invalid signature for key PeterNeumann"):
        open_note(GO["text"] + "\n" + sig[:60] + "ABCD" + sig[60:], verifier)


def test_go_malformed_notes() -> None:
    text, note = GO["text"], GO["note"]
    sig = note[len(text) + 1 :]
    bad = [
        text,
        text + "\n",
        text + "\n" + sig[:-1],
        "\x01" + text + "\n" + sig,
        b"\xff" + (text + "\n" + sig).encode(),
        text + "\n" + "\u2014 Bad Name " + sig.split(" ")[-1],
        text + "\n" + sig + "Unexpected line.\n",
        text + "\n" + sig * 101,
    ]
    verifier = parse_vkey(GO["vkey"])
    for msg in bad:
        with pytest.raises(CheckpointError):
            open_note(msg, verifier)


@pytest.mark.parametrize("vkey_name", ["vkey", "otherVkey"])
def test_go_vkey_manglings(vkey_name: str) -> None:
    """golang.org/x/mod/sumdb/note TestNewVerifier: every proper substring and every
    single-byte increment of a vkey is refused."""
    vkey = GO[vkey_name]
    parse_vkey(vkey)
    accepted = []
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)) and _parses(vkey[i:j]):
                accepted.append(vkey[i:j])
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        if _parses(mangled):
            accepted.append(mangled)
    wrong_len = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    unknown_alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    accepted += [k for k in (wrong_len, unknown_alg) if _parses(k)]
    assert not accepted


def _parses(vkey: str) -> bool:
    try:
        parse_vkey(vkey)
    except CheckpointError:
        return False
    return True


# --- round trips -------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="+", min_codepoint=0x21),
    min_size=1,
    max_size=30,
).filter(is_valid_key_name)


@settings(max_examples=40, deadline=None)
@given(names, st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32))
def test_round_trip(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    assert parse_body(cp.body()) == cp
    assert Checkpoint.parse_body(cp.body().decode()) == cp
    note = sign_checkpoint(cp, LOG_KEY)
    verifier = parse_vkey(make_vkey(origin, LOG_KEY.public_key()))
    assert open_checkpoint(note, verifier) == cp
    assert open_checkpoint(note.encode(), verifier) == cp


def test_msgspec_round_trip() -> None:
    encoded = msgspec.json.encode(CP8)
    assert msgspec.json.decode(encoded, type=Checkpoint) == CP8
    bad = encoded.replace(b'"size":8', b'"size":-1')
    with pytest.raises(CheckpointError):
        msgspec.json.decode(bad, type=Checkpoint)
    v = msgspec.json.decode(msgspec.json.encode(LOG), type=Verifier)
    assert v == LOG


# --- adversarial -------------------------------------------------------------------


def test_wrong_key() -> None:
    attacker = Verifier.from_public_key(ORIGIN, OTHER_KEY.public_key())
    assert "no signature by key" in _fails(NOTE8, attacker)
    assert "no signature by key" in _fails(sign_checkpoint(CP8, OTHER_KEY))


def test_other_key_name() -> None:
    renamed = NOTE8.replace(f"\u2014 {ORIGIN} ", "\u2014 example.org/other ")
    assert "no signature by key" in _fails(renamed)


def test_tampered_body() -> None:
    assert "invalid signature" in _fails(NOTE8.replace("\n8\n", "\n9\n", 1))
    assert "invalid signature" in _fails(NOTE8.replace("\n8\n", "\n80\n", 1))
    other_root = _b64(bytes(32))
    assert "invalid signature" in _fails(NOTE8.replace(_b64(ROOT_8), other_root, 1))
    assert "invalid signature" in _fails(NOTE8.replace(ORIGIN, ORIGIN + "x", 1))


def test_every_signature_bit_flip() -> None:
    blob = base64.b64decode(SIG_LINE.split(" ")[-1])
    assert len(blob) == 68
    accepted = []
    for i in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[i // 8] ^= 1 << (i % 8)
        note = f"{BODY8}\n\u2014 {ORIGIN} {_b64(bytes(flipped))}\n"
        try:
            open_checkpoint(note, LOG)
        except CheckpointError as exc:
            want = "no signature by key" if i < 32 else "invalid signature"
            assert want in str(exc), (i, str(exc))
        else:
            accepted.append(i)
    assert not accepted, f"{len(accepted)} out of {len(blob) * 8} failures: bits {accepted}"


def test_structure() -> None:
    assert "no blank line" in _fails(BODY8 + SIG_LINE)
    assert "does not end with a newline" in _fails(NOTE8[:-1])
    assert "does not start with" in _fails(NOTE8 + "Unexpected line.\n")
    assert "extension line" in _fails(sign_note(BODY8 + "ext\n", ORIGIN, LOG_KEY))
    assert "no signature lines" in _fails(BODY8 + "\n")
    assert "control character" in _fails(NOTE8.replace("\n", "\r\n"))
    assert "limit 100" in _fails(BODY8 + "\n" + SIG_LINE * 101)
    assert open_checkpoint(BODY8 + "\n" + SIG_LINE * 100, LOG) == CP8
    assert "not valid UTF-8" in _fails(b"\xff" + NOTE8.encode())
    assert "bytes, limit" in _fails("x" * (1 << 20) + NOTE8)


def test_non_canonical_base64() -> None:
    blob = base64.b64decode(SIG_LINE.split(" ")[-1])
    text = _b64(blob)
    assert text.endswith("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noncanon = text[:-2] + alphabet[alphabet.index(text[-2]) | 1] + "="
    assert base64.b64decode(noncanon) == blob
    assert "canonical" in _fails(f"{BODY8}\n\u2014 {ORIGIN} {noncanon}\n")
    assert "base64" in _fails(f"{BODY8}\n\u2014 {ORIGIN} {text.rstrip('=')}\n")


def test_key_id_collision_with_wrong_key() -> None:
    """A line with the pinned name AND key ID but another key's signature."""
    forged = f"{BODY8}\n\u2014 {ORIGIN} {_b64(LOG.key_id + OTHER_KEY.sign(BODY8.encode()))}\n"
    assert "invalid signature" in _fails(forged)
    # Even after a valid line: every line of the pinned key must verify.
    assert "invalid signature" in _fails(NOTE8 + forged.split("\n\n")[1])


def test_vkey_of_another_origin() -> None:
    other = "example.org/other-ledger"
    other_verifier = parse_vkey(make_vkey(other, LOG_KEY.public_key()))
    assert "no signature by key example.org/other-ledger" in _fails(NOTE8, other_verifier)
    # Signed by the same key under the other name: the signature holds, the origin not.
    relabelled = sign_note(BODY8, other, LOG_KEY)
    assert open_note(relabelled, other_verifier) == BODY8.encode()
    assert "does not match key name" in _fails(relabelled, other_verifier)


# --- construction rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "size", "root", "message"),
    [
        ("", 8, ROOT_8, "origin is empty"),
        ("a\nb", 8, ROOT_8, "control character"),
        ("a\x00b", 8, ROOT_8, "control character"),
        ("a\ud800", 8, ROOT_8, "not valid UTF-8"),
        (ORIGIN, -1, ROOT_8, "out of range"),
        (ORIGIN, 2**64, ROOT_8, "out of range"),
        (ORIGIN, True, ROOT_8, "must be an integer"),
        (ORIGIN, 8, ROOT_8[:31], "has size 31, want 32"),
    ],
)
def test_checkpoint_construction(origin: str, size: int, root: bytes, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint(origin, size, root)


def test_parse_body_messages() -> None:
    with pytest.raises(CheckpointError, match="does not end with a newline"):
        parse_body(BODY8[:-1])
    with pytest.raises(CheckpointError, match="has 2 lines, want 3"):
        parse_body(f"{ORIGIN}\n8\n")
    with pytest.raises(CheckpointError, match="1 extension line"):
        parse_body(BODY8 + "x\n")
    with pytest.raises(CheckpointError, match="not canonical decimal"):
        parse_body(BODY8.replace("\n8\n", "\n08\n"))
    with pytest.raises(CheckpointError, match="exceeds 2\\*\\*64 - 1"):
        parse_body(BODY8.replace("\n8\n", f"\n{2**64}\n"))
    with pytest.raises(CheckpointError, match="root hash has size 31"):
        parse_body(f"{ORIGIN}\n8\n{_b64(ROOT_8[:31])}\n")
    with pytest.raises(CheckpointError, match="origin is empty"):
        parse_body(f"\n8\n{_b64(ROOT_8)}\n")


def test_key_names() -> None:
    for good in (ORIGIN, "PeterNeumann", "ex\u00e9mple.org/l\u00f6g"):
        assert is_valid_key_name(good)
    for bad in ("", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\x01b"):
        assert not is_valid_key_name(bad), repr(bad)
    with pytest.raises(CheckpointError, match="invalid key name"):
        sign_checkpoint(Checkpoint("my log", 8, ROOT_8), LOG_KEY)
    with pytest.raises(CheckpointError, match="invalid key name"):
        make_vkey("a+b", LOG_KEY.public_key())
    with pytest.raises(CheckpointError, match="does not end with a newline"):
        sign_note("abc", ORIGIN, LOG_KEY)


SMALL_ORDER = [
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
]


@pytest.mark.parametrize("key", SMALL_ORDER)
def test_small_order_keys_refused(key: str) -> None:
    with pytest.raises(CheckpointError, match="small-order"):
        Verifier.from_public_key(ORIGIN, bytes.fromhex(key))


def test_small_order_key_would_accept_a_forgery() -> None:
    """Why: with the identity point as public key, OpenSSL accepts the signature
    (R = identity, S = 0) on every message. Such a vkey must never load."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    identity = b"\x01" + bytes(31)
    forged_sig = identity + bytes(32)
    Ed25519PublicKey.from_public_bytes(identity).verify(forged_sig, BODY8.encode())
    forged_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + identity).digest()[:4]
    forged_vkey = ORIGIN + "+" + forged_id.hex() + "+" + _b64(b"\x01" + identity)
    with pytest.raises(CheckpointError, match="small-order"):
        parse_vkey(forged_vkey)


def test_non_canonical_and_off_curve_keys_refused() -> None:
    for key in (
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # y = p
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0100000000000000000000000000000000000000000000000000000000000080",  # x = 0, sign 1
    ):
        with pytest.raises(CheckpointError, match="not a canonically encoded"):
            Verifier.from_public_key(ORIGIN, bytes.fromhex(key))
    for _ in range(50):
        Verifier.from_public_key(ORIGIN, Ed25519PrivateKey.generate().public_key())


def test_verifier_key_id_must_match() -> None:
    pub = LOG_KEY.public_key().public_bytes_raw()
    with pytest.raises(CheckpointError, match="does not match key"):
        Verifier(ORIGIN, b"\x00\x00\x00\x00", pub)
    with pytest.raises(CheckpointError, match="does not match key"):
        Verifier("example.org/other", LOG.key_id, pub)


def test_note_text_may_contain_blank_lines() -> None:
    """signed-note: the text is separated from the signatures by the LAST blank line."""
    text = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    note = sign_note(text, ORIGIN, LOG_KEY)
    assert open_note(note, LOG) == text.encode()
    with pytest.raises(CheckpointError, match="extension line"):
        open_checkpoint(note, LOG)  # a valid note, but not a checkpoint body
