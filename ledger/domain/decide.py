"""decide: the agreement's rules, as a pure function from a command and a state to events.

Why in three steps: every command passes the same checks before its own rules, so they
are written once here.

1. *Shape.* The command's data is re-read through its event's data Struct, so constraints
   hold even for a command built directly in Python, and the event data is produced in
   normal form (``msgspec.to_builtins``); it must also be canonical JSON (NFC strings).
   ``actor`` must be an organization id and ``at`` an RFC 3339 UTC time.
2. *Gate.* Drafting needs an absent agreement; everything else needs a drafted one that
   is not terminated, and, while it is suspended, an event allowed then. The actor must be
   a current party (or, for winding down, a former one; joining is for invited orgs).
3. *The event's own rules* (``decide_membership``, ``decide_content``).

``decide`` never mutates the state, never reads a clock, never draws randomness. It
returns ``[]`` for an idempotent repeat, and raises ``Rejected`` and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import msgspec

from ..canonical import canonical_bytes
from ..errors import LedgerError
from ..statement import parse_time
from . import catalogue as c
from . import decide_content as dc
from . import decide_membership as dm
from .commands import COMMANDS, field_of
from .rules import reject
from .state import AgreementState
from .values import ORG_PATTERN

__all__ = ["admits", "decide", "decide_shaped", "event_data"]

_Rule = Callable[[AgreementState, Any, str, str], bool]

_RULES: Final[dict[str, _Rule]] = {
    "agreement.drafted": dm.decide_drafted,
    "agreement.revised": dm.decide_revised,
    "agreement.visibility_changed": dm.decide_visibility,
    "agreement.suspended": dm.decide_suspended,
    "agreement.resumed": dm.decide_resumed,
    "agreement.terminated": dm.decide_terminated,
    "agreement.ratified": dm.decide_ratified,
    "party.invited": dm.decide_invited,
    "party.joined": dm.decide_joined,
    "party.withdrew": dm.decide_withdrew,
    "porteur.named": dm.decide_porteur,
    "role.proposed": dm.decide_role_proposed,
    "role.accepted": dm.decide_role_accepted,
    "role.declined": dm.decide_role_declined,
    "role.relinquished": dm.decide_role_relinquished,
    "expectation.stated": dc.decide_expectation_stated,
    "expectation.revised": dc.decide_expectation_revised,
    "expectation.withdrawn": dc.decide_expectation_withdrawn,
    "expectation.acknowledged": dc.decide_expectation_ack,
    "commitment.offered": dc.decide_offered,
    "commitment.amended": dc.decide_amended,
    "commitment.withdrawn": dc.decide_commitment_withdrawn,
    "commitment.received_value_declared": dc.decide_valued,
    "fulfilment.recorded": dc.decide_fulfilled,
    "fulfilment.confirmed": dc.decide_confirmed,
    "fulfilment.contested": dc.decide_contested,
    "stage.started": dc.decide_stage_started,
    "stage.completion_acknowledged": dc.decide_stage_ack,
    "indicator.defined": dc.decide_indicator,
    "indicator.measured": dc.decide_measured,
    "consent.given": dm.decide_consent_given,
    "consent.withdrawn": dm.decide_consent_withdrawn,
}

#: command class -> event spec
_BY_COMMAND: Final[dict[type, c.EventSpec]] = {COMMANDS[t]: spec for t, spec in c.EVENTS.items()}

_ORG_RE: Final = re.compile(ORG_PATTERN)


def event_data(command: Any, spec: c.EventSpec) -> tuple[c.Data, dict[str, Any]]:
    """The command's data as its validated Struct and as normal-form JSON.

    Raises ``Rejected("event.malformed", field=...)`` when a member has the wrong type,
    breaks a constraint, or is not canonical JSON (e.g. a string not in NFC).
    """
    try:
        raw = msgspec.to_builtins(command)
        del raw["actor"], raw["at"]
        data: c.Data = msgspec.convert(raw, spec.data)
    except msgspec.ValidationError as exc:
        reject("event.malformed", f"{spec.type}: {exc}", field_of(exc))
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        reject("event.malformed", f"{spec.type}: {exc}", "data")
    normal: dict[str, Any] = msgspec.to_builtins(data)
    try:
        canonical_bytes(normal)
    except LedgerError as exc:
        reject("event.malformed", f"{spec.type}: {exc.detail}", (exc.field or "$")[2:] or None)
    return data, normal


def _speaker(command: Any) -> tuple[str, str]:
    actor, at = getattr(command, "actor", None), getattr(command, "at", None)
    if not isinstance(actor, str) or not _ORG_RE.match(actor):
        reject("command.malformed", f"actor {actor!r} is not an organization id", "actor")
    try:
        if not isinstance(at, str):
            raise TypeError(at)
        parse_time(at, field="at")
    except (LedgerError, TypeError):
        reject("command.malformed", f"at {at!r} is not YYYY-MM-DDTHH:MM:SS[.ffffff]Z", "at")
    return actor, at


def _gate(s: AgreementState, spec: c.EventSpec, actor: str) -> None:
    if spec.type == "agreement.drafted":
        if s.status != "absent":
            reject("agreement.exists", f"agreement {s.agreement_id} was already drafted")
        return
    if s.status == "absent":
        reject("agreement.not-drafted", "the agreement has not been drafted")
    if s.status == "terminated":
        reject("agreement.terminated", f"agreement {s.agreement_id} is terminated")
    if s.status == "suspended" and not spec.while_suspended:
        reject("agreement.suspended", f"{spec.type} is not allowed while suspended")
    if spec.who == "party" and actor not in s.parties:
        reject("agreement.not-party", f"{actor} is not a party", "actor")
    if spec.who == "party-or-former" and actor not in s.parties and actor not in s.former:
        reject("agreement.not-party", f"{actor} is not a party", "actor")


def decide(command: Any, state: AgreementState) -> list[c.NewEvent]:
    """The events that ``command`` makes happen in ``state``: one, or none for an
    idempotent repeat. Raises ``Rejected`` with a rule code from ``rules.RULES``."""
    spec = _BY_COMMAND.get(type(command))
    if spec is None:
        reject("command.unknown", f"{type(command).__name__} is not an agreement command")
    actor, at = _speaker(command)
    data, normal = event_data(command, spec)
    return decide_shaped(state, spec.type, data, normal, actor, at)


def decide_shaped(state: AgreementState, type: str, data: c.Data, normal: dict[str, Any],
                  actor: str, at: str) -> list[c.NewEvent]:
    """``decide`` after its first step, for a caller that already holds the command's
    data as its validated Struct and as normal-form canonical JSON, with a valid actor
    and time: the gate and the event's own rules, nothing skipped."""
    return [c.NewEvent(type, normal)] if admits(state, type, data, actor, at) else []


def admits(state: AgreementState, type: str, data: c.Data, actor: str, at: str) -> bool:
    """The gate and the event's own rules (``decide_shaped`` without building the
    event): True when the event would change something, False for an idempotent
    repeat; raises ``Rejected``."""
    _gate(state, c.EVENTS[type], actor)
    return _RULES[type](state, data, actor, at)
