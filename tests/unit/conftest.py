"""Fixtures shared by the audit's unit tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ledger import audit

_CHECK_IN = audit._check_in


def _check_in_unaided(ctx: audit._Context, start: int, end: int,
                      keys: dict[str, bytes]) -> audit._Chunk:
    return _CHECK_IN(ctx, start, end, {})  # the keys the main process sends: dropped


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
    verify_pending = audit._Sequence._verify_pending

    def counted(self: audit._Sequence, index: int, pending: audit._Pending) -> None:
        learning.deferred += len(pending[1])
        verify_pending(self, index, pending)

    monkeypatch.setattr(audit._Sequence, "_verify_pending", counted)
    if learning.mode == "deferred":
        monkeypatch.setattr(audit, "_learn", lambda st: None)
        monkeypatch.setattr(audit, "_check_in", _check_in_unaided)
    return learning
