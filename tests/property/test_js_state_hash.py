"""One contract, two implementations: the agreement state hash that the browser's
JavaScript recomputes (``api/web/static/js/verify/statehash.js``) is the Python rules'
one, after every event of random histories the rules admit (the command sequences of
``test_domain_props``), ratifications included. A disagreement is fixed in
docs/PROTOCOL.md Part IV first."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.domain as d
from ledger.domain import Fact, decide, evolve, state_hash
from ledger.errors import Rejected
from tests.property.test_domain_props import OPENINGS, Step, step

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


def history(opening: list[Step], steps: list[Step]) -> dict[str, Any]:
    """The facts the rules admit for these commands, with the hash after each."""
    state, facts, hashes, versions = d.initial_state(), [], [], []
    for make in opening + steps:
        command = make(state)
        try:
            events = decide(command, copy.deepcopy(state))
        except Rejected:
            continue
        for e in events:
            fact = Fact(e.type, e.data, command.actor, command.at, len(facts) + 1)
            state = evolve(state, fact)
            facts.append({"type": e.type, "actor": command.actor,
                          "data": msgspec.to_builtins(e.data)})
            hashes.append(state_hash(state))
            versions.append(state.terms_version)
    return {"facts": facts, "hashes": hashes, "versions": versions}


@pytest.mark.skipif(NODE is None, reason="node is not installed: the JavaScript state "
                    "hash cannot be compared here")
@pytest.mark.timeout(300)
def test_javascript_state_hash_agrees_with_python_on_random_histories(tmp_path: Path) -> None:
    cases: list[dict[str, Any]] = []

    @settings(max_examples=400, deadline=None, database=None, derandomize=True)
    @given(st.sampled_from(OPENINGS), st.lists(step, min_size=10, max_size=40))
    def collect(opening: list[Step], steps: list[Step]) -> None:
        cases.append(history(opening, steps))

    collect()
    ratified = sum(f["type"] == "agreement.ratified" for c in cases for f in c["facts"])
    assert ratified > 0, "the histories hold ratifications"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases, ensure_ascii=False))
    assert NODE is not None
    done = subprocess.run([NODE, str(ROOT / "tests" / "js" / "fold_cases.mjs"), str(path)],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cases"] == len(cases)
    assert report["wrong"] == [], report
