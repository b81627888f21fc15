"""Time travel: the state of an agreement as of a stream version or a moment.

Why prefixes only: a stream's state is defined for a prefix of its history (each event
was decided against the one before), so "as of" never skips an event in the middle. As of
a moment, the fold stops at the first fact later than that moment, using the ledger's
``recorded_at`` when the fact has one and the actor's claimed ``issued_at`` otherwise.
Times are compared as instants: ``...:05Z`` and ``...:05.000000Z`` are the same moment.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..statement import parse_time
from .catalogue import Fact
from .evolve import evolve
from .state import AgreementState, initial_state

__all__ = ["fact_time", "state_at"]


def _instant(text: str) -> str:
    """A sortable form of ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``: microseconds always present."""
    head, _, frac = text.rstrip("Z").partition(".")
    return f"{head}.{frac:0<6}"


def fact_time(fact: Fact) -> str:
    """The moment a fact counts from: ``recorded_at`` if known, else ``issued_at``."""
    return fact.recorded_at if fact.recorded_at is not None else fact.issued_at


def state_at(
    facts: Iterable[Fact], *, version: int | None = None, at: str | None = None
) -> AgreementState:
    """The state after the facts with ``stream_version <= version`` and, if ``at`` is
    given, up to (not including) the first fact later than ``at``.

    Requires ``facts`` in stream order. ``at`` must be RFC 3339 UTC
    (``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``); otherwise ``MalformedStatement`` is raised.
    """
    limit = None
    if at is not None:
        parse_time(at, field="at")
        limit = _instant(at)
    state = initial_state()
    for fact in facts:
        if version is not None and fact.stream_version > version:
            break
        if limit is not None and _instant(fact_time(fact)) > limit:
            break
        state = evolve(state, fact)
    return state
