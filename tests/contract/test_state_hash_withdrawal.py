"""PROTOCOL Part IV, "When a party withdraws": what the others stated is kept as stated.

The vectors are checked against the fold by tests/unit/domain/test_domain_state_hash.py;
this test pins, on the vectors themselves, the decisions the text makes, so regenerating
them after a change of rule cannot pass unnoticed.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

from ledger.domain import Fact, fold, state_hash

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "vectors" / "state_hash"
GONE = "centre-c"


def _vector(name: str) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text("utf-8"))
    facts = [Fact(f["type"], f["data"], f["actor"], f["issued_at"], f["stream_version"])
             for f in vector["facts"]]
    assert state_hash(fold(facts)) == vector["state_hash"]
    return vector


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


def test_a_withdrawal_keeps_what_the_others_stated() -> None:
    terms = _vector("05-withdrawal-kept-as-stated")["terms"]
    assert GONE not in [p["org"] for p in terms["parties"]]
    expectations = _by_id(terms["expectations"])
    assert "e2" not in expectations  # its own expectation is withdrawn
    assert expectations["e1"]["addressed_to"] == ["centre-a", GONE]  # not cut
    commitments = _by_id(terms["commitments"])
    assert GONE in [v["org"] for v in commitments["c1"]["receiver_values"]]  # not cut
    assert commitments["c2"]["receiver"] == GONE


def test_joining_again_restores_no_porteur_and_no_expectation() -> None:
    before = _vector("05-withdrawal-kept-as-stated")
    named = [f for f in before["facts"] if f["type"] == "porteur.named" and f["actor"] == GONE]
    assert named, "the vector must name a porteur for the party before it withdraws"
    terms = _vector("06-withdrawn-then-rejoined")["terms"]
    assert {"org": GONE, "porteur": None} in terms["parties"]
    assert "e2" not in _by_id(terms["expectations"])
    assert terms["terms_version"] == before["terms"]["terms_version"] + 1  # the join
