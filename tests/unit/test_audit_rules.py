"""The audit replays the agreement rules: a signed, chained, checkpointed event that the
rules refuse fails the audit with the rule's code and its index; the log-only audit
(``--skip-rules``) passes the same bundle; a good bundle's final state hashes are those
of folding its agreements directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.audit import verify_bundle
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.domain import DraftAgreement, Fact, JoinAgreement, decide, evolve, state_hash
from ledger.domain.audit import AgreementReplay
from ledger.domain.state import initial_state
from ledger.envelope import Envelope
from ledger.keys import private_key_from_seed, raw_public_key
from ledger.leaf import encode_leaf
from ledger.statement import event_hash
from tests.helpers import LEDGER_ID, org

LOG_KEY = private_key_from_seed(b"\x43" * 32)
VKEY = make_vkey(LEDGER_ID, raw_public_key(LOG_KEY))
A, B, C = org("rules-a", seed=61), org("rules-b", seed=62), org("rules-c", seed=63)
T = "2026-03-0{}T10:00:00Z"


def _bundle(path: Path, events: list[tuple[Any, str, str, dict[str, Any]]]) -> None:
    """Registrations of A, B and C, then ``events`` (signer, stream, type, data), each
    chained on its stream and signed by its signer; one checkpoint at the end."""
    envelopes: list[Envelope] = [o.registration(o.org_id) for o in (A, B, C)]
    heads: dict[str, tuple[int, str | None]] = {}
    for n, (who, stream, type_, data) in enumerate(events):
        version, prev = heads.get(stream, (0, None))
        env = who.event(stream, version + 1, prev, type_, data, issued_at=T.format(n + 1))
        heads[stream] = (version + 1, event_hash(env.payload_bytes()))
        envelopes.append(env)
    tree = merkle.CompactRange()
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, VKEY, len(envelopes)))
        for i, env in enumerate(envelopes):
            leaf = encode_leaf(i, 1_780_000_000_000_000 + i, env.canonical())
            tree.append(merkle.hash_leaf(leaf))
            fh.write(entry_line(i, leaf, env.canonical()))
        fh.write(checkpoint_line(sign_checkpoint(
            Checkpoint(LEDGER_ID, len(envelopes), tree.root()), LOG_KEY)))


def _decided(command: Any, state: Any) -> dict[str, Any]:
    [event] = decide(command, state)
    return event.data


DRAFT = DraftAgreement(agreement_id="pool", title="Pool", purpose="Share a hall",
                       binding=False, invited=[B.org_id], actor=A.org_id, at=T.format(1))
DRAFTED = _decided(DRAFT, initial_state())


def _audit(path: Path, *, rules: bool = True, workers: int = 1) -> Any:
    replay = AgreementReplay()
    report = verify_bundle(path, VKEY, workers=workers,
                           fold=replay.apply if rules else None)
    return report, replay


@pytest.mark.parametrize("workers", [1, 2])
def test_a_good_bundle_replays_to_the_state_of_its_events(tmp_path: Path,
                                                          workers: int) -> None:
    state = evolve(initial_state(), Fact("agreement.drafted", DRAFTED, A.org_id, T.format(1), 1))
    joined = _decided(JoinAgreement(actor=B.org_id, at=T.format(2)), state)
    path = tmp_path / "good.jsonl"
    _bundle(path, [(A, "agreement/pool", "agreement.drafted", DRAFTED),
                   (B, "agreement/pool", "party.joined", joined)])
    report, replay = _audit(path, workers=workers)
    assert report.ok, report.failure
    state = evolve(state, Fact("party.joined", joined, B.org_id, T.format(2), 2))
    assert replay.state_hashes() == {"pool": state_hash(state)}


@pytest.mark.parametrize(("events", "index", "code"), [
    # C was never invited: joining is refused
    ([(A, "agreement/pool", "agreement.drafted", DRAFTED),
      (C, "agreement/pool", "party.joined", {})], 4, "party.not-invited"),
    # drafted twice
    ([(A, "agreement/pool", "agreement.drafted", DRAFTED),
      (A, "agreement/pool", "agreement.drafted", DRAFTED)], 4, "agreement.exists"),
    # an event of no agreement type
    ([(A, "agreement/pool", "test.noted", {"n": 1})], 3, "event.unknown-type"),
    # a member equal to its default carried along
    ([(A, "agreement/pool", "agreement.drafted", {**DRAFTED, "public": False})], 3,
     "event.not-normal"),
    # drafted in another agreement's stream
    ([(A, "agreement/other", "agreement.drafted", DRAFTED)], 3, "agreement.wrong-stream"),
    # a kind of stream the ledger does not keep
    ([(A, "invoice/7", "invoice.sent", {})], 3, "stream.unknown-kind"),
], ids=["not-invited", "drafted-twice", "unknown-type", "not-normal", "wrong-stream",
        "unknown-kind"])
def test_an_event_the_rules_refuse_fails_the_audit_with_its_rule_and_index(
        tmp_path: Path, events: list[Any], index: int, code: str) -> None:
    path = tmp_path / "refused.jsonl"
    _bundle(path, events)
    log_only, _ = _audit(path, rules=False)
    assert log_only.ok, log_only.failure          # signed, chained, checkpointed
    report, _ = _audit(path)
    assert report.failure is not None
    assert (report.failure.index, report.failure.code) == (index, code)
    assert report.failure.detail.startswith("Refused by the agreement rules")
