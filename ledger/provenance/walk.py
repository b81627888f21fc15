"""One pass over an agreement's entries with the domain's ``evolve``: what each event did
to the terms, and the state at the end.

Why here: several answers need "which terms version did this event make, and what was
its state hash and who were the parties then". The state hash is computed only when
asked (``hashes=True``): the commitment query, which must be fast, does not need it.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from ..domain.evolve import evolve
from ..domain.state import AgreementState, initial_state
from ..domain.state_hash import state_hash
from .records import Entry

__all__ = ["Step", "Walk", "walk"]


class Step(msgspec.Struct, gc=False):
    """One entry and its effect: the terms version after it, whether it made that
    version, and (when hashes were asked) that version's state hash and parties."""

    entry: Entry
    applied: bool
    terms_version: int
    terms_changed: bool
    state_hash: str | None = None
    parties: tuple[str, ...] = ()


class Walk(msgspec.Struct, gc=False):
    steps: list[Step]
    state: AgreementState


def walk(entries: Iterable[Entry], *, hashes: bool = False) -> Walk:
    """Fold ``entries`` (one agreement stream, in order), recording each step."""
    state = initial_state()
    steps: list[Step] = []
    for entry in entries:
        before = state.terms_version
        state = evolve(state, entry.fact())
        applied = state.version == entry.version
        changed = state.terms_version != before
        step = Step(entry, applied, state.terms_version, changed)
        if changed and hashes:
            step.state_hash = state_hash(state)
            step.parties = tuple(sorted(state.parties))
        steps.append(step)
    return Walk(steps, state)
