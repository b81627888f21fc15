"""Keys learned while verifying: an organization registered, or a key added, in the
middle of the log signs right after, in ranges that other workers verify at the same
time. Whoever learns the key first, and whether the worker or the main process checks
the signature, the verdicts are those of the key history: valid from its position on,
never before, and a bad signature is a bad signature."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ledger import merkle
from ledger.audit import scan, verify_bundle, worker
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.domain.audit import AgreementReplay
from ledger.envelope import Envelope
from ledger.keys import private_key_from_seed, raw_public_key
from ledger.leaf import encode_leaf
from ledger.signer import Signer
from tests.helpers import LEDGER_ID, Chain, flip_signature, hash_of, org

if TYPE_CHECKING:
    from tests.unit.conftest import KeyLearning

LOG_KEY = private_key_from_seed(b"\x44" * 32)
VKEY = make_vkey(LEDGER_ID, raw_public_key(LOG_KEY))
A, B = org("keys-a", seed=71), org("keys-b", seed=72)
LATE = org("keys-late", seed=73)
LATE_SECOND = Signer(LATE.org_id, private_key_from_seed(b"\x4a" * 32), LEDGER_ID)
SIZE = 400
REGISTERED_AT, ADDED_AT = 150, 230   # LATE's registration, then its second key


def _history(*, early_use_at: int | None = None) -> list[Envelope]:
    """A and B register and write; LATE registers at REGISTERED_AT and writes from
    the next entry on, adds a second key at ADDED_AT and writes with it after.
    ``early_use_at``: an entry LATE signs before it registered."""
    envelopes = [A.registration(A.org_id), B.registration(B.org_id)]
    streams = {who.org_id: Chain(who, f"agreement/keys-{who.org_id}") for who in (A, B)}
    late_org = Chain(LATE, LATE.stream)
    late_stream = Chain(LATE, "agreement/keys-late")
    while len(envelopes) < SIZE:
        n = len(envelopes)
        if n == REGISTERED_AT:
            envelopes.append(LATE.registration(LATE.org_id))
            late_org.version, late_org.head = 1, hash_of(envelopes[-1])
        elif n == ADDED_AT:
            envelopes.append(LATE.key_addition(2, late_org.head or "", LATE_SECOND.key))
        elif n == early_use_at or (n > REGISTERED_AT and n % 3 == 0):
            signer = LATE_SECOND if n > ADDED_AT else LATE
            envelopes.append(late_stream.next(signer=signer))
        else:
            envelopes.append(streams[(A, B)[n % 2].org_id].next())
    return envelopes


def _write(path: Path, envelopes: list[Envelope], *, bad_sig_at: int | None = None) -> bytes:
    tree = merkle.CompactRange()
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, VKEY, len(envelopes)))
        for i, env in enumerate(envelopes):
            envelope = env.canonical() if i != bad_sig_at else flip_signature(env.canonical())
            leaf = encode_leaf(i, 1_780_000_000_000_000 + i, envelope)
            tree.append(merkle.hash_leaf(leaf))
            fh.write(entry_line(i, leaf, envelope))
        fh.write(checkpoint_line(sign_checkpoint(
            Checkpoint(LEDGER_ID, len(envelopes), tree.root()), LOG_KEY)))
    return tree.root()


@pytest.fixture(params=[3_000, 20_000], ids=["3kB", "20kB"])
def small_ranges(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Ranges of one to ten entries, many in flight: keys are met by workers that
    have not read them yet."""
    monkeypatch.setattr(scan, "RANGE_BYTES", request.param)
    monkeypatch.setattr(worker, "AHEAD_PER_WORKER", 8)
    return int(request.param)


def test_keys_introduced_mid_log_sign_right_after(tmp_path: Path, small_ranges: int,
                                                  key_learning: KeyLearning) -> None:
    path = tmp_path / "late.jsonl"
    root = _write(path, _history())
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers)
        assert report.ok, (workers, report.failure)
        assert report.root_hash == root.hex()
        assert report.organizations == 3
    if key_learning.mode == "deferred":
        assert key_learning.deferred == 2 * SIZE


@pytest.mark.parametrize("at", [REGISTERED_AT + 3, ADDED_AT + 1, SIZE - 1],
                         ids=["first-key", "second-key", "last"])
def test_a_bad_signature_by_a_key_learned_mid_log_is_named(
        tmp_path: Path, small_ranges: int, key_learning: KeyLearning, at: int) -> None:
    path = tmp_path / "bad.jsonl"
    _write(path, _history(), bad_sig_at=at)
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers)
        assert report.failure is not None, workers
        assert (report.failure.index, report.failure.code) == (at, "signature-invalid")


def test_a_key_used_before_its_registration_is_unknown_there(
        tmp_path: Path, small_ranges: int, key_learning: KeyLearning) -> None:
    """Its signature is good, and its key is in the bundle: later. At that position the
    history does not know it."""
    path = tmp_path / "early.jsonl"
    _write(path, _history(early_use_at=REGISTERED_AT - 10))
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers)
        assert report.failure is not None, workers
        assert (report.failure.index, report.failure.code) == (REGISTERED_AT - 10,
                                                                "key-unknown")


def test_the_second_key_cannot_sign_its_own_addition(tmp_path: Path,
                                                     key_learning: KeyLearning) -> None:
    """A key added at position p is valid from p + 1: signing the addition with it
    fails, though the worker may well know the key by then."""
    envelopes = _history()
    statement = LATE_SECOND.statement(LATE.stream, 2, hash_of(envelopes[REGISTERED_AT]),
                               "organization.key_added",
                               {"public_key": base64.b64encode(
                                   raw_public_key(LATE_SECOND.key)).decode()})
    envelopes[ADDED_AT] = LATE_SECOND.sign(statement)
    path = tmp_path / "self-added.jsonl"
    _write(path, envelopes)
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers)
        assert report.failure is not None, workers
        assert (report.failure.index, report.failure.code) == (ADDED_AT, "key-unknown")


@pytest.mark.parametrize("flipped", [False, True], ids=["signature-good", "signature-bad"])
def test_a_signature_checked_late_still_comes_before_the_rules(
        tmp_path: Path, key_learning: KeyLearning, flipped: bool) -> None:
    """An entry refused where it goes (no such stream kind): when its signature is also
    bad, the signature is its first fault, even when the main process checks it after
    the worker found the refusal."""
    envelopes = [A.registration(A.org_id), B.registration(B.org_id),
                 B.event("misc/notes", 1, None, "test.noted", {"n": 1})]
    path = tmp_path / "held.jsonl"
    _write(path, envelopes, bad_sig_at=2 if flipped else None)
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers, replay=AgreementReplay)
        assert report.failure is not None, workers
        want = "signature-invalid" if flipped else "stream.unknown-kind"
        assert (report.failure.index, report.failure.code) == (2, want), report.failure
    if key_learning.mode == "deferred":
        assert key_learning.deferred > 0
