"""The audit replays the agreement rules: a signed, chained, checkpointed event that the
rules refuse fails the audit with the rule's code and its index; the log-only audit
(``--skip-rules``) passes the same bundle; a good bundle's final state hashes are those
of folding its agreements directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.audit import verify, verify_bundle
from ledger.audit.replay import partitions
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


def _bundle(path: Path, events: list[tuple[Any, str, str, dict[str, Any]]],
            *, broken_link_at: int | None = None) -> None:
    """Registrations of A, B and C, then ``events`` (signer, stream, type, data), each
    chained on its stream and signed by its signer; one checkpoint at the end.
    ``broken_link_at``: the entry (log index) whose prev-hash is wrong."""
    envelopes: list[Envelope] = [o.registration(o.org_id) for o in (A, B, C)]
    heads: dict[str, tuple[int, str | None]] = {}
    for n, (who, stream, type_, data) in enumerate(events):
        version, prev = heads.get(stream, (0, None))
        if n + 3 == broken_link_at:
            prev = "0" * 64
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


def _audit(path: Path, *, rules: bool = True, workers: int = 1,
           progress: Any = None) -> Any:
    return verify_bundle(path, VKEY, workers=workers, progress=progress,
                         replay=AgreementReplay if rules else None)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_good_bundle_replays_to_the_state_of_its_events(tmp_path: Path,
                                                          workers: int) -> None:
    state = evolve(initial_state(), Fact("agreement.drafted", DRAFTED, A.org_id, T.format(1), 1))
    joined = _decided(JoinAgreement(actor=B.org_id, at=T.format(2)), state)
    path = tmp_path / "good.jsonl"
    _bundle(path, [(A, "agreement/pool", "agreement.drafted", DRAFTED),
                   (B, "agreement/pool", "party.joined", joined)])
    report = _audit(path, workers=workers)
    assert report.ok, report.failure
    state = evolve(state, Fact("party.joined", joined, B.org_id, T.format(2), 2))
    assert report.agreements == {"pool": state_hash(state)}


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
@pytest.mark.parametrize("workers", [1, 2])
def test_an_event_the_rules_refuse_fails_the_audit_with_its_rule_and_index(
        tmp_path: Path, events: list[Any], index: int, code: str, workers: int) -> None:
    path = tmp_path / "refused.jsonl"
    _bundle(path, events)
    log_only = _audit(path, rules=False, workers=workers)
    assert log_only.ok, log_only.failure          # signed, chained, checkpointed
    report = _audit(path, workers=workers)
    assert report.failure is not None
    assert (report.failure.index, report.failure.code) == (index, code)
    assert report.failure.detail.startswith("Refused by the agreement rules")
    assert report.agreements == {}                # no final state for a failed audit
    # the entries before the refusal passed every check; the header announced them all
    assert (report.entries_verified, report.size) == (index, len(events) + 3)


def _drafted(agreement: str) -> dict[str, Any]:
    return {**DRAFTED, "agreement_id": agreement}


# Agreements folded apart (in other workers, in any order): the lowest refusal wins.
TWO_REFUSALS = [(A, "agreement/pool", "agreement.drafted", DRAFTED),        # 3
                (A, "agreement/hall", "agreement.drafted", _drafted("hall")),  # 4
                (A, "agreement/hall", "agreement.drafted", _drafted("hall")),  # 5 refused
                (C, "agreement/pool", "party.joined", {}),                  # 6 refused
                (A, "agreement/room", "agreement.drafted", _drafted("room"))]  # 7


@pytest.mark.parametrize("tasks", [1, 8])
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("order", ["hall-first", "pool-first"])
def test_the_first_refusal_in_log_order_is_named_across_agreements(
        tmp_path: Path, workers: int, order: str, tasks: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # tasks per worker: 1 puts several agreements in one task (one worker's share)
    monkeypatch.setattr(verify, "_REPLAY_TASKS_PER_WORKER", tasks)
    events = list(TWO_REFUSALS)
    if order == "pool-first":   # the other agreement's refusal comes first in the log
        events[2], events[3] = events[3], events[2]
    path = tmp_path / "two.jsonl"
    _bundle(path, events)
    report = _audit(path, workers=workers)
    assert report.failure is not None
    assert report.failure.index == 5
    assert report.failure.code == ("agreement.exists" if order == "hall-first"
                                   else "party.not-invited")


@pytest.mark.parametrize("workers", [1, 2])
def test_a_refusal_before_a_broken_link_is_named_first(tmp_path: Path,
                                                       workers: int) -> None:
    path = tmp_path / "refusal-then-link.jsonl"
    _bundle(path, TWO_REFUSALS, broken_link_at=7)
    assert _audit(path, rules=False, workers=workers).failure.index == 7
    report = _audit(path, workers=workers)
    assert (report.failure.index, report.failure.code) == (5, "agreement.exists")


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("at", [4, 5])   # 5: the broken entry is one the rules refuse
def test_a_broken_link_before_a_refusal_is_named_first(tmp_path: Path, workers: int,
                                                       at: int) -> None:
    """The rules fold only the entries before the log's first failure, not it."""
    path = tmp_path / "link-then-refusal.jsonl"
    _bundle(path, TWO_REFUSALS, broken_link_at=at)
    report = _audit(path, workers=workers)
    assert report.failure is not None
    assert report.failure.index == at
    assert report.failure.code not in {"agreement.exists", "party.not-invited"}  # the log's


def test_progress_reports_the_log_then_the_rules(tmp_path: Path) -> None:
    joined = {}
    path = tmp_path / "progress.jsonl"
    _bundle(path, [(A, "agreement/pool", "agreement.drafted", DRAFTED),
                   (B, "agreement/pool", "party.joined", joined),
                   (A, "agreement/hall", "agreement.drafted", _drafted("hall"))])
    seen: list[tuple[str, int, int]] = []
    report = _audit(path, workers=2, progress=lambda *a: seen.append(a))
    assert report.ok, report.failure
    phases = [phase for phase, _, _ in seen]
    assert phases == sorted(phases, key=["verify", "rules"].index)
    assert seen[phases.index("rules") - 1] == ("verify", 6, 6)
    assert seen[-1] == ("rules", 3, 3)                  # the three agreement events
    assert sorted(report.agreements) == ["hall", "pool"]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bundle_ending_without_newline_or_checkpoint_replays(tmp_path: Path,
                                                               workers: int) -> None:
    """The last entry line is the file's last line, with no newline after it: the
    rules still read it whole."""
    path = tmp_path / "bare.jsonl"
    _bundle(path, [(A, "agreement/pool", "agreement.drafted", DRAFTED)])
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]).rstrip(b"\n"))   # no checkpoint, no newline
    report = _audit(path, workers=workers)
    assert report.ok, report.failure
    assert list(report.agreements) == ["pool"]
    assert any("not covered" in w for w in report.warnings)


def test_partitions_share_the_agreements_evenly_each_once() -> None:
    from array import array

    routes = {f"a{i}": array("q", [0] * 3 * (1 + i % 17)) for i in range(200)}
    groups = partitions(routes, 8)
    keys = [key for group in groups for key, _ in group]
    assert sorted(keys) == sorted(routes)                 # every agreement, once
    loads = [sum(len(packed) // 24 for _, packed in group) for group in groups]
    assert max(loads) - min(loads) <= 17                  # within the largest one
    assert partitions(routes, 8) == groups         # the same every time


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("order", ["other-first", "other-last"])
def test_a_line_with_two_envelopes_is_read_as_one_everywhere(tmp_path: Path, workers: int,
                                                             order: str) -> None:
    """JSON lets a member repeat; the audit reads the last one, in the log's checks and
    in the rules replay alike: the rules never see an envelope other than the one the
    leaf holds and whose signature was verified."""
    path = tmp_path / "twice.jsonl"
    _bundle(path, [(A, "agreement/pool", "agreement.drafted", DRAFTED)])
    good = _audit(path, workers=workers)
    lines = path.read_bytes().splitlines(keepends=True)
    other = C.event("agreement/pool", 1, None, "agreement.drafted", DRAFTED,
                    issued_at=T.format(9)).canonical()    # C's draft: another state
    assert lines[4].endswith(b"}\n")
    head, envelope = lines[4][:-2].split(b',"envelope":', 1)
    members = [b'"envelope":' + other, b'"envelope":' + envelope]
    if order == "other-last":
        members.reverse()
    lines[4] = head + b"," + b",".join(members) + b"}\n"
    path.write_bytes(b"".join(lines))
    report = _audit(path, workers=workers)
    if order == "other-first":       # the last is the leaf's: verified and replayed
        assert report.ok, report.failure
        assert report.agreements == good.agreements
    else:                            # the last is not the leaf's envelope
        assert (report.failure.index, report.failure.code) == (3, "leaf-envelope")
