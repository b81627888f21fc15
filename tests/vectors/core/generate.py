"""Regenerate tests/vectors/core/core.json: the byte-level vectors of docs/PROTOCOL.md.

Run: python tests/vectors/core/generate.py. Everything is deterministic: keys come from
fixed seeds and Ed25519 signatures are deterministic (RFC 8032).
"""

from __future__ import annotations

import json
from pathlib import Path

from ledger import b64, merkle
from ledger.canonical import canonical_bytes
from ledger.envelope import PAYLOAD_TYPE, pae
from ledger.keys import key_id, private_key_from_seed, raw_public_key
from ledger.leaf import encode_leaf
from ledger.signer import Signer
from ledger.statement import event_hash

LEDGER = "example.org/mutualisation-ledger"
OUT = Path(__file__).with_name("core.json")


def build() -> dict[str, object]:
    seed = bytes(range(1, 33))
    key = private_key_from_seed(seed)
    org = Signer("centre-arts", key, LEDGER)
    t = "2026-02-07T14:00:00.000000Z"
    reg_st = org.statement(f"org/{org.org_id}", 1, None, "organization.registered",
                           {"name": "Centre d'arts de Québec",
                            "public_key": b64.encode(raw_public_key(key))}, issued_at=t)
    reg_env = org.sign(reg_st)
    second_st = org.statement("agreement/compta-2026", 1, None, "agreement.drafted",
                              {"title": "Comptabilité partagée", "n": 1}, issued_at=t)
    second_env = org.sign(second_st)
    third_st = org.statement("agreement/compta-2026", 2, event_hash(second_st.encode()),
                             "test.noted", {"note": "é\n\u00e9"}, issued_at=t)
    third_env = org.sign(third_st)
    entries = []
    for index, (st, env) in enumerate([(reg_st, reg_env), (second_st, second_env),
                                        (third_st, third_env)]):
        payload = st.encode()
        recorded = 1_770_472_800_000_000 + index
        leaf = encode_leaf(index, recorded, env.canonical())
        entries.append({
            "index": index,
            "statement": st.to_json(),
            "payload_hex": payload.hex(),
            "pae_hex": pae(PAYLOAD_TYPE, payload).hex(),
            "signature_b64": env.signatures[0].sig,
            "event_hash": event_hash(payload),
            "envelope_canonical": env.canonical().decode(),
            "recorded_at_us": recorded,
            "leaf_hex": leaf.hex(),
            "leaf_hash": merkle.hash_leaf(leaf).hex(),
        })
    tree = merkle.CompactRange()
    tree.extend(bytes.fromhex(e["leaf_hash"]) for e in entries)  # type: ignore[arg-type]
    return {
        "description": "Byte-level vectors for docs/PROTOCOL.md (ledger core).",
        "ledger": LEDGER,
        "payload_type": PAYLOAD_TYPE,
        "key": {"seed_hex": seed.hex(), "public_key_b64": b64.encode(raw_public_key(key)),
                "key_id": key_id(key)},
        "entries": entries,
        "tree_root_3": tree.root().hex(),
        "canonical": [
            {"value": v, "canonical": canonical_bytes(v).decode()}
            for v in [
                {"b": 1, "a": [True, False, None], "c": "x"},
                {"\u20ac": 1, "\r": 2, "\U0001f600": 3, "\ufb01": 4, "1": 5},
                {"s": "\u0001\b\t\n\f\r\"\\/\u007f\u00e9\u2028"},
                {"n": [0, -1, 9007199254740991, -9007199254740991]},
            ]
        ],
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"wrote {OUT}")
