"""Fixtures shared by the audit's unit tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ledger.audit import entry, sequence, worker
from ledger.statement import Statement

_CHECK_TASK = worker.check_task


def _check_task_unaided(ctx: worker.Context, start: int, end: int,
                        keys: dict[str, bytes]) -> worker.Chunk:
    return _CHECK_TASK(ctx, start, end, {})  # the keys the main process sends: dropped


def _learn_nothing(self: entry.EntryChecker, st: Statement) -> None:
    return None


@dataclass
class KeyLearning:
    mode: str           # "learned" or "deferred"
    deferred: int = 0   # signatures the main process verified for the workers


@pytest.fixture(params=["learned", "deferred"])
def key_learning(request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> KeyLearning:
    """``learned``: workers learn keys as they read and are sent them, as always.
    ``deferred``: workers never know a key (nothing learned, nothing sent), so every
    signature travels to the main process, which verifies it against the key history:
    the verdicts must not change. (Workers are forked from the test: they see the
    patches.)"""
    learning = KeyLearning(str(request.param))
    verify_pending = sequence.Sequence.verify_pending

    def counted(self: sequence.Sequence, index: int, pending: entry.Pending) -> None:
        learning.deferred += len(pending.signatures)
        verify_pending(self, index, pending)

    monkeypatch.setattr(sequence.Sequence, "verify_pending", counted)
    if learning.mode == "deferred":
        monkeypatch.setattr(entry.EntryChecker, "learn", _learn_nothing)
        monkeypatch.setattr(worker, "check_task", _check_task_unaided)
    return learning
