"""The event catalogue: every agreement event type, its data, and who may emit it.

Why here and not spread over decide/evolve: the type names are stable strings that live
forever in signed history, so they are declared once, next to the shape of their data
and the facts decide relies on (who may emit, whether the event changes the terms,
whether it is allowed while the agreement is suspended). ``docs/EVENTS.md`` is the
prose version of this module; a test keeps the two in step.

Data Structs forbid unknown fields and omit members equal to their default: the *normal
form* of an event's data is ``msgspec.to_builtins(struct)``, the only form the ledger
accepts (see ``check.check_event``).
"""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Final, Literal

import msgspec

from .values import (
    MAX_VERSION,
    Amount,
    Category,
    Date,
    FairValue,
    Family,
    Hex64,
    Id,
    LongText,
    Note,
    OrgId,
    Period,
    PersonId,
    Quantity,
    StageName,
    Title,
    Unit,
)

__all__ = [
    "EVENTS",
    "AgreementDrafted",
    "AgreementRatified",
    "AgreementResumed",
    "AgreementRevised",
    "AgreementSuspended",
    "AgreementTerminated",
    "CommitmentAmended",
    "CommitmentOffered",
    "CommitmentWithdrawn",
    "ConsentGiven",
    "ConsentWithdrawn",
    "Data",
    "EventSpec",
    "ExpectationAcknowledged",
    "ExpectationRevised",
    "ExpectationStated",
    "ExpectationWithdrawn",
    "Fact",
    "FulfilmentConfirmed",
    "FulfilmentContested",
    "FulfilmentRecorded",
    "IndicatorDefined",
    "IndicatorMeasured",
    "NewEvent",
    "PartyInvited",
    "PartyJoined",
    "PartyWithdrew",
    "PorteurNamed",
    "ReceivedValueDeclared",
    "RoleAccepted",
    "RoleDeclined",
    "RoleProposed",
    "RoleRelinquished",
    "StageCompletionAcknowledged",
    "StageStarted",
    "VisibilityChanged",
    "Who",
]


class Fact(msgspec.Struct, frozen=True, gc=False):
    """The domain's view of one recorded event of an ``agreement/<id>`` stream.

    Untracked by the cyclic garbage collector (``gc=False``): it holds JSON data, which
    has no cycles, and a fold over many facts then does not re-scan them.

    ``actor`` is authentic (the core checked the signature). ``key`` is the signing key
    id, ``position`` the event's position in the ledger's log, ``recorded_at`` the
    ledger's time and ``event_hash`` the hex SHA-256 of the signed payload, when known.
    """

    type: str
    data: dict[str, Any]
    actor: str
    issued_at: str
    stream_version: int
    key: str = ""
    position: int | None = None
    recorded_at: str | None = None
    event_hash: str | None = None


class NewEvent(msgspec.Struct, frozen=True, gc=False):
    """What ``decide`` returns: a type and its data in normal form, ready to be signed."""

    type: str
    data: dict[str, Any]


class Data(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, gc=False
):
    """Base of every event's data."""


# --- agreement lifecycle -------------------------------------------------------------


class AgreementDrafted(Data, frozen=True):
    agreement_id: Id
    title: Title
    purpose: LongText
    binding: bool
    invited: list[OrgId] = []
    public: bool = False


class AgreementRevised(Data, frozen=True):
    title: Title
    purpose: LongText
    binding: bool


class VisibilityChanged(Data, frozen=True):
    public: bool


class AgreementSuspended(Data, frozen=True):
    reason: LongText


class AgreementResumed(Data, frozen=True):
    reason: Note = ""


class AgreementTerminated(Data, frozen=True):
    reason: LongText


class AgreementRatified(Data, frozen=True):
    terms_version: Annotated[int, msgspec.Meta(ge=1, le=MAX_VERSION)]
    state_hash: Hex64


# --- parties and roles ---------------------------------------------------------------


class PartyInvited(Data, frozen=True):
    org: OrgId


class PartyJoined(Data, frozen=True):
    pass


class PartyWithdrew(Data, frozen=True):
    effective_on: Date
    reason: LongText


class PorteurNamed(Data, frozen=True):
    person_id: PersonId


class RoleProposed(Data, frozen=True):
    role_id: Id
    name: Title
    description: LongText
    assignee: OrgId


class RoleAccepted(Data, frozen=True):
    role_id: Id
    person_id: PersonId | None = None


class RoleDeclined(Data, frozen=True):
    role_id: Id
    reason: Note = ""


class RoleRelinquished(Data, frozen=True):
    role_id: Id
    reason: Note = ""


# --- shared expectations -------------------------------------------------------------

Addressees = Literal["all"] | Annotated[list[OrgId], msgspec.Meta(min_length=1)]


class ExpectationStated(Data, frozen=True):
    expectation_id: Id
    text: LongText
    addressed_to: Addressees = "all"


class ExpectationRevised(Data, frozen=True):
    expectation_id: Id
    text: LongText
    addressed_to: Addressees = "all"


class ExpectationWithdrawn(Data, frozen=True):
    expectation_id: Id
    reason: Note = ""


class ExpectationAcknowledged(Data, frozen=True):
    expectation_id: Id
    content_hash: Hex64


# --- commitments and fulfilments -----------------------------------------------------


class CommitmentOffered(Data, frozen=True):
    commitment_id: Id
    category: Category
    description: LongText
    quantity: Quantity
    period: Period
    receiver: OrgId
    conditions: Note = ""
    value: Quantity | None = None
    fair_value: FairValue | None = None


class CommitmentAmended(CommitmentOffered, frozen=True):
    """A full replacement of the commitment's terms (same members as offered)."""


class CommitmentWithdrawn(Data, frozen=True):
    commitment_id: Id
    reason: LongText


class ReceivedValueDeclared(Data, frozen=True):
    commitment_id: Id
    value: Quantity


class FulfilmentRecorded(Data, frozen=True):
    fulfilment_id: Id
    commitment_id: Id
    quantity: Quantity
    period: Period
    note: Note = ""
    evidence_sha256: Hex64 | None = None


class FulfilmentConfirmed(Data, frozen=True):
    fulfilment_id: Id
    comment: Note = ""


class FulfilmentContested(Data, frozen=True):
    fulfilment_id: Id
    reason: LongText


# --- the démarche: stages and indicators ---------------------------------------------


class StageStarted(Data, frozen=True):
    stage: StageName
    note: Note = ""


class StageCompletionAcknowledged(Data, frozen=True):
    stage: StageName
    note: Note = ""
    evidence_sha256: Hex64 | None = None


class IndicatorDefined(Data, frozen=True):
    indicator_id: Id
    name: Title
    unit: Unit
    method: LongText
    target: Amount | None = None


class IndicatorMeasured(Data, frozen=True):
    measurement_id: Id
    indicator_id: Id
    period: Period
    value: Amount
    evidence_sha256: Hex64


# --- consent to share with a data trust ----------------------------------------------


class ConsentGiven(Data, frozen=True):
    consent_id: Id
    trust_id: Id
    purpose: LongText
    scope: Annotated[list[Family], msgspec.Meta(min_length=1)]
    licence: Title
    expires_on: Date


class ConsentWithdrawn(Data, frozen=True):
    consent_id: Id
    reason: Note = ""


# --- the registry --------------------------------------------------------------------

#: Who may emit an event: ``anyone`` (drafting), ``invited`` (an invited organization),
#: ``party`` (a current party), ``party-or-former`` (also a party that withdrew, to wind
#: down its own commitments, fulfilments and consents).
Who = Literal["anyone", "invited", "party", "party-or-former"]


class EventSpec(msgspec.Struct, frozen=True):
    """What decide and evolve need to know about an event type besides its handler."""

    type: str
    data: builtins.type[Data]
    who: Who
    terms: bool
    while_suspended: bool = False


def _specs(*specs: EventSpec) -> dict[str, EventSpec]:
    return {s.type: s for s in specs}


#: Every agreement event type. ``terms``: applying it makes a new terms version.
EVENTS: Final[dict[str, EventSpec]] = _specs(
    EventSpec("agreement.drafted", AgreementDrafted, "anyone", terms=True),
    EventSpec("agreement.revised", AgreementRevised, "party", terms=True),
    EventSpec("agreement.visibility_changed", VisibilityChanged, "party", terms=False),
    EventSpec("agreement.suspended", AgreementSuspended, "party", terms=False),
    EventSpec("agreement.resumed", AgreementResumed, "party", False, while_suspended=True),
    EventSpec("agreement.terminated", AgreementTerminated, "party", False, True),
    EventSpec("agreement.ratified", AgreementRatified, "party", terms=False),
    EventSpec("party.invited", PartyInvited, "party", terms=False),
    EventSpec("party.joined", PartyJoined, "invited", terms=True),
    EventSpec("party.withdrew", PartyWithdrew, "party", terms=True, while_suspended=True),
    EventSpec("porteur.named", PorteurNamed, "party", terms=True),
    EventSpec("role.proposed", RoleProposed, "party", terms=False),
    EventSpec("role.accepted", RoleAccepted, "party", terms=True),
    EventSpec("role.declined", RoleDeclined, "party", terms=False),
    EventSpec("role.relinquished", RoleRelinquished, "party", terms=True),
    EventSpec("expectation.stated", ExpectationStated, "party", terms=True),
    EventSpec("expectation.revised", ExpectationRevised, "party", terms=True),
    EventSpec("expectation.withdrawn", ExpectationWithdrawn, "party", True, True),
    EventSpec("expectation.acknowledged", ExpectationAcknowledged, "party", terms=False),
    EventSpec("commitment.offered", CommitmentOffered, "party", terms=True),
    EventSpec("commitment.amended", CommitmentAmended, "party", terms=True),
    EventSpec("commitment.withdrawn", CommitmentWithdrawn, "party-or-former", True, True),
    EventSpec("commitment.received_value_declared", ReceivedValueDeclared, "party", True),
    EventSpec("fulfilment.recorded", FulfilmentRecorded, "party-or-former", terms=False),
    EventSpec("fulfilment.confirmed", FulfilmentConfirmed, "party-or-former", False, True),
    EventSpec("fulfilment.contested", FulfilmentContested, "party-or-former", False, True),
    EventSpec("stage.started", StageStarted, "party", terms=False),
    EventSpec("stage.completion_acknowledged", StageCompletionAcknowledged, "party", False),
    EventSpec("indicator.defined", IndicatorDefined, "party", terms=True),
    EventSpec("indicator.measured", IndicatorMeasured, "party", terms=False),
    EventSpec("consent.given", ConsentGiven, "party", terms=False),
    EventSpec("consent.withdrawn", ConsentWithdrawn, "party-or-former", False, True),
)
