"""Replaying the agreement rules during an offline audit.

The auditor folds every agreement stream of a verified bundle with the same decider
the ledger uses, checking each event against the rules as it goes (a rule-breaking
event that somehow got signed and stored is reported with its index), and prints each
agreement's final state hash: two auditors replaying the same bundle must agree.

The rules are the server's at the door: where the statement goes (``check_stream``),
then ``check_event`` on the agreement's state before it. Agreements are independent:
the audit folds each in one worker process, every core taking its share.
"""

from __future__ import annotations

import msgspec

from ..statement import Statement
from .catalogue import Fact
from .check import check_event_json
from .evolve import evolve
from .facts import AGREEMENT_PREFIX, check_stream
from .state import AgreementState, initial_state
from .state_hash import state_hash

__all__ = ["AgreementReplay"]

_KEY_AT = len(AGREEMENT_PREFIX)


class _Head(msgspec.Struct):
    """What the rules read of a statement, its data left as JSON text (decoded once,
    straight into its event type's Struct, by ``check_event_json``)."""

    type: str
    data: msgspec.Raw
    actor: str
    issued_at: str
    version: int
    key: str


_head = msgspec.json.Decoder(_Head)


class AgreementReplay:
    """The agreement rules, as an audit ``Replay``: each agreement is a partition,
    folded on its own; ``apply`` raises ``Rejected``."""

    def __init__(self) -> None:
        self.states: dict[str, AgreementState] = {}

    def route(self, st: Statement) -> str | None:
        """The agreement ``st`` belongs to (its stream's key), None for an organization's
        own stream; ``Rejected`` for a statement no stream of the ledger may hold."""
        return st.stream[_KEY_AT:] if check_stream(st) else None

    def apply(self, key: str, payload: bytes, index: int, recorded_us: int) -> None:
        """Check the statement of ``payload`` (bytes the audit verified:
        ``parse_statement`` had accepted them; ``route`` gave ``key``) against the rules,
        then fold it into its agreement.

        The fact carries the statement and its log position; not ``recorded_at`` nor
        the event hash, which no rule and no state reads, nor the data as a dict: the
        appliers read the decoded Struct that ``evolve`` is handed (a property test
        holds folds with and without each to the same state): the audit spares
        computing them."""
        st = _head.decode(payload)
        state = self.states.get(key)
        if state is None:
            state = initial_state()
        data = check_event_json(state, st.type, bytes(st.data), st.actor, st.issued_at)
        self.states[key] = evolve(state, Fact(
            type=st.type, data={}, actor=st.actor,
            issued_at=st.issued_at, stream_version=st.version, key=st.key, position=index),
            data)

    def state_hashes(self) -> dict[str, str]:
        """Each agreement's final terms hash (hex), by agreement id."""
        return {aid: state_hash(state) for aid, state in sorted(self.states.items())}
