"""The browser's signing modules (api/web/static/js/sign/) against the ledger's own Python:
a key made by the project's keygen code signs in JavaScript exactly the envelope the Python
client signs for the same inputs (Ed25519 is deterministic, so the bytes must be equal),
and a key made in JavaScript is read by the Python loader as the same key. Node runs
tests/js/run_sign.mjs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger import b64
from ledger.envelope import PAYLOAD_TYPE, decode_envelope, pae
from ledger.keys import (
    generate_private_key,
    key_id,
    load_private_key,
    raw_public_key,
    save_private_key,
    verify_signature,
)
from ledger.signer import Signer
from ledger.statement import parse_statement

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

ROOT = Path(__file__).resolve().parents[2]
LEDGER = "test.mutualisation.example/ledger"


def node(program: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(["node", str(ROOT / "tests" / "js" / "run_sign.mjs")],
                          input=json.dumps(program), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


CASES = [
    ("agreement/ent-2026", 1, None, "agreement.drafted",
     {"agreement_id": "ent-2026", "title": "Salle partagée — « été »",
      "purpose": "Vision commune 🎭, sur deux lignes\net des guillemets \"ici\".", "binding": True,
      "invited": ["centre-b"]}),
    ("agreement/ent-2026", 4, "ab" * 32, "commitment.offered",
     {"commitment_id": "c1", "category": "premises", "description": "Salle",
      "quantity": {"amount": "12.5", "unit": "m²·month"},
      "period": {"start": "2026-01-01", "end": "2026-12-31"}, "receiver": "collective",
      "value": {"amount": "1000", "unit": "CAD"}}),
    ("agreement/ent-2026", 9, "cd" * 32, "agreement.ratified",
     {"terms_version": 3, "state_hash": "ef" * 32}),
    ("agreement/ent-2026", 2, "01" * 32, "party.joined", {}),
]


@pytest.mark.parametrize("stream,version,prev,type_,data", CASES, ids=[c[3] for c in CASES])
def test_javascript_signs_the_bytes_the_python_client_signs(
        tmp_path: Path, stream: str, version: int, prev: str | None, type_: str,
        data: dict[str, Any]) -> None:
    path = tmp_path / "centre-a.pem"
    save_private_key(generate_private_key(), path)  # what `ledger keygen` does
    key = load_private_key(path)
    at = "2026-03-04T05:06:07.123000Z"
    js = node({"op": "seal", "pem": path.read_text(), "ledger": LEDGER, "stream": stream,
               "version": version, "prev": prev, "type": type_, "data": data,
               "actor": "centre-a", "issued_at": at})
    assert js["key_id"] == key_id(key)
    python = Signer("centre-a", key, LEDGER).event(stream, version, prev, type_, data,
                                                   issued_at=at)
    assert js["envelope"] == python.to_json()
    # And the ledger's own verifier accepts it.
    env, payload = decode_envelope(js["envelope"])
    st = parse_statement(payload)
    assert (st.type, st.data, st.key) == (type_, data, key_id(key))
    sig = b64.decode(env.signatures[0].sig)
    assert verify_signature(raw_public_key(key), sig, pae(PAYLOAD_TYPE, payload))


def test_a_key_made_in_javascript_is_read_by_the_python_loader(tmp_path: Path) -> None:
    js = node({"op": "generate"})
    path = tmp_path / "browser.pem"
    path.write_text(js["pem"])
    key = load_private_key(path)
    assert key_id(key) == js["key_id"]
    # Byte for byte the file `ledger keygen` would write for that key.
    again = tmp_path / "again.pem"
    save_private_key(key, again)
    assert again.read_bytes() == js["pem"].encode()
