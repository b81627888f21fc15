"""The state hash: recomputed from the language-neutral vectors in tests/vectors/state_hash.

Each vector can be checked without this code:
    python -c "import json,sys; print(json.load(open(sys.argv[1]))['canonical'], end='')" \
        tests/vectors/state_hash/01-drafted.json | sha256sum
prints the vector's ``state_hash``.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
from typing import Any

import pytest
from domain_gwt import A, B, T, draft, founded, history, join, offer

from ledger.canonical import canonical_bytes
from ledger.domain import Fact, NamePorteur, fold, state_hash, terms_json
from ledger.domain.state_hash import TERMS_SCHEMA

VECTORS = sorted((pathlib.Path(__file__).resolve().parents[2] / "vectors" / "state_hash")
                 .glob("*.json"))


def _facts(vector: dict[str, Any]) -> list[Fact]:
    return [Fact(f["type"], f["data"], f["actor"], f["issued_at"], f["stream_version"])
            for f in vector["facts"]]


def test_there_are_vectors() -> None:
    assert len(VECTORS) >= 4


def test_all_vectors() -> None:
    failures = []
    for path in VECTORS:
        vector = json.loads(path.read_text(encoding="utf-8"))
        state = fold(_facts(vector))
        terms = terms_json(state)
        text = canonical_bytes(terms).decode("utf-8")
        checks = {
            "terms": terms == vector["terms"],
            "canonical": text == vector["canonical"],
            "sha256(canonical)": hashlib.sha256(vector["canonical"].encode()).hexdigest()
            == vector["state_hash"],
            "state_hash": state_hash(state) == vector["state_hash"],
        }
        failures += [f"{path.name}: {name}" for name, ok in checks.items() if not ok]
    assert not failures, f"{len(failures)} out of {4 * len(VECTORS)} failures: {failures}"


def test_the_smallest_vector_pinned_in_the_protocol_doc() -> None:
    state = history(draft(invited=(B,))).state
    assert state_hash(state) == json.loads(VECTORS[0].read_text())["state_hash"]
    doc = pathlib.Path(__file__).resolve().parents[3] / "docs" / "PROTOCOL.md"
    assert state_hash(state) in doc.read_text(encoding="utf-8")


def test_terms_object_has_exactly_the_documented_members() -> None:
    terms = terms_json(history(*founded()).state)
    assert sorted(terms) == ["agreement_id", "binding", "commitments", "expectations",
                             "indicators", "parties", "purpose", "roles", "schema",
                             "terms_version", "title"]
    assert terms["schema"] == TERMS_SCHEMA


def test_list_order_does_not_depend_on_event_order() -> None:
    one = history(*founded(), offer("b"), offer("a", day=4)).state
    two = history(*founded(), offer("a"), offer("b", day=4)).state
    assert terms_json(one)["commitments"] == terms_json(two)["commitments"]
    assert state_hash(one) == state_hash(two)


def test_the_hash_binds_the_terms_version_and_each_term() -> None:
    base = history(*founded()).state
    named = history(*founded(), NamePorteur(person_id="p-1", actor=A, at=T(3))).state
    assert state_hash(base) != state_hash(named)
    other_id = history(draft(agreement_id="autre"), join(B)).state
    assert state_hash(base) != state_hash(other_id)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_vector_is_its_own_canonical_form(path: pathlib.Path) -> None:
    vector = json.loads(path.read_text(encoding="utf-8"))
    assert canonical_bytes(vector["terms"]).decode() == vector["canonical"]


def _fresh(state: Any) -> str:
    """The hash computed from scratch, remembering nothing."""
    return hashlib.sha256(canonical_bytes(terms_json(state))).hexdigest()


def test_a_remembered_hash_follows_the_terms_version() -> None:
    from ledger.domain import evolve

    state = fold(founded())
    first = state_hash(state)
    assert first == _fresh(state)
    version = state.terms_version
    # a terms event bumps the version: the hash is computed again
    state = evolve(state, Fact("porteur.named", {"person_id": "p-9"}, A, T, state.version + 1))
    assert state.terms_version == version + 1
    assert state_hash(state) == _fresh(state) != first


def test_a_remembered_hash_never_serves_another_state_at_the_same_address() -> None:
    from ledger.domain.state import AgreementState

    # States made and dropped one after the other reuse the same memory: each must
    # still get its own hash (the memo forgets a state when it goes).
    for n in range(300):
        state = AgreementState(agreement_id="a", title=f"t{n}", terms_version=1)
        assert state_hash(state) == _fresh(state)
        del state
