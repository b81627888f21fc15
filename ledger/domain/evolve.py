"""evolve: apply one recorded fact to the state. Total, cheap, and never deciding.

Why it looks like this: history is replayed forever, so ``evolve`` must accept *any* fact
(an unknown type or data that does not decode leaves the state unchanged) and must not
re-check rules, which ``decide`` already applied when the event was admitted. Each
applier below only records what the event says. Decoding the data with ``msgspec.convert``
into the constraint-free mirror of its Struct (``lax``) checks member names and types,
which is all the appliers need to be safe, at a fraction of the cost of the patterns.
Nested values are copied into the catalogue's value types (``Quantity``, ``Period``,
``FairValue``) so the state holds one kind of each. Appliers look things up before they
write, so a fact that references something unknown changes nothing.

``evolve`` takes ownership of the state it is given (see ``state``): it updates it in
place and returns it, except ``INITIAL``, which it never touches.

The appliers are annotated with the catalogue's data Structs; at run time they receive
the lax mirrors, which have the same members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from . import catalogue as c
from .lax import lax
from .state import (
    INITIAL,
    AgreementState,
    Commitment,
    Consent,
    Expectation,
    FormerParty,
    Fulfilment,
    Indicator,
    Measure,
    Milestone,
    Party,
    Position,
    Ratification,
    Role,
    Stage,
    initial_state,
    stage_complete,
)
from .values import FairValue, Period, Quantity

__all__ = ["evolve", "fold"]

_Apply = Callable[[AgreementState, Any, c.Fact], None]


def _q(v: Any) -> Quantity:
    return Quantity(v.amount, v.unit)


def _q_or_none(v: Any) -> Quantity | None:
    return None if v is None else Quantity(v.amount, v.unit)


def _p(v: Any) -> Period:
    return Period(v.start, v.end)


def _fair(v: Any) -> FairValue | None:
    return None if v is None else FairValue(v.amount, v.unit, v.method)


def _mark(s: AgreementState, f: c.Fact, kind: str, detail: str = "") -> None:
    s.timeline.append(Milestone(f.issued_at, f.stream_version, kind, f.actor, detail))


def _refresh_stages(s: AgreementState, f: c.Fact) -> None:
    """Keep each stage's ``completed_at`` in step with the current parties."""
    for stage in s.stages.values():
        done = stage_complete(s, stage.name)
        if done and stage.completed_at is None:
            stage.completed_at = f.issued_at
            _mark(s, f, "stage_completed", stage.name)
        elif not done:
            stage.completed_at = None


# --- agreement lifecycle -------------------------------------------------------------


def _drafted(s: AgreementState, d: c.AgreementDrafted, f: c.Fact) -> None:
    s.agreement_id, s.title, s.purpose = d.agreement_id, d.title, d.purpose
    s.binding, s.public, s.status = d.binding, d.public, "active"
    s.drafted_by, s.drafted_at = f.actor, f.issued_at
    s.parties[f.actor] = Party(f.actor, f.issued_at)
    s.invited.update((org, f.actor) for org in d.invited)
    _mark(s, f, "drafted")


def _revised(s: AgreementState, d: c.AgreementRevised, f: c.Fact) -> None:
    s.title, s.purpose, s.binding = d.title, d.purpose, d.binding
    _mark(s, f, "revised")


def _visibility(s: AgreementState, d: c.VisibilityChanged, f: c.Fact) -> None:
    s.public = d.public


def _suspended(s: AgreementState, d: c.AgreementSuspended, f: c.Fact) -> None:
    s.status, s.status_reason = "suspended", d.reason
    _mark(s, f, "suspended", d.reason)


def _resumed(s: AgreementState, d: c.AgreementResumed, f: c.Fact) -> None:
    s.status, s.status_reason = "active", d.reason
    _mark(s, f, "resumed", d.reason)


def _terminated(s: AgreementState, d: c.AgreementTerminated, f: c.Fact) -> None:
    s.status, s.status_reason = "terminated", d.reason
    _mark(s, f, "terminated", d.reason)


def _ratified(s: AgreementState, d: c.AgreementRatified, f: c.Fact) -> None:
    sig = Ratification(
        f.actor, d.terms_version, d.state_hash, f.issued_at, f.key, f.position, f.stream_version
    )
    s.signatures[f.actor] = sig
    if d.terms_version != s.terms_version or len(s.parties) < 2:
        return
    sigs = [s.signatures.get(org) for org in sorted(s.parties)]
    if all(x is not None and x.terms_version == d.terms_version
           and x.state_hash == d.state_hash for x in sigs):
        s.in_force_version, s.in_force_hash = d.terms_version, d.state_hash
        s.in_force_since = f.issued_at
        s.in_force_signatures = tuple(x for x in sigs if x is not None)
        _mark(s, f, "in_force", str(d.terms_version))


# --- parties and roles ---------------------------------------------------------------


def _invited(s: AgreementState, d: c.PartyInvited, f: c.Fact) -> None:
    s.invited[d.org] = f.actor


def _joined(s: AgreementState, d: c.PartyJoined, f: c.Fact) -> None:
    s.invited.pop(f.actor, None)
    s.former.pop(f.actor, None)
    s.parties[f.actor] = Party(f.actor, f.issued_at)
    _mark(s, f, "joined")
    _refresh_stages(s, f)


def _withdrew(s: AgreementState, d: c.PartyWithdrew, f: c.Fact) -> None:
    org = f.actor
    if s.parties.pop(org, None) is None:
        return
    s.former[org] = FormerParty(org, f.issued_at, d.effective_on, d.reason)
    for role in s.roles.values():
        if role.assignee == org and role.status in ("proposed", "accepted"):
            role.status = "ended"
    for e in s.expectations.values():
        if e.holder == org and not e.withdrawn:
            e.withdrawn, e.reason = True, "party withdrew"
    _mark(s, f, "withdrew", d.effective_on)
    _refresh_stages(s, f)


def _porteur(s: AgreementState, d: c.PorteurNamed, f: c.Fact) -> None:
    party = s.parties.get(f.actor)
    if party is not None:
        party.porteur, party.porteur_since = d.person_id, f.issued_at


def _role_proposed(s: AgreementState, d: c.RoleProposed, f: c.Fact) -> None:
    s.roles[d.role_id] = Role(d.role_id, d.name, d.description, d.assignee, f.actor)


def _role_accepted(s: AgreementState, d: c.RoleAccepted, f: c.Fact) -> None:
    role = s.roles.get(d.role_id)
    if role is not None:
        role.status, role.person = "accepted", d.person_id


def _role_declined(s: AgreementState, d: c.RoleDeclined, f: c.Fact) -> None:
    role = s.roles.get(d.role_id)
    if role is not None:
        role.status, role.reason = "declined", d.reason


def _role_relinquished(s: AgreementState, d: c.RoleRelinquished, f: c.Fact) -> None:
    role = s.roles.get(d.role_id)
    if role is not None:
        role.status, role.reason = "relinquished", d.reason


# --- shared expectations -------------------------------------------------------------


def _expectation_stated(s: AgreementState, d: c.ExpectationStated, f: c.Fact) -> None:
    s.expectations[d.expectation_id] = Expectation(
        d.expectation_id, f.actor, d.text, d.addressed_to, f.issued_at
    )


def _expectation_revised(s: AgreementState, d: c.ExpectationRevised, f: c.Fact) -> None:
    e = s.expectations.get(d.expectation_id)
    if e is not None:
        e.text, e.addressed_to = d.text, d.addressed_to
        e.revision += 1
        e.acks = {}  # acknowledgements lapse on revision


def _expectation_withdrawn(s: AgreementState, d: c.ExpectationWithdrawn, f: c.Fact) -> None:
    e = s.expectations.get(d.expectation_id)
    if e is not None:
        e.withdrawn, e.reason = True, d.reason


def _expectation_ack(s: AgreementState, d: c.ExpectationAcknowledged, f: c.Fact) -> None:
    e = s.expectations.get(d.expectation_id)
    if e is not None:
        e.acks[f.actor] = f.issued_at


# --- commitments and fulfilments -----------------------------------------------------


def _offered(s: AgreementState, d: c.CommitmentOffered, f: c.Fact) -> None:
    s.commitments[d.commitment_id] = Commitment(
        d.commitment_id, f.actor, d.receiver, d.category, d.description, _q(d.quantity),
        _p(d.period), d.conditions, _q_or_none(d.value), _fair(d.fair_value), f.issued_at,
    )


def _amended(s: AgreementState, d: c.CommitmentAmended, f: c.Fact) -> None:
    old = s.commitments.get(d.commitment_id)
    if old is None:
        return
    new = Commitment(
        d.commitment_id, old.provider, d.receiver, d.category, d.description, _q(d.quantity),
        _p(d.period), d.conditions, _q_or_none(d.value), _fair(d.fair_value), old.offered_at,
    )
    new.amendments = old.amendments + 1  # the receivers' declared values lapse
    s.commitments[d.commitment_id] = new


def _commitment_withdrawn(s: AgreementState, d: c.CommitmentWithdrawn, f: c.Fact) -> None:
    cm = s.commitments.get(d.commitment_id)
    if cm is not None:
        cm.withdrawn, cm.reason = True, d.reason


def _valued(s: AgreementState, d: c.ReceivedValueDeclared, f: c.Fact) -> None:
    cm = s.commitments.get(d.commitment_id)
    if cm is not None:
        cm.receiver_values[f.actor] = _q(d.value)


def _fulfilled(s: AgreementState, d: c.FulfilmentRecorded, f: c.Fact) -> None:
    s.fulfilments[d.fulfilment_id] = Fulfilment(
        d.fulfilment_id, d.commitment_id, f.actor, _q(d.quantity), _p(d.period), d.note,
        d.evidence_sha256, f.issued_at,
    )


def _confirmed(s: AgreementState, d: c.FulfilmentConfirmed, f: c.Fact) -> None:
    ful = s.fulfilments.get(d.fulfilment_id)
    if ful is not None:
        ful.positions[f.actor] = Position("confirmed", d.comment, f.issued_at)


def _contested(s: AgreementState, d: c.FulfilmentContested, f: c.Fact) -> None:
    ful = s.fulfilments.get(d.fulfilment_id)
    if ful is not None:
        ful.positions[f.actor] = Position("contested", d.reason, f.issued_at)


# --- stages, indicators, consents ----------------------------------------------------


def _stage_started(s: AgreementState, d: c.StageStarted, f: c.Fact) -> None:
    old = s.stages.get(d.stage)
    stage = Stage(d.stage, f.issued_at, f.actor)
    if old is not None:  # starting a complete stage reopens it for a new round
        stage.round = old.round + 1
    s.stages[d.stage] = stage
    _mark(s, f, "stage_started", d.stage)


def _stage_ack(s: AgreementState, d: c.StageCompletionAcknowledged, f: c.Fact) -> None:
    stage = s.stages.get(d.stage)
    if stage is not None:
        stage.acks[f.actor] = f.issued_at
        _refresh_stages(s, f)


def _indicator(s: AgreementState, d: c.IndicatorDefined, f: c.Fact) -> None:
    s.indicators[d.indicator_id] = Indicator(
        d.indicator_id, d.name, d.unit, d.method, d.target, f.actor, f.issued_at
    )


def _measured(s: AgreementState, d: c.IndicatorMeasured, f: c.Fact) -> None:
    s.measures[d.measurement_id] = Measure(
        d.measurement_id, d.indicator_id, _p(d.period), d.value, d.evidence_sha256, f.actor,
        f.issued_at,
    )


def _consent_given(s: AgreementState, d: c.ConsentGiven, f: c.Fact) -> None:
    s.consents[d.consent_id] = Consent(
        d.consent_id, f.actor, d.trust_id, d.purpose, tuple(d.scope), d.licence, d.expires_on,
        f.issued_at,
    )


def _consent_withdrawn(s: AgreementState, d: c.ConsentWithdrawn, f: c.Fact) -> None:
    consent = s.consents.get(d.consent_id)
    if consent is not None:
        consent.withdrawn_at, consent.reason = f.issued_at, d.reason


_APPLIERS: Final[dict[str, _Apply]] = {
    "agreement.drafted": _drafted,
    "agreement.revised": _revised,
    "agreement.visibility_changed": _visibility,
    "agreement.suspended": _suspended,
    "agreement.resumed": _resumed,
    "agreement.terminated": _terminated,
    "agreement.ratified": _ratified,
    "party.invited": _invited,
    "party.joined": _joined,
    "party.withdrew": _withdrew,
    "porteur.named": _porteur,
    "role.proposed": _role_proposed,
    "role.accepted": _role_accepted,
    "role.declined": _role_declined,
    "role.relinquished": _role_relinquished,
    "expectation.stated": _expectation_stated,
    "expectation.revised": _expectation_revised,
    "expectation.withdrawn": _expectation_withdrawn,
    "expectation.acknowledged": _expectation_ack,
    "commitment.offered": _offered,
    "commitment.amended": _amended,
    "commitment.withdrawn": _commitment_withdrawn,
    "commitment.received_value_declared": _valued,
    "fulfilment.recorded": _fulfilled,
    "fulfilment.confirmed": _confirmed,
    "fulfilment.contested": _contested,
    "stage.started": _stage_started,
    "stage.completion_acknowledged": _stage_ack,
    "indicator.defined": _indicator,
    "indicator.measured": _measured,
    "consent.given": _consent_given,
    "consent.withdrawn": _consent_withdrawn,
}

#: Events the written agreement's chronology notes besides those their applier marks:
#: type -> (milestone kind, the data member naming what it is about).
_NOTED: Final[dict[str, tuple[str, str]]] = {
    "porteur.named": ("porteur_named", "person_id"),
    "role.proposed": ("role_proposed", "role_id"),
    "role.accepted": ("role_accepted", "role_id"),
    "role.declined": ("role_declined", "role_id"),
    "role.relinquished": ("role_relinquished", "role_id"),
    "expectation.stated": ("expectation_stated", "expectation_id"),
    "expectation.revised": ("expectation_revised", "expectation_id"),
    "expectation.withdrawn": ("expectation_withdrawn", "expectation_id"),
    "expectation.acknowledged": ("expectation_acknowledged", "expectation_id"),
    "commitment.offered": ("commitment_offered", "commitment_id"),
    "commitment.amended": ("commitment_amended", "commitment_id"),
    "commitment.withdrawn": ("commitment_withdrawn", "commitment_id"),
    "fulfilment.recorded": ("fulfilment_recorded", "fulfilment_id"),
    "fulfilment.confirmed": ("fulfilment_confirmed", "fulfilment_id"),
    "fulfilment.contested": ("fulfilment_contested", "fulfilment_id"),
    "indicator.defined": ("indicator_defined", "indicator_id"),
    "indicator.measured": ("indicator_measured", "indicator_id"),
}


def _noted(apply: _Apply, kind: str, member: str) -> _Apply:
    def noted(s: AgreementState, d: Any, f: c.Fact) -> None:
        apply(s, d, f)
        _mark(s, f, kind, getattr(d, member))

    return noted


#: type -> (lax data Struct, applier, does it make a new terms version)
_TABLE: Final[dict[str, tuple[type[msgspec.Struct], _Apply, bool]]] = {
    t: (lax(spec.data), _noted(_APPLIERS[t], *_NOTED[t]) if t in _NOTED else _APPLIERS[t],
        spec.terms) for t, spec in c.EVENTS.items()
}

_convert = msgspec.convert


def evolve(state: AgreementState, fact: c.Fact,
           decoded: c.Data | None = None) -> AgreementState:
    """Apply ``fact`` to ``state`` and return the resulting state. Never raises.

    A fact whose type is unknown or whose data does not decode leaves the state unchanged
    (and ``state.version`` too: it is the version of the last *applied* fact).

    ``decoded``: the fact's data already decoded with its type's catalogue Struct
    (``check_event`` returns it); the appliers read the same members from it, so the
    data is not decoded again. Anything else in its place is ignored.
    """
    try:
        entry = _TABLE.get(fact.type)
        if entry is None:
            return state
        data_cls, apply, terms = entry
        if decoded is not None and type(decoded) is _STRICT[fact.type]:
            data: Any = decoded
        else:
            data = _convert(fact.data, data_cls)
    except Exception:  # garbage: not a fact this domain knows how to read
        return state
    if state is INITIAL:
        state = initial_state()
    try:
        apply(state, data, fact)
    except Exception:  # unreachable for decoded data; keeps the promise to never raise
        return state
    if terms:
        state.terms_version += 1
    state.version = fact.stream_version
    return state


_STRICT: Final[dict[str, type[msgspec.Struct]]] = {t: spec.data for t, spec in c.EVENTS.items()}


def fold(facts: Iterable[c.Fact]) -> AgreementState:
    """The state after ``facts`` (in stream order), starting from a fresh state."""
    state = initial_state()
    for fact in facts:
        state = evolve(state, fact)
    return state
