"""JSON nested deeper than the documented limit (docs/PROTOCOL.md) is refused with a
typed error by every decoder (statement, envelope, canonical JSON), the offline auditor
reports it as a failed entry, and ``ledger audit verify`` says so in one line: never a
``RecursionError``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import b64, merkle
from ledger.audit import verify_bundle
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.canonical import MAX_DEPTH, canonical_bytes, json_depth, parse_canonical
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.envelope import PAYLOAD_TYPE, decode_envelope, pae
from ledger.errors import TooDeep
from ledger.keys import private_key_from_seed, raw_public_key
from ledger.leaf import encode_leaf
from ledger.statement import parse_statement
from tests.helpers import LEDGER_ID, org

LOG_KEY = private_key_from_seed(b"\x47" * 32)
VKEY = make_vkey(LEDGER_ID, raw_public_key(LOG_KEY))
ACME = org("centre-profond", seed=71)
DEPTHS = [MAX_DEPTH + 1, 1000, 5000, 100_000]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_payload(depth: int) -> bytes:
    """A statement (level 1) whose data (level 2) holds ``depth`` - 2 nested arrays."""
    st = ACME.statement("org/centre-profond", 1, None, "organization.registered",
                        {"name": "P"})
    payload = st.encode().replace(b'"data":{"name":"P"}',
                                  b'"data":{"name":' + nested(depth - 2) + b"}")
    assert payload != st.encode()
    return payload


def signed(payload: bytes) -> bytes:
    sig = ACME.key.sign(pae(PAYLOAD_TYPE, payload))
    return canonical_bytes({"payloadType": PAYLOAD_TYPE, "payload": b64.encode(payload),
                            "signatures": [{"keyid": ACME.key_id, "sig": b64.encode(sig)}]})


def test_the_limit_itself_is_admitted() -> None:
    assert json_depth(deep_payload(MAX_DEPTH)) == MAX_DEPTH
    assert parse_statement(deep_payload(MAX_DEPTH)).data["name"] is not None
    decode_envelope(signed(deep_payload(MAX_DEPTH)))


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_decoder_refuses_with_a_typed_error(depth: int) -> None:
    payload = deep_payload(depth)
    for decode in (parse_statement, parse_canonical):
        with pytest.raises(TooDeep) as info:
            decode(payload)
        assert info.value.code == "json-too-deep" and str(MAX_DEPTH) in info.value.detail
    with pytest.raises(TooDeep):
        decode_envelope(b'{"payloadType":' + nested(depth) + b"}")


@given(st.recursive(st.none() | st.integers(0, 9) | st.text(alphabet='[]{}"\\ab', max_size=5),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=3), inner,
                                      max_size=3),
                    max_leaves=40))
def test_depth_counts_brackets_outside_strings_only(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max(map(depth, v), default=0)
        if isinstance(v, dict):
            return 1 + max(map(depth, v.values()), default=0)
        return 0

    assert json_depth(canonical_bytes(value)) == depth(value)


def bundle(path: Path, depth: int) -> None:
    """A bundle whose one entry is a signed statement nested ``depth`` deep, with a
    valid leaf and a valid checkpoint: only the nesting is wrong."""
    env = signed(deep_payload(depth))
    leaf = encode_leaf(0, 1_780_000_000_000_000, env)
    tree = merkle.CompactRange()
    tree.append(merkle.hash_leaf(leaf))
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, VKEY, 1))
        fh.write(entry_line(0, leaf, env))
        fh.write(checkpoint_line(sign_checkpoint(Checkpoint(LEDGER_ID, 1, tree.root()),
                                                 LOG_KEY)))


def deep_line_bundle(path: Path, depth: int) -> None:
    """A bundle whose entry line itself nests ``depth`` deep."""
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, VKEY, 1))
        fh.write(b'{"index":0,"leaf":' + nested(depth) + b"}\n")


def deep_header_bundle(path: Path, depth: int) -> None:
    path.write_bytes(b'{"ledger":' + nested(depth) + b"}\n")


def deep_checkpoint_bundle(path: Path, depth: int) -> None:
    bundle(path, 3)
    with path.open("ab") as fh:
        fh.write(b'{"checkpoint":' + nested(depth) + b"}\n")


@pytest.mark.parametrize("depth", [1000, 5000])
@pytest.mark.parametrize("make", [bundle, deep_line_bundle, deep_header_bundle,
                                  deep_checkpoint_bundle])
def test_the_auditor_reports_a_failed_entry(tmp_path: Path, depth: int, make: object) -> None:
    path = tmp_path / "deep.jsonl"
    make(path, depth)  # type: ignore[operator]
    report = verify_bundle(path, VKEY, workers=1)
    assert not report.ok
    assert report.failure is not None


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    bundle(path, 5000)
    env = {**os.environ, "LEDGER_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "ledger", "audit", "verify", str(path),
                           "--log-key", VKEY], env=env, text=True, capture_output=True,
                          timeout=120)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "RecursionError" not in out, out
    assert "json-too-deep" in out or str(MAX_DEPTH) in out, out
