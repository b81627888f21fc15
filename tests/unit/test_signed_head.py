"""The record of the newest signed checkpoint, outside the database (ledger.signed_head):
it only grows, it is never silently ignored, and a tree that does not extend it is
refused (the database-side behaviour is tests/replicas/test_failover.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.errors import HistoryMismatch
from ledger.keys import private_key_from_seed
from ledger.signed_head import read_signed_head, record_signed_head, refusal

KEY = private_key_from_seed(b"\x09" * 32)
ORIGIN = "example.org/ledger"


def note(size: int, root: bytes) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), KEY)


def test_the_record_only_grows(tmp_path: Path) -> None:
    path = tmp_path / "log-key.pem.last-checkpoint"
    assert read_signed_head(path, ORIGIN) is None
    record_signed_head(path, note(10, b"\x01" * 32), ORIGIN)
    record_signed_head(path, note(7, b"\x02" * 32), ORIGIN)  # a slower process, later
    head = read_signed_head(path, ORIGIN)
    assert head is not None and (head.size, head.root_hash) == (10, b"\x01" * 32)
    record_signed_head(path, note(12, b"\x03" * 32), ORIGIN)
    head = read_signed_head(path, ORIGIN)
    assert head is not None and head.size == 12
    assert path.read_text().startswith(f"{ORIGIN}\n12\n")  # the signed note, verbatim


def test_a_damaged_or_foreign_record_is_refused_not_ignored(tmp_path: Path) -> None:
    path = tmp_path / "record"
    path.write_text("not a checkpoint\n")
    with pytest.raises(HistoryMismatch, match="is not a checkpoint"):
        read_signed_head(path, ORIGIN)
    path.write_text(sign_checkpoint(Checkpoint("other/ledger", 3, b"\x01" * 32), KEY))
    with pytest.raises(HistoryMismatch, match="for origin 'other/ledger'"):
        read_signed_head(path, ORIGIN)


def test_only_a_tree_that_extends_the_signed_one_may_be_signed() -> None:
    signed = Checkpoint(ORIGIN, 10, b"\x01" * 32)
    assert refusal(signed, 10, b"\x01" * 32) is None
    assert refusal(signed, 15, b"\x01" * 32) is None
    assert "holds 9 entries" in (refusal(signed, 9, None) or "")
    assert "not the one this ledger signed" in (refusal(signed, 15, b"\x02" * 32) or "")
