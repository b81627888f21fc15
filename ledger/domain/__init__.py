"""The agreement domain: the rules of a pooling agreement ("entente de mutualisation")
as a pure Decider, its event catalogue, the state hash the parties ratify, time travel
and the written agreement.

A Decider (thinkbeforecoding): ``decide(command, state) -> list[NewEvent]`` applies the
rules and raises ``ledger.errors.Rejected``; ``evolve(state, fact) -> state`` records a
fact and never raises; ``INITIAL`` / ``initial_state()`` is the empty stream;
``is_terminal`` is true once terminated. Nothing here does I/O, reads a clock or draws
randomness: time and ids arrive in the commands.

    >>> from ledger.domain import DraftAgreement, decide, initial_state
    >>> cmd = DraftAgreement(agreement_id="a1", title="Locaux", purpose="Partager",
    ...                      binding=False, actor="centre-a", at="2026-01-05T10:00:00Z")
    >>> [e.type for e in decide(cmd, initial_state())]
    ['agreement.drafted']

Every event of one agreement lives in the stream ``agreement/<agreement_id>``
(``agreement_stream``). ``docs/EVENTS.md`` is the catalogue in prose.
"""

from __future__ import annotations

from .catalogue import EVENTS, EventSpec, Fact, NewEvent
from .check import check_event
from .commands import *  # noqa: F403  (the command classes, Command, COMMANDS)
from .commands import __all__ as _commands_all
from .commands import command_from_event
from .decide import decide
from .document import render_markdown
from .evolve import evolve, fold
from .facts import (
    STREAM_KINDS,
    agreement_stream,
    check_stream,
    fact_from_statement,
    fact_from_stored,
)
from .rules import RULES
from .state import (
    INITIAL,
    AgreementState,
    copy_state,
    in_force,
    initial_state,
    is_shared,
    is_terminal,
    stage_complete,
    terms_pending,
)
from .state_hash import expectation_hash, state_hash, terms_json
from .timetravel import state_at

__all__ = [
    "EVENTS",
    "INITIAL",
    "RULES",
    "AgreementState",
    "EventSpec",
    "Fact",
    "NewEvent",
    "agreement_stream",
    "STREAM_KINDS",
    "check_event",
    "check_stream",
    "command_from_event",
    "copy_state",
    "decide",
    "evolve",
    "expectation_hash",
    "fact_from_statement",
    "fact_from_stored",
    "fold",
    "in_force",
    "initial_state",
    "is_shared",
    "is_terminal",
    "render_markdown",
    "stage_complete",
    "state_at",
    "state_hash",
    "terms_json",
    "terms_pending",
    *_commands_all,
]
