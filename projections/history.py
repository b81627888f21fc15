"""The audit history's summaries: one short English sentence per agreement event.

Why from the state after the event: "acknowledged expectation e1" is what was signed,
"; now shared" or "; terms version 3 in force" is what it changed, and only the folded
state knows that. Free text (reasons, titles) is cut short: the signed data sits beside
the summary in ``agreement_history.data``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from ledger.domain import AgreementState, Fact, is_shared, stage_complete

__all__ = ["describe"]

_MAX_TEXT = 60

_Describe = Callable[[str, dict[str, Any], AgreementState], str]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT - 1] + "…"


def _qty(q: Any) -> str:
    if isinstance(q, dict):
        return f"{q.get('amount')} {q.get('unit')}"
    return "?"


def _ack(who: str, d: dict[str, Any], s: AgreementState) -> str:
    eid = d["expectation_id"]
    text = f"{who} acknowledged expectation {eid}"
    e = s.expectations.get(eid)
    return text + "; now shared" if e is not None and is_shared(s, e) else text


def _stage_ack(who: str, d: dict[str, Any], s: AgreementState) -> str:
    text = f"{who} acknowledged the end of stage {d['stage']}"
    return text + "; stage complete" if stage_complete(s, d["stage"]) else text


def _stage_started(who: str, d: dict[str, Any], s: AgreementState) -> str:
    stage = s.stages.get(d["stage"])
    again = f" (round {stage.round})" if stage is not None and stage.round > 1 else ""
    return f"{who} started stage {d['stage']}{again}"


def _drafted(who: str, d: dict[str, Any], s: AgreementState) -> str:
    invited = d.get("invited") or []
    text = f"{who} drafted “{_short(d['title'])}”"
    return text + f", inviting {', '.join(invited)}" if invited else text


def _accepted(who: str, d: dict[str, Any], s: AgreementState) -> str:
    held = f", held by {d['person_id']}" if d.get("person_id") else ""
    return f"{who} accepted role {d['role_id']}{held}"


def _addressed(d: dict[str, Any]) -> str:
    to = d.get("addressed_to", "all")
    return "" if to == "all" else f" to {', '.join(map(str, to))}"


_TEXT: Final[dict[str, _Describe]] = {
    "agreement.drafted": _drafted,
    "agreement.revised": lambda w, d, s: f"{w} revised the title, vision and nature",
    "agreement.visibility_changed": lambda w, d, s: (
        f"{w} made the agreement {'public' if d['public'] else 'visible to its parties only'}"),
    "agreement.suspended": lambda w, d, s: f"{w} suspended the agreement: {_short(d['reason'])}",
    "agreement.resumed": lambda w, d, s: f"{w} resumed the agreement",
    "agreement.terminated": lambda w, d, s: (
        f"{w} terminated the agreement: {_short(d['reason'])}"),
    "agreement.ratified": lambda w, d, s: f"{w} ratified terms version {d['terms_version']}",
    "party.invited": lambda w, d, s: f"{w} invited {d['org']}",
    "party.joined": lambda w, d, s: f"{w} joined",
    "party.withdrew": lambda w, d, s: f"{w} withdrew, effective {d['effective_on']}",
    "porteur.named": lambda w, d, s: f"{w} named porteur {d['person_id']}",
    "role.proposed": lambda w, d, s: f"{w} proposed role {d['role_id']} to {d['assignee']}",
    "role.accepted": _accepted,
    "role.declined": lambda w, d, s: f"{w} declined role {d['role_id']}",
    "role.relinquished": lambda w, d, s: f"{w} relinquished role {d['role_id']}",
    "expectation.stated": lambda w, d, s: (
        f"{w} stated expectation {d['expectation_id']}{_addressed(d)}"),
    "expectation.revised": lambda w, d, s: (
        f"{w} revised expectation {d['expectation_id']}{_addressed(d)}; "
        "its acknowledgements lapse"),
    "expectation.withdrawn": lambda w, d, s: f"{w} withdrew expectation {d['expectation_id']}",
    "expectation.acknowledged": _ack,
    "commitment.offered": lambda w, d, s: (
        f"{w} committed {_qty(d['quantity'])} of {d['category']} to {d['receiver']} "
        f"({d['commitment_id']})"),
    "commitment.amended": lambda w, d, s: (
        f"{w} amended commitment {d['commitment_id']}: {_qty(d['quantity'])} of "
        f"{d['category']} to {d['receiver']}; declared received values lapse"),
    "commitment.withdrawn": lambda w, d, s: f"{w} withdrew commitment {d['commitment_id']}",
    "commitment.received_value_declared": lambda w, d, s: (
        f"{w} declared receiving {_qty(d['value'])} of value from commitment "
        f"{d['commitment_id']}"),
    "fulfilment.recorded": lambda w, d, s: (
        f"{w} recorded fulfilment {d['fulfilment_id']} of commitment {d['commitment_id']}: "
        f"{_qty(d['quantity'])}"),
    "fulfilment.confirmed": lambda w, d, s: f"{w} confirmed fulfilment {d['fulfilment_id']}",
    "fulfilment.contested": lambda w, d, s: (
        f"{w} contested fulfilment {d['fulfilment_id']}: {_short(d['reason'])}"),
    "stage.started": _stage_started,
    "stage.completion_acknowledged": _stage_ack,
    "indicator.defined": lambda w, d, s: (
        f"{w} defined indicator {d['indicator_id']} ({d['unit']})"),
    "indicator.measured": lambda w, d, s: (
        f"{w} measured indicator {d['indicator_id']}: {d['value']} ({d['measurement_id']})"),
    "consent.given": lambda w, d, s: (
        f"{w} consented to share {', '.join(map(str, d['scope']))} with {d['trust_id']} "
        f"until {d['expires_on']} ({d['consent_id']})"),
    "consent.withdrawn": lambda w, d, s: f"{w} withdrew consent {d['consent_id']}",
}


def describe(fact: Fact, state: AgreementState, applied: bool, terms_before: int,
             in_force_before: int | None) -> str:
    """The summary of ``fact``, given the state right after it and what it was before
    (``applied``: the domain could read the fact; if not, nothing changed)."""
    if not applied:
        return f"{fact.actor} signed {_short(fact.type)}, which changes nothing here"
    try:
        text = _TEXT[fact.type](fact.actor, fact.data, state)
    except (KeyError, TypeError, AttributeError):  # defensive: data evolve could read
        text = f"{fact.actor} signed {fact.type}"
    if state.terms_version != terms_before:
        text += f"; terms version {state.terms_version}"
    force = state.in_force_version
    if force != in_force_before and force is not None:
        text += f"; terms version {force} in force"
    return text
