"""Regenerate the checkpoint / signed-note vectors in this folder.

    python tests/vectors/checkpoint/generate.py          # rewrite the JSON files
    python tests/vectors/checkpoint/generate.py --check  # exit 1 if a file would change

Ed25519 (RFC 8032) is deterministic, so fixed seeds give fixed notes. The keys:

* log key:      seed 0x01 0x02 ... 0x20, key name = origin
                ``example.org/mutualisation-ledger``
* witness key:  seed 0x21 ... 0x40, key name ``witness.example.org/w1``
* attacker key: seed 0x41 ... 0x60

The tree heads use the RFC 6962 test tree (tests/vectors/merkle/tree_rfc6962.json).
``go_sumdb_note.json`` pins the published golang.org/x/mod/sumdb/note test vector
(note_test.go), which this code must reproduce byte for byte.

Files (JSON, UTF-8; hashes, keys and signatures in lower-case hex):

* ``checkpoint_kat.json``: known answers: seed, public key, key ID, vkey, body, note.
* ``notes.json``: signed notes to open with ``vkey``; ``wantErr`` says if it must fail;
  ``noteHex`` replaces ``note`` where the note is not valid UTF-8.
* ``bodies.json``: checkpoint bodies for ``parse_body``.
* ``vkeys.json``: verifier keys for ``parse_vkey``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

ORIGIN = "example.org/mutualisation-ledger"
WITNESS = "witness.example.org/w1"
LOG_SEED = bytes(range(0x01, 0x21))
WITNESS_SEED = bytes(range(0x21, 0x41))
ATTACKER_SEED = bytes(range(0x41, 0x61))

# RFC 6962 test tree roots (tests/vectors/merkle/tree_rfc6962.json).
ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
ROOT_7 = "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"
ROOT_0 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# golang.org/x/mod/sumdb/note note_test.go.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
    "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01"
    "oOTGwnWLox33WWd1RvMc+QQ=\n"
)

SMALL_ORDER_IDENTITY = bytes([1]) + bytes(31)
SMALL_ORDER_KEY = "0000000000000000000000000000000000000000000000000000000000000000"
NON_CANONICAL_KEY = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _noncanonical_b64(data: bytes) -> str:
    """Padded base64 of ``data`` with one of the unused trailing bits set."""
    text = _b64(data)
    assert text.endswith("="), "needs a length that is not a multiple of 3"
    stripped = text.rstrip("=")
    last = _ALPHABET[_ALPHABET.index(stripped[-1]) | 1]
    out = stripped[:-1] + last + text[len(stripped) :]
    assert out != text and base64.b64decode(out) == data
    return out


def _urlsafe_b64(data: bytes) -> str:
    out = base64.urlsafe_b64encode(data).decode()
    assert out != _b64(data), "pick data whose base64 has '+' or '/'"
    return out


def build() -> dict[str, dict[str, Any]]:
    """All vector files, by file name."""
    sys.path.insert(0, str(ROOT))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger import checkpoint as cp

    def raw_pub(key: Ed25519PrivateKey) -> bytes:
        return key.public_key().public_bytes_raw()

    log = Ed25519PrivateKey.from_private_bytes(LOG_SEED)
    witness = Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
    attacker = Ed25519PrivateKey.from_private_bytes(ATTACKER_SEED)
    log_vkey = cp.make_vkey(ORIGIN, log.public_key())
    witness_vkey = cp.make_vkey(WITNESS, witness.public_key())
    log_id = cp.note_key_id(ORIGIN, log.public_key())

    files: dict[str, dict[str, Any]] = {}

    # --- known answers --------------------------------------------------------------
    kat: list[dict[str, Any]] = []

    def kat_case(desc: str, size: int, root_hex: str, cosign: bool) -> str:
        c = cp.Checkpoint(ORIGIN, size, bytes.fromhex(root_hex))
        body = c.body().decode()
        note = cp.sign_checkpoint(c, log)
        signature = log.sign(c.body())
        if cosign:
            note += cp.sign_note(body, WITNESS, witness).split("\n\n", 1)[1]
        # Independent recomputation of the key ID and signature line.
        key_id = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw_pub(log)).digest()[:4]
        assert key_id == log_id
        line = f"\u2014 {ORIGIN} {_b64(key_id + signature)}\n"
        assert note.startswith(body + "\n" + line)
        case: dict[str, Any] = {
            "desc": desc,
            "seed": LOG_SEED.hex(),
            "publicKey": raw_pub(log).hex(),
            "keyName": ORIGIN,
            "keyId": key_id.hex(),
            "vkey": log_vkey,
            "origin": ORIGIN,
            "size": size,
            "rootHash": root_hex,
            "body": body,
            "signature": signature.hex(),
            "note": note,
        }
        if cosign:
            case["witness"] = {
                "seed": WITNESS_SEED.hex(),
                "publicKey": raw_pub(witness).hex(),
                "keyName": WITNESS,
                "keyId": cp.note_key_id(WITNESS, witness.public_key()).hex(),
                "vkey": witness_vkey,
                "signature": witness.sign(c.body()).hex(),
            }
        kat.append(case)
        return note

    note8 = kat_case("size 8 of the RFC 6962 test tree", 8, ROOT_8, cosign=False)
    kat_case("empty tree", 0, ROOT_0, cosign=False)
    cosigned = kat_case("size 8, cosigned by a witness key", 8, ROOT_8, cosign=True)
    files["checkpoint_kat.json"] = {
        "comment": (
            "Known answers: Ed25519 seed 0x01..0x20, key name = origin; the witness key "
            "has seed 0x21..0x40. Signature = Ed25519(seed, body); note = body, blank line, "
            "signature lines."
        ),
        "cases": kat,
    }

    # --- Go interop -----------------------------------------------------------------
    go_seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    go_key = Ed25519PrivateKey.from_private_bytes(go_seed)
    go_note = GO_TEXT + "\n" + GO_SIG
    assert cp.sign_note(GO_TEXT, "PeterNeumann", go_key) == go_note
    assert cp.make_vkey("PeterNeumann", go_key.public_key()) == GO_VKEY
    files["go_sumdb_note.json"] = {
        "comment": "Published test vector of golang.org/x/mod/sumdb/note (note_test.go).",
        "source": "golang.org/x/mod/sumdb/note note_test.go",
        "vkey": GO_VKEY,
        "skey": GO_SKEY,
        "seed": go_seed.hex(),
        "text": GO_TEXT,
        "note": go_note,
        "otherVkey": GO_ENOCH_VKEY,
        "otherSignatureLine": GO_ENOCH_SIG,
    }

    # --- notes ----------------------------------------------------------------------
    body8 = cp.Checkpoint(ORIGIN, 8, bytes.fromhex(ROOT_8)).body().decode()
    root8_b64 = _b64(bytes.fromhex(ROOT_8))
    body8_noncanonical = f"{ORIGIN}\n8\n{_noncanonical_b64(bytes.fromhex(ROOT_8))}\n"
    sig_line = note8[len(body8) + 1 :]
    witness_line = cp.sign_note(body8, WITNESS, witness).split("\n\n", 1)[1]
    notes: list[dict[str, Any]] = []

    def note_case(desc: str, note: str | bytes, want_err: bool, vkey: str = log_vkey) -> None:
        case: dict[str, Any] = {"desc": desc, "vkey": vkey}
        if isinstance(note, bytes):
            case["noteHex"] = note.hex()
        else:
            case["note"] = note
        case["wantErr"] = want_err
        if not want_err:
            case.update(origin=ORIGIN, size=8, rootHash=ROOT_8)
        notes.append(case)

    def signed_by(key: Ed25519PrivateKey, name: str, body: str, key_id: bytes | None = None) -> str:
        kid = cp.note_key_id(name, key.public_key()) if key_id is None else key_id
        return f"{body}\n\u2014 {name} {_b64(kid + key.sign(body.encode()))}\n"

    note_case("valid", note8, False)
    note_case("valid, cosigned (witness line ignored)", cosigned, False)
    note_case("valid, unknown line before", body8 + "\n" + witness_line + sig_line, False)
    note_case("valid, repeated signature line", note8 + sig_line, False)
    note_case("valid, opened with the witness key", cosigned, True, vkey=witness_vkey)
    # Keys and names.
    note_case(
        "wrong key: attacker key under the origin name",
        note8,
        True,
        vkey=cp.make_vkey(ORIGIN, attacker.public_key()),
    )
    note_case("signed by the attacker key only", signed_by(attacker, ORIGIN, body8), True)
    note_case(
        "signature line with another key name",
        note8.replace(f"\u2014 {ORIGIN} ", "\u2014 example.org/other "),
        True,
    )
    note_case(
        "key ID collision: attacker signs with the log's key ID",
        signed_by(attacker, ORIGIN, body8, key_id=log_id),
        True,
    )
    note_case(
        "key ID collision after a valid line",
        note8 + signed_by(attacker, ORIGIN, body8, key_id=log_id).split("\n\n", 1)[1],
        True,
    )
    other = "example.org/other-ledger"
    note_case(
        "vkey of another origin (same public key)",
        note8,
        True,
        vkey=cp.make_vkey(other, log.public_key()),
    )
    note_case(
        "signed under another origin's key name, opened with that vkey",
        signed_by(log, other, body8),
        True,
        vkey=cp.make_vkey(other, log.public_key()),
    )
    note_case("no signature lines", body8 + "\n", True)
    note_case("only witness signature", body8 + "\n" + witness_line, True)
    # Tampered body.
    note_case("tampered size", note8.replace("\n8\n", "\n9\n", 1), True)
    root7 = _b64(bytes.fromhex(ROOT_7))
    note_case("tampered root", note8.replace(_b64(bytes.fromhex(ROOT_8)), root7, 1), True)
    note_case("tampered origin", note8.replace(ORIGIN, "example.org/mutualisation-ledgeR", 1), True)
    # Structure.
    note_case("missing blank line", body8 + sig_line, True)
    note_case("two blank lines", body8 + "\n\n" + sig_line, True)
    note_case("missing final newline", note8[:-1], True)
    note_case("line after the signatures", note8 + "Unexpected line.\n", True)
    note_case("extension line (signed)", signed_by(log, ORIGIN, body8 + "extension\n"), True)
    note_case("body without final newline is not a note", body8[:-1] + "\n" + sig_line, True)
    note_case("CRLF line endings", note8.replace("\n", "\r\n"), True)
    note_case("tab in a signature line", note8.replace(f"{ORIGIN} ", f"{ORIGIN}\t"), True)
    note_case("hyphens instead of em dash", note8.replace("\u2014", "--"), True)
    note_case("en dash instead of em dash", note8.replace("\u2014", "\u2013"), True)
    note_case("two spaces after the key name", note8.replace(f"{ORIGIN} ", f"{ORIGIN}  "), True)
    note_case("not UTF-8", b"\xff" + note8.encode(), True)
    note_case("control character in body", "\x01" + note8, True)
    note_case("101 signature lines", body8 + "\n" + sig_line * 101, True)
    note_case("empty signature", body8 + f"\n\u2014 {ORIGIN} \n", True)
    blob = log_id + log.sign(body8.encode())
    note_case(
        "signature blob without padding",
        body8 + f"\n\u2014 {ORIGIN} {_b64(blob).rstrip('=')}\n",
        True,
    )
    note_case(
        "non-canonical base64 signature (trailing bits)",
        body8 + f"\n\u2014 {ORIGIN} {_noncanonical_b64(blob)}\n",
        True,
    )
    note_case(
        "url-safe base64 signature", body8 + f"\n\u2014 {ORIGIN} {_urlsafe_b64(blob)}\n", True
    )
    note_case(
        "signature truncated to 63 bytes", body8 + f"\n\u2014 {ORIGIN} {_b64(blob[:-1])}\n", True
    )
    note_case(
        "signature extended to 65 bytes", body8 + f"\n\u2014 {ORIGIN} {_b64(blob + b'x')}\n", True
    )
    # Signed but malformed bodies.
    for desc, bad in (
        ("leading zero in size (signed)", body8.replace("\n8\n", "\n08\n")),
        ("non-canonical root base64 (signed)", body8_noncanonical),
        ("size with plus sign (signed)", body8.replace("\n8\n", "\n+8\n")),
    ):
        assert bad != body8, desc
        note_case(desc, signed_by(log, ORIGIN, bad), True)
    # Every bit of the signature blob (key ID and signature).
    for i in range(len(blob) * 8):
        flipped = bytearray(blob)
        flipped[i // 8] ^= 1 << (i % 8)
        what = "key ID" if i < 32 else "signature"
        note_case(
            f"{what} byte {i // 8} bit {i % 8} flipped",
            body8 + f"\n\u2014 {ORIGIN} {_b64(bytes(flipped))}\n",
            True,
        )

    for case in notes:
        note = case.get("note", bytes.fromhex(case.get("noteHex", "")))
        try:
            cp.open_checkpoint(note, cp.parse_vkey(case["vkey"]))
        except cp.CheckpointError:
            assert case["wantErr"], case["desc"]
        else:
            assert not case["wantErr"], case["desc"]
    files["notes.json"] = {
        "comment": (
            "Signed notes to open with open_checkpoint(note, parse_vkey(vkey)). Keys as in "
            "checkpoint_kat.json; the attacker key has seed 0x41..0x60."
        ),
        "cases": notes,
    }

    # --- bodies ---------------------------------------------------------------------
    bodies: list[dict[str, Any]] = []

    def body_case(desc: str, body: str, want: tuple[str, int, str] | None) -> None:
        case: dict[str, Any] = {"desc": desc, "body": body, "wantErr": want is None}
        if want is not None:
            case.update(origin=want[0], size=want[1], rootHash=want[2])
        bodies.append(case)

    body_case("valid", body8, (ORIGIN, 8, ROOT_8))
    body_case("valid, size 0", f"{ORIGIN}\n0\n{_b64(bytes.fromhex(ROOT_0))}\n", (ORIGIN, 0, ROOT_0))
    body_case(
        "valid, size 2**64 - 1",
        f"{ORIGIN}\n18446744073709551615\n{root8_b64}\n",
        (ORIGIN, 2**64 - 1, ROOT_8),
    )
    body_case(
        "valid, origin with spaces (allowed by tlog-checkpoint)",
        f"my log\n8\n{root8_b64}\n",
        ("my log", 8, ROOT_8),
    )
    for desc, bad in (
        ("size 2**64", f"{ORIGIN}\n18446744073709551616\n{root8_b64}\n"),
        ("missing final newline", body8[:-1]),
        ("empty", ""),
        ("only newline", "\n"),
        ("two lines", f"{ORIGIN}\n8\n"),
        ("extension line", body8 + "extension\n"),
        ("empty extension line", body8 + "\n"),
        ("empty origin", f"\n8\n{root8_b64}\n"),
        ("leading zero in size", f"{ORIGIN}\n08\n{root8_b64}\n"),
        ("size 00", f"{ORIGIN}\n00\n{root8_b64}\n"),
        ("plus sign in size", f"{ORIGIN}\n+8\n{root8_b64}\n"),
        ("minus sign in size", f"{ORIGIN}\n-8\n{root8_b64}\n"),
        ("space before size", f"{ORIGIN}\n 8\n{root8_b64}\n"),
        ("space after size", f"{ORIGIN}\n8 \n{root8_b64}\n"),
        ("underscore in size", f"{ORIGIN}\n1_0\n{root8_b64}\n"),
        ("hex size", f"{ORIGIN}\n0x8\n{root8_b64}\n"),
        ("non-ASCII digit in size", f"{ORIGIN}\n\u0668\n{root8_b64}\n"),
        ("empty size", f"{ORIGIN}\n\n{root8_b64}\n"),
        ("root without padding", f"{ORIGIN}\n8\n{root8_b64.rstrip('=')}\n"),
        ("root with non-zero trailing bits", body8_noncanonical),
        ("root in url-safe base64", f"{ORIGIN}\n8\n{_urlsafe_b64(bytes.fromhex(ROOT_8))}\n"),
        ("root in hex", f"{ORIGIN}\n8\n{ROOT_8}\n"),
        ("root of 31 bytes", f"{ORIGIN}\n8\n{_b64(bytes.fromhex(ROOT_8)[:31])}\n"),
        ("root of 33 bytes", f"{ORIGIN}\n8\n{_b64(bytes.fromhex(ROOT_8) + b'x')}\n"),
        ("space after root", f"{ORIGIN}\n8\n{root8_b64} \n"),
        ("CRLF", body8.replace("\n", "\r\n")),
        ("tab in origin", f"example.org\tlog\n8\n{root8_b64}\n"),
    ):
        body_case(desc, bad, None)
    for case in bodies:
        try:
            got = cp.parse_body(case["body"])
        except cp.CheckpointError:
            assert case["wantErr"], case["desc"]
        else:
            assert not case["wantErr"], case["desc"]
            assert (got.origin, got.size, got.root_hash.hex()) == (
                case["origin"],
                case["size"],
                case["rootHash"],
            ), case["desc"]
    files["bodies.json"] = {
        "comment": "Checkpoint bodies (note texts) for parse_body. No extension lines accepted.",
        "cases": bodies,
    }

    # --- vkeys ----------------------------------------------------------------------
    vkeys: list[dict[str, Any]] = []
    name, hex_id, key64 = log_vkey.split("+", 2)

    def vkey_case(desc: str, vkey: str, valid: bool) -> None:
        case: dict[str, Any] = {"desc": desc, "vkey": vkey, "wantErr": not valid}
        if valid:
            v = cp.parse_vkey(vkey)
            case.update(name=v.name, keyId=v.key_id.hex(), publicKey=v.public_key.hex())
        vkeys.append(case)

    def forged(name: str, key: bytes) -> str:
        """A vkey with a correct key ID for arbitrary (unsafe) key bytes."""
        kid = hashlib.sha256(name.encode() + b"\n" + key[:1] + key[1:]).digest()[:4]
        return f"{name}+{kid.hex()}+{_b64(key)}"

    vkey_case("log key", log_vkey, True)
    vkey_case("witness key", witness_vkey, True)
    vkey_case("Go PeterNeumann key", GO_VKEY, True)
    assert hex_id.upper() != hex_id, "the log key ID should contain a letter"
    vkey_case("upper-case key ID", f"{name}+{hex_id.upper()}+{key64}", False)
    vkey_case("wrong key ID", f"{name}+{int(hex_id, 16) ^ 1:08x}+{key64}", False)
    vkey_case("7-digit key ID", f"{name}+{hex_id[1:]}+{key64}", False)
    vkey_case("other name, same key ID", f"example.org/other+{hex_id}+{key64}", False)
    vkey_case("empty name", f"+{hex_id}+{key64}", False)
    vkey_case("name with a space", forged("my log", b"\x01" + raw_pub(log)), False)
    vkey_case("name with a no-break space", forged("my\u00a0log", b"\x01" + raw_pub(log)), False)
    vkey_case("missing key", f"{name}+{hex_id}", False)
    vkey_case("empty key", f"{name}+{hex_id}+", False)
    vkey_case("key with an extra character", f"{name}+{hex_id}+{key64}A", False)
    vkey_case(
        "key in url-safe base64",
        f"{name}+{hex_id}+{key64.replace('+', '-').replace('/', '_')}",
        key64.replace("+", "-").replace("/", "_") == key64,
    )
    vkey_case("unknown signature type 0x02", forged(name, b"\x02" + raw_pub(log)), False)
    vkey_case("key of 31 bytes", forged(name, b"\x01" + raw_pub(log)[:31]), False)
    vkey_case("key of 33 bytes", forged(name, b"\x01" + raw_pub(log) + b"\x00"), False)
    vkey_case(
        "small-order public key (all zero)",
        forged(name, b"\x01" + bytes.fromhex(SMALL_ORDER_KEY)),
        False,
    )
    vkey_case(
        "small-order public key (identity point: signs every message)",
        forged(name, b"\x01" + SMALL_ORDER_IDENTITY),
        False,
    )
    vkey_case(
        "non-canonical public key encoding (y = p)",
        forged(name, b"\x01" + bytes.fromhex(NON_CANONICAL_KEY)),
        False,
    )
    vkey_case("trailing newline", log_vkey + "\n", False)
    vkey_case("leading space", " " + log_vkey, False)
    for case in vkeys:
        try:
            cp.parse_vkey(case["vkey"])
        except cp.CheckpointError:
            assert case["wantErr"], case["desc"]
        else:
            assert not case["wantErr"], case["desc"]
    files["vkeys.json"] = {
        "comment": "Verifier keys for parse_vkey: <name>+<hex8 key ID>+<base64(0x01 || key)>.",
        "cases": vkeys,
    }
    return files


def render(content: dict[str, Any]) -> str:
    """JSON text with one case per line, so diffs stay readable."""
    head = {k: v for k, v in content.items() if k != "cases"}
    items = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in head.items()]
    if "cases" in content:
        cases = ",\n".join(f"    {json.dumps(c, ensure_ascii=False)}" for c in content["cases"])
        items.append(f'  "cases": [\n{cases}\n  ]')
    return "{\n" + ",\n".join(items) + "\n}\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for file_name, content in build().items():
        path = HERE / file_name
        text = render(content)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(file_name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale vector files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
