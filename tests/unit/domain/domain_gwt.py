"""Given / when / then for the agreement Decider.

    given(*history).when(command).then(*events)
    given(*history).when(command).rejects("rule.code", field="...")

``history`` items are commands (decided and applied in order: the history is then valid
by construction) or ``Fact``s (applied as they are). ``then`` and ``rejects`` also run
``check_event`` on the event the command stands for, so the server's admission check and
``decide`` are held to the same answers.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from ledger.domain import (
    COMMANDS,
    AgreementState,
    DraftAgreement,
    Fact,
    JoinAgreement,
    NewEvent,
    OfferCommitment,
    RatifyAgreement,
    check_event,
    decide,
    evolve,
    initial_state,
    state_hash,
)
from ledger.domain.values import Period, Quantity
from ledger.errors import Rejected

A, B, C, D = "centre-a", "centre-b", "centre-c", "centre-d"
KEY = "ab" * 32
_EVENT_OF = {cls: t for t, cls in COMMANDS.items()}


def T(day: int, hour: int = 10) -> str:
    """A time on day ``day`` of January 2026."""
    return f"2026-01-{day:02d}T{hour:02d}:00:00Z"


def ev(type: str, **data: Any) -> NewEvent:
    return NewEvent(type, data)


def event_of(command: Any) -> tuple[str, dict[str, Any]]:
    """The (type, data) a command stands for, data in normal form."""
    data = msgspec.to_builtins(command)
    del data["actor"], data["at"]
    return _EVENT_OF[type(command)], data


class History:
    """A state built from commands and facts, with the facts kept for replay."""

    def __init__(self) -> None:
        self.state = initial_state()
        self.facts: list[Fact] = []

    def apply(self, item: Any) -> None:
        if isinstance(item, Fact):
            self._add(item)
            return
        for e in decide(item, self.state):
            n = len(self.facts) + 1
            self._add(Fact(e.type, e.data, item.actor, item.at, n, key=KEY, position=1000 + n))

    def _add(self, fact: Fact) -> None:
        self.facts.append(fact)
        self.state = evolve(self.state, fact)


def history(*items: Any) -> History:
    h = History()
    for item in items:
        h.apply(item)
    return h


def state_of(*items: Any) -> AgreementState:
    return history(*items).state


class Scenario:
    def __init__(self, items: tuple[Any, ...]) -> None:
        self.history = history(*items)
        self.command: Any = None

    def when(self, command: Any) -> Scenario:
        self.command = command
        return self

    def then(self, *events: NewEvent) -> AgreementState:
        """Assert the decision; return the state after applying it."""
        before = copy.deepcopy(self.history.state)
        got = decide(self.command, self.history.state)
        assert got == list(events)
        assert self.history.state == before, "decide mutated the state"
        type_, data = event_of(self.command)
        if events:
            check_event(self.history.state, type_, data, self.command.actor, self.command.at)
        else:
            with pytest.raises(Rejected) as info:
                check_event(self.history.state, type_, data, self.command.actor,
                            self.command.at)
            assert info.value.rule == "event.redundant"
        self.history.apply(self.command)
        return self.history.state

    def rejects(self, rule: str, field: str | None = None) -> Rejected:
        with pytest.raises(Rejected) as info:
            decide(self.command, self.history.state)
        assert info.value.rule == rule, info.value.detail
        if field is not None:
            assert info.value.field == field
        if type(self.command) in _EVENT_OF:
            try:
                type_, data = event_of(self.command)
            except (TypeError, ValueError):
                return info.value
            with pytest.raises(Rejected) as again:
                check_event(self.history.state, type_, data, self.command.actor,
                            self.command.at)
            assert again.value.rule == rule, again.value.detail
        return info.value


def given(*items: Any) -> Scenario:
    return Scenario(items)


# --- builders for the usual histories ------------------------------------------------

HOURS = Quantity("10", "hour")
YEAR = Period("2026-01-01", "2026-12-31")


def draft(actor: str = A, invited: tuple[str, ...] = (B, C), day: int = 1,
          **kw: Any) -> DraftAgreement:
    fields: dict[str, Any] = {"agreement_id": "ent-2026", "title": "Locaux partagés",
                              "purpose": "Mieux servir le quartier ensemble.",
                              "binding": False, "invited": list(invited)}
    fields.update(kw)
    return DraftAgreement(**fields, actor=actor, at=T(day))


def join(org: str = B, day: int = 2) -> JoinAgreement:
    return JoinAgreement(actor=org, at=T(day))


def founded() -> tuple[Any, ...]:
    """A drafted (inviting B and C); B joined. Parties: A, B. C is invited."""
    return (draft(), join(B))


def offer(cid: str = "c1", actor: str = A, receiver: str = B, day: int = 3,
          **kw: Any) -> OfferCommitment:
    fields: dict[str, Any] = {"commitment_id": cid, "category": "premises",
                              "description": "Salle de répétition, les lundis",
                              "quantity": HOURS, "period": YEAR, "receiver": receiver}
    fields.update(kw)
    return OfferCommitment(**fields, actor=actor, at=T(day))


def ratify(state: AgreementState, actor: str, day: int = 9) -> RatifyAgreement:
    return RatifyAgreement(terms_version=state.terms_version, state_hash=state_hash(state),
                           actor=actor, at=T(day))


def ratified(*items: Any) -> History:
    """``items`` then every current party ratifies the resulting terms."""
    h = history(*items)
    for org in sorted(h.state.parties):
        h.apply(ratify(h.state, org))
    return h
