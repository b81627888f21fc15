"""Decisions about what the agreement says and what happens under it: expectations,
commitments and their fulfilment, the six stages, indicators and their measures.

Same contract as ``decide_membership``: True emits the event, False is an idempotent
repeat, ``Rejected`` refuses. Each side speaks only for itself: a party states only its
own expectations and acknowledges only those addressed to it; the provider (the signer of
``commitment.offered``) alone amends, withdraws and records fulfilment of its commitment
and declares its own value in it; only the receiving side declares the value it receives
and confirms or contests a fulfilment.
"""

from __future__ import annotations

from . import catalogue as c
from .rules import check_period, no_duplicates, reject
from .state import (
    AgreementState,
    Commitment,
    Expectation,
    Fulfilment,
    addressees,
    receives,
    stage_complete,
)
from .state_hash import expectation_hash
from .values import COLLECTIVE

__all__ = [
    "decide_amended",
    "decide_commitment_withdrawn",
    "decide_confirmed",
    "decide_contested",
    "decide_expectation_ack",
    "decide_expectation_revised",
    "decide_expectation_stated",
    "decide_expectation_withdrawn",
    "decide_fulfilled",
    "decide_indicator",
    "decide_measured",
    "decide_offered",
    "decide_stage_ack",
    "decide_stage_started",
    "decide_valued",
]

# --- expectations --------------------------------------------------------------------


def _check_addressees(s: AgreementState, addressed_to: str | list[str], actor: str) -> None:
    if isinstance(addressed_to, str):
        return  # "all"
    no_duplicates(addressed_to, "addressed_to")
    for org in addressed_to:
        if org == actor:
            reject("expectation.self-addressed", f"{actor} addresses itself", "addressed_to")
        if org not in s.parties:
            reject("expectation.addressee-not-party", f"{org} is not a party", "addressed_to")


def _expectation(s: AgreementState, expectation_id: str) -> Expectation:
    e = s.expectations.get(expectation_id)
    if e is None:
        reject("expectation.unknown", f"no expectation {expectation_id}", "expectation_id")
    return e


def _held(s: AgreementState, expectation_id: str, actor: str) -> Expectation:
    e = _expectation(s, expectation_id)
    if e.holder != actor:
        reject("expectation.not-holder", f"expectation {e.id} is held by {e.holder}", "actor")
    return e


def decide_expectation_stated(
    s: AgreementState, d: c.ExpectationStated, actor: str, at: str
) -> bool:
    if d.expectation_id in s.expectations:
        reject("expectation.duplicate", f"expectation {d.expectation_id} exists",
               "expectation_id")
    _check_addressees(s, d.addressed_to, actor)
    return True


def decide_expectation_revised(
    s: AgreementState, d: c.ExpectationRevised, actor: str, at: str
) -> bool:
    e = _held(s, d.expectation_id, actor)
    if e.withdrawn:
        reject("expectation.withdrawn", f"expectation {e.id} was withdrawn", "expectation_id")
    _check_addressees(s, d.addressed_to, actor)
    return (d.text, d.addressed_to) != (e.text, e.addressed_to)


def decide_expectation_withdrawn(
    s: AgreementState, d: c.ExpectationWithdrawn, actor: str, at: str
) -> bool:
    return not _held(s, d.expectation_id, actor).withdrawn


def decide_expectation_ack(
    s: AgreementState, d: c.ExpectationAcknowledged, actor: str, at: str
) -> bool:
    e = _expectation(s, d.expectation_id)
    if e.withdrawn:
        reject("expectation.withdrawn", f"expectation {e.id} was withdrawn", "expectation_id")
    if actor not in addressees(s, e):
        reject("expectation.not-addressee", f"expectation {e.id} is not addressed to {actor}",
               "actor")
    want = expectation_hash(e)
    if d.content_hash != want:
        reject("expectation.hash-mismatch", f"content hash {d.content_hash}, want {want}",
               "content_hash")
    return actor not in e.acks


# --- commitments ---------------------------------------------------------------------


def _check_offer(s: AgreementState, d: c.CommitmentOffered, actor: str) -> None:
    if d.receiver == actor:
        reject("commitment.self-receiver", f"{actor} commits to itself", "receiver")
    if d.receiver != COLLECTIVE and d.receiver not in s.parties:
        reject("commitment.receiver-not-party", f"{d.receiver} is not a party", "receiver")
    check_period(d.period.start, d.period.end, "period")


def _commitment(s: AgreementState, commitment_id: str) -> Commitment:
    cm = s.commitments.get(commitment_id)
    if cm is None:
        reject("commitment.unknown", f"no commitment {commitment_id}", "commitment_id")
    return cm


def _live(s: AgreementState, commitment_id: str) -> Commitment:
    cm = _commitment(s, commitment_id)
    if cm.withdrawn:
        reject("commitment.withdrawn", f"commitment {cm.id} was withdrawn", "commitment_id")
    return cm


def _provided(s: AgreementState, commitment_id: str, actor: str) -> Commitment:
    cm = _commitment(s, commitment_id)
    if cm.provider != actor:
        reject("commitment.not-provider", f"commitment {cm.id} is provided by {cm.provider}",
               "actor")
    return cm


def decide_offered(s: AgreementState, d: c.CommitmentOffered, actor: str, at: str) -> bool:
    if d.commitment_id in s.commitments:
        reject("commitment.duplicate", f"commitment {d.commitment_id} exists", "commitment_id")
    _check_offer(s, d, actor)
    return True


def decide_amended(s: AgreementState, d: c.CommitmentAmended, actor: str, at: str) -> bool:
    cm = _provided(s, d.commitment_id, actor)
    _live(s, d.commitment_id)
    _check_offer(s, d, actor)
    now = (cm.receiver, cm.category, cm.description, cm.quantity, cm.period, cm.conditions,
           cm.value, cm.fair_value)
    new = (d.receiver, d.category, d.description, d.quantity, d.period, d.conditions,
           d.value, d.fair_value)
    return now != new


def decide_commitment_withdrawn(
    s: AgreementState, d: c.CommitmentWithdrawn, actor: str, at: str
) -> bool:
    return not _provided(s, d.commitment_id, actor).withdrawn


def decide_valued(s: AgreementState, d: c.ReceivedValueDeclared, actor: str, at: str) -> bool:
    cm = _live(s, d.commitment_id)
    if not receives(s, cm, actor):
        reject("commitment.not-receiver",
               f"{actor} is not on the receiving side of commitment {cm.id}", "actor")
    return cm.receiver_values.get(actor) != d.value


# --- fulfilments ---------------------------------------------------------------------


def decide_fulfilled(s: AgreementState, d: c.FulfilmentRecorded, actor: str, at: str) -> bool:
    if d.fulfilment_id in s.fulfilments:
        reject("fulfilment.duplicate", f"fulfilment {d.fulfilment_id} exists", "fulfilment_id")
    cm = _live(s, d.commitment_id)
    if cm.provider != actor:
        reject("fulfilment.not-provider", f"commitment {cm.id} is provided by {cm.provider}",
               "actor")
    if d.quantity.unit != cm.quantity.unit:
        reject("fulfilment.unit-mismatch",
               f"unit {d.quantity.unit!r}, want {cm.quantity.unit!r}", "quantity.unit")
    check_period(d.period.start, d.period.end, "period")
    return True


def _received(s: AgreementState, fulfilment_id: str, actor: str) -> Fulfilment:
    ful = s.fulfilments.get(fulfilment_id)
    if ful is None:
        reject("fulfilment.unknown", f"no fulfilment {fulfilment_id}", "fulfilment_id")
    cm = s.commitments.get(ful.commitment_id)
    if cm is None or not receives(s, cm, actor):
        reject("fulfilment.not-receiver", f"{actor} did not receive fulfilment {ful.id}",
               "actor")
    return ful


def decide_confirmed(s: AgreementState, d: c.FulfilmentConfirmed, actor: str, at: str) -> bool:
    mine = _received(s, d.fulfilment_id, actor).positions.get(actor)
    return mine is None or (mine.kind, mine.text) != ("confirmed", d.comment)


def decide_contested(s: AgreementState, d: c.FulfilmentContested, actor: str, at: str) -> bool:
    mine = _received(s, d.fulfilment_id, actor).positions.get(actor)
    return mine is None or (mine.kind, mine.text) != ("contested", d.reason)


# --- stages, indicators --------------------------------------------------------------


def decide_stage_started(s: AgreementState, d: c.StageStarted, actor: str, at: str) -> bool:
    return d.stage not in s.stages or stage_complete(s, d.stage)


def decide_stage_ack(
    s: AgreementState, d: c.StageCompletionAcknowledged, actor: str, at: str
) -> bool:
    stage = s.stages.get(d.stage)
    if stage is None:
        reject("stage.not-started", f"stage {d.stage} has not been started", "stage")
    return actor not in stage.acks


def decide_indicator(s: AgreementState, d: c.IndicatorDefined, actor: str, at: str) -> bool:
    if d.indicator_id in s.indicators:
        reject("indicator.duplicate", f"indicator {d.indicator_id} exists", "indicator_id")
    return True


def decide_measured(s: AgreementState, d: c.IndicatorMeasured, actor: str, at: str) -> bool:
    if d.measurement_id in s.measures:
        reject("measure.duplicate", f"measurement {d.measurement_id} exists", "measurement_id")
    if d.indicator_id not in s.indicators:
        reject("indicator.unknown", f"no indicator {d.indicator_id}", "indicator_id")
    check_period(d.period.start, d.period.end, "period")
    return True
