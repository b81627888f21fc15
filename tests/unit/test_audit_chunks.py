"""The audit's range-by-range path on bundles of a few thousand entries.

Each range of the bundle reaches the main process as its rows and the aligned subtrees
covering them, cut at every checkpoint size. Whatever the range size and the number of
worker processes, a good bundle verifies to the same root and a broken one fails at
the same index with the same code.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ledger import merkle
from ledger.audit import scan, verify_bundle, worker
from ledger.bundle import checkpoint_line, entry_line, header_line
from ledger.checkpoint import Checkpoint, make_vkey, sign_checkpoint
from ledger.keys import private_key_from_seed, raw_public_key
from ledger.leaf import encode_leaf
from ledger.statement import event_hash
from tests.helpers import LEDGER_ID, flip_signature, org

if TYPE_CHECKING:
    from tests.unit.conftest import KeyLearning

LOG_KEY = private_key_from_seed(b"\x42" * 32)
VKEY = make_vkey(LEDGER_ID, raw_public_key(LOG_KEY))
CHUNK = 1024
SIZE = 2 * CHUNK + CHUNK // 2 + 7
STREAMS = 40
T0 = 1_780_000_000_000_000


def _write(path: Path, *, checkpoints: tuple[int, ...] = (1000, 2 * CHUNK, 2 * CHUNK + 3, SIZE),
           bad_prev_at: int | None = None, bad_sig_at: int | None = None,
           stranger_at: int | None = None, wrong_root_at: int | None = None,
           drop: int | None = None, insert_at: int | None = None,
           insert: bytes = b"") -> bytes:
    """A bundle of SIZE entries: 4 registrations, then events over STREAMS streams."""
    orgs = [org(f"audit-{i}", seed=100 + i) for i in range(4)]
    stranger = org("audit-stranger", seed=199)
    tree = merkle.CompactRange()
    heads: dict[str, tuple[int, str | None]] = {}
    lines, notes = [], []
    for i in range(SIZE):
        if i < len(orgs):
            env = orgs[i].registration(orgs[i].org_id)
        else:
            who = stranger if i == stranger_at else orgs[i % len(orgs)]
            stream = f"agreement/chunks-{i % STREAMS}"
            version, prev = heads.get(stream, (0, None))
            if i == bad_prev_at:
                prev = "0" * 64 if prev is None else prev[::-1]
            env = who.event(stream, version + 1, prev, "test.noted", {"n": i})
            heads[stream] = (version + 1, event_hash(env.payload_bytes()))
        envelope = env.canonical() if i != bad_sig_at else flip_signature(env.canonical())
        leaf = encode_leaf(i, T0 + i, envelope)
        tree.append(merkle.hash_leaf(leaf))
        if i == insert_at:
            lines.append(insert)
        if i != drop:
            lines.append(entry_line(i, leaf, envelope))
        if i + 1 in checkpoints:
            root = b"\x07" * 32 if i + 1 == wrong_root_at else tree.root()
            notes.append(sign_checkpoint(Checkpoint(LEDGER_ID, i + 1, root), LOG_KEY))
    with path.open("wb") as fh:
        fh.write(header_line(LEDGER_ID, VKEY, SIZE))
        fh.writelines(lines)
        fh.writelines(checkpoint_line(n) for n in notes)
    return tree.root()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    path = tmp_path_factory.mktemp("chunks") / "good.jsonl"
    return path, _write(path)


@pytest.fixture(params=[scan.RANGE_BYTES, 50_000, 7_777], ids=["1MiB", "50kB", "7777B"])
def range_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(scan, "RANGE_BYTES", request.param)
    return int(request.param)


@pytest.mark.parametrize("workers", [1, 2])
def test_good_bundle_verifies(good: tuple[Path, bytes], workers: int, range_bytes: int,
                              key_learning: KeyLearning) -> None:
    path, root = good
    report = verify_bundle(path, VKEY, workers=workers)
    assert report.ok, report.failure
    if key_learning.mode == "deferred":
        assert key_learning.deferred == SIZE
    else:  # the first range runs alone; the keys it introduces reach every later range
        assert key_learning.deferred < SIZE // 20
    assert report.size == report.entries_verified == SIZE
    assert report.root_hash == root.hex()
    assert report.checkpoints_verified == 4
    assert report.streams == STREAMS + 4


@pytest.mark.parametrize("case", ["signature", "prev", "stranger", "root", "interior-root",
                                  "dropped", "checkpoint-among-entries", "junk-line"])
def test_broken_bundle_fails_at_the_same_index_on_every_path(tmp_path: Path, case: str,
                                                             range_bytes: int,
                                                             key_learning: KeyLearning) -> None:
    path = tmp_path / "bad.jsonl"
    at = CHUNK + 300
    if case == "signature":
        _write(path, bad_sig_at=at)
        want = (at, "signature-invalid")
    elif case == "prev":
        _write(path, bad_prev_at=at)
        want = (at, "stream-prev-mismatch")
    elif case == "stranger":
        _write(path, stranger_at=at)
        want = (at, "key-unknown")
    elif case == "root":
        _write(path, wrong_root_at=2 * CHUNK + 3)
        want = (2 * CHUNK + 2, "checkpoint-root")
    elif case == "interior-root":
        _write(path, wrong_root_at=1000)           # not a power of two: a cut
        want = (999, "checkpoint-root")
    elif case == "checkpoint-among-entries":
        # signed with the pinned key and true, but where no checkpoint may stand
        note = sign_checkpoint(Checkpoint(LEDGER_ID, 1, b"\0" * 32), LOG_KEY)
        _write(path, insert_at=at, insert=checkpoint_line(note))
        want = (at, "checkpoint-misplaced")
    elif case == "junk-line":      # no index of its own: named by where it stands
        _write(path, insert_at=at, insert=b"[1, 2]\n")
        want = (at, "entry-malformed")
    else:
        _write(path, drop=at)
        want = (at, "entry-missing")
    for workers in (1, 2):
        report = verify_bundle(path, VKEY, workers=workers)
        assert report.failure is not None, workers
        assert (report.failure.index, report.failure.code) == want, (workers, report.failure)
    if key_learning.mode == "deferred":
        assert key_learning.deferred > 0


def _die(self: worker.Worker, start: int, end: int, keys: dict[str, bytes]) -> None:
    os._exit(3)  # what a worker reading a truncated mapped file (SIGBUS) amounts to


def test_a_worker_that_dies_is_reported_not_raised(good: tuple[Path, bytes],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker.Worker, "check_range", _die)
    report = verify_bundle(good[0], VKEY, workers=2)
    assert report.failure is not None and report.failure.code == "bundle-unreadable"


def test_entry_lines_spelled_otherwise_still_verify(good: tuple[Path, bytes],
                                                    tmp_path: Path) -> None:
    """Another writer may escape characters of the leaf string or space the envelope:
    the entry is the same and verifies (the fast path falls back to decoding)."""
    lines = good[0].read_bytes().splitlines(keepends=True)
    for n, line in ((5, lines[5]), (9, lines[9])):
        obj = json.loads(line)
        leaf = obj["leaf"]
        escaped = f"\\u{ord(leaf[0]):04x}{leaf[1:10]}\\u{ord(leaf[10]):04x}{leaf[11:]}"
        envelope = json.dumps(obj["envelope"], separators=(", ", ": "))
        lines[n] = (f'{{"index": {obj["index"]}, "leaf": "{escaped}", "envelope": {envelope}}}\n'
                    .encode())
    path = tmp_path / "respelled.jsonl"
    path.write_bytes(b"".join(lines))
    report = verify_bundle(path, VKEY, workers=1)
    assert report.ok, report.failure
    assert bytes.fromhex(report.root_hash) == good[1]


@pytest.mark.parametrize("spacing", [(", ", ": "), (",", ":\t")])
def test_a_leaf_holding_its_envelope_not_canonical_fails(tmp_path: Path,
                                                         spacing: tuple[str, str]) -> None:
    """The line repeats the leaf's envelope bytes exactly, signatures hold, the tree
    and checkpoint agree: but the leaf must hold the envelope's canonical bytes."""
    signer = org("audit-spaced", seed=131)
    canonical = signer.registration(signer.org_id).canonical()
    spaced = json.dumps(json.loads(canonical), separators=spacing).encode()
    leaf = encode_leaf(0, T0, spaced)
    tree = merkle.CompactRange()
    tree.append(merkle.hash_leaf(leaf))
    path = tmp_path / "spaced.jsonl"
    path.write_bytes(
        header_line(LEDGER_ID, VKEY, 1)
        + b'{"index":0,"leaf":"%s","envelope":%s}\n' % (base64.b64encode(leaf), spaced)
        + checkpoint_line(sign_checkpoint(Checkpoint(LEDGER_ID, 1, tree.root()), LOG_KEY)))
    report = verify_bundle(path, VKEY, workers=1)
    assert report.failure is not None
    assert (report.failure.index, report.failure.code) == (0, "leaf-envelope")


@pytest.mark.parametrize("case", ["prev", "signature"])
@pytest.mark.parametrize("at", [10, CHUNK + 300])
@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_audit_reports_true_counts(tmp_path: Path, case: str, at: int,
                                            workers: int) -> None:
    """The entries before the first failure are counted, and only they (their
    signatures, their streams, their organizations), out of the size the header
    announces: not the whole range the failure stood in, not zeros."""
    path = tmp_path / "bad.jsonl"
    _write(path, bad_prev_at=at) if case == "prev" else _write(path, bad_sig_at=at)
    report = verify_bundle(path, VKEY, workers=workers)
    assert report.failure is not None and report.failure.index == at
    assert (report.entries_verified, report.size) == (at, SIZE)
    assert report.signatures_verified == at                  # one signature per entry
    assert report.organizations == 4                         # registered at 0..3
    assert report.streams == 4 + len({i % STREAMS for i in range(4, at)})
    as_json = report.to_json()
    assert (as_json["entries_verified"], as_json["size"]) == (at, SIZE)
