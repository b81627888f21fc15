"""Commands: what an organization asks of an agreement, one per party-signed event.

Why each command subclasses its event's data: every agreement event is signed by the
party that speaks, so a command is exactly the event's data plus who speaks (``actor``,
an organization id) and when (``at``, RFC 3339 UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``,
supplied by the caller: the domain reads no clock). Ids are chosen by the caller too.

``command_from_event`` is the inverse mapping, used to re-decide a signed event
(``check.check_event``).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from ..errors import Rejected
from . import catalogue as c

__all__ = [
    "COMMANDS",
    "AcceptRole",
    "AcknowledgeExpectation",
    "AcknowledgeStageCompletion",
    "AmendCommitment",
    "ChangeVisibility",
    "Command",
    "ConfirmFulfilment",
    "ContestFulfilment",
    "DeclareReceivedValue",
    "DeclineRole",
    "DefineIndicator",
    "DraftAgreement",
    "GiveConsent",
    "InviteParty",
    "JoinAgreement",
    "NamePorteur",
    "OfferCommitment",
    "ProposeRole",
    "RatifyAgreement",
    "RecordFulfilment",
    "RecordMeasurement",
    "RelinquishRole",
    "ResumeAgreement",
    "ReviseAgreement",
    "ReviseExpectation",
    "StartStage",
    "StateExpectation",
    "SuspendAgreement",
    "TerminateAgreement",
    "WithdrawCommitment",
    "WithdrawConsent",
    "WithdrawExpectation",
    "WithdrawFromAgreement",
    "command_for",
    "command_from_event",
    "decode_event",
    "field_of",
]

# Each class adds ``actor`` and ``at`` (keyword-only) to its event's data members.


class DraftAgreement(c.AgreementDrafted, frozen=True, kw_only=True):
    actor: str
    at: str


class ReviseAgreement(c.AgreementRevised, frozen=True, kw_only=True):
    actor: str
    at: str


class ChangeVisibility(c.VisibilityChanged, frozen=True, kw_only=True):
    actor: str
    at: str


class SuspendAgreement(c.AgreementSuspended, frozen=True, kw_only=True):
    actor: str
    at: str


class ResumeAgreement(c.AgreementResumed, frozen=True, kw_only=True):
    actor: str
    at: str


class TerminateAgreement(c.AgreementTerminated, frozen=True, kw_only=True):
    actor: str
    at: str


class RatifyAgreement(c.AgreementRatified, frozen=True, kw_only=True):
    actor: str
    at: str


class InviteParty(c.PartyInvited, frozen=True, kw_only=True):
    actor: str
    at: str


class JoinAgreement(c.PartyJoined, frozen=True, kw_only=True):
    actor: str
    at: str


class WithdrawFromAgreement(c.PartyWithdrew, frozen=True, kw_only=True):
    actor: str
    at: str


class NamePorteur(c.PorteurNamed, frozen=True, kw_only=True):
    actor: str
    at: str


class ProposeRole(c.RoleProposed, frozen=True, kw_only=True):
    actor: str
    at: str


class AcceptRole(c.RoleAccepted, frozen=True, kw_only=True):
    actor: str
    at: str


class DeclineRole(c.RoleDeclined, frozen=True, kw_only=True):
    actor: str
    at: str


class RelinquishRole(c.RoleRelinquished, frozen=True, kw_only=True):
    actor: str
    at: str


class StateExpectation(c.ExpectationStated, frozen=True, kw_only=True):
    actor: str
    at: str


class ReviseExpectation(c.ExpectationRevised, frozen=True, kw_only=True):
    actor: str
    at: str


class WithdrawExpectation(c.ExpectationWithdrawn, frozen=True, kw_only=True):
    actor: str
    at: str


class AcknowledgeExpectation(c.ExpectationAcknowledged, frozen=True, kw_only=True):
    actor: str
    at: str


class OfferCommitment(c.CommitmentOffered, frozen=True, kw_only=True):
    actor: str
    at: str


class AmendCommitment(c.CommitmentAmended, frozen=True, kw_only=True):
    actor: str
    at: str


class WithdrawCommitment(c.CommitmentWithdrawn, frozen=True, kw_only=True):
    actor: str
    at: str


class DeclareReceivedValue(c.ReceivedValueDeclared, frozen=True, kw_only=True):
    actor: str
    at: str


class RecordFulfilment(c.FulfilmentRecorded, frozen=True, kw_only=True):
    actor: str
    at: str


class ConfirmFulfilment(c.FulfilmentConfirmed, frozen=True, kw_only=True):
    actor: str
    at: str


class ContestFulfilment(c.FulfilmentContested, frozen=True, kw_only=True):
    actor: str
    at: str


class StartStage(c.StageStarted, frozen=True, kw_only=True):
    actor: str
    at: str


class AcknowledgeStageCompletion(c.StageCompletionAcknowledged, frozen=True, kw_only=True):
    actor: str
    at: str


class DefineIndicator(c.IndicatorDefined, frozen=True, kw_only=True):
    actor: str
    at: str


class RecordMeasurement(c.IndicatorMeasured, frozen=True, kw_only=True):
    actor: str
    at: str


class GiveConsent(c.ConsentGiven, frozen=True, kw_only=True):
    actor: str
    at: str


class WithdrawConsent(c.ConsentWithdrawn, frozen=True, kw_only=True):
    actor: str
    at: str


Command = (
    DraftAgreement
    | ReviseAgreement
    | ChangeVisibility
    | SuspendAgreement
    | ResumeAgreement
    | TerminateAgreement
    | RatifyAgreement
    | InviteParty
    | JoinAgreement
    | WithdrawFromAgreement
    | NamePorteur
    | ProposeRole
    | AcceptRole
    | DeclineRole
    | RelinquishRole
    | StateExpectation
    | ReviseExpectation
    | WithdrawExpectation
    | AcknowledgeExpectation
    | OfferCommitment
    | AmendCommitment
    | WithdrawCommitment
    | DeclareReceivedValue
    | RecordFulfilment
    | ConfirmFulfilment
    | ContestFulfilment
    | StartStage
    | AcknowledgeStageCompletion
    | DefineIndicator
    | RecordMeasurement
    | GiveConsent
    | WithdrawConsent
)

#: Event type -> the command that decides it.
COMMANDS: Final[dict[str, type[c.Data]]] = {
    "agreement.drafted": DraftAgreement,
    "agreement.revised": ReviseAgreement,
    "agreement.visibility_changed": ChangeVisibility,
    "agreement.suspended": SuspendAgreement,
    "agreement.resumed": ResumeAgreement,
    "agreement.terminated": TerminateAgreement,
    "agreement.ratified": RatifyAgreement,
    "party.invited": InviteParty,
    "party.joined": JoinAgreement,
    "party.withdrew": WithdrawFromAgreement,
    "porteur.named": NamePorteur,
    "role.proposed": ProposeRole,
    "role.accepted": AcceptRole,
    "role.declined": DeclineRole,
    "role.relinquished": RelinquishRole,
    "expectation.stated": StateExpectation,
    "expectation.revised": ReviseExpectation,
    "expectation.withdrawn": WithdrawExpectation,
    "expectation.acknowledged": AcknowledgeExpectation,
    "commitment.offered": OfferCommitment,
    "commitment.amended": AmendCommitment,
    "commitment.withdrawn": WithdrawCommitment,
    "commitment.received_value_declared": DeclareReceivedValue,
    "fulfilment.recorded": RecordFulfilment,
    "fulfilment.confirmed": ConfirmFulfilment,
    "fulfilment.contested": ContestFulfilment,
    "stage.started": StartStage,
    "stage.completion_acknowledged": AcknowledgeStageCompletion,
    "indicator.defined": DefineIndicator,
    "indicator.measured": RecordMeasurement,
    "consent.given": GiveConsent,
    "consent.withdrawn": WithdrawConsent,
}


def field_of(error: msgspec.ValidationError) -> str:
    """The dotted path of the member a msgspec validation error is about ("" if none).

    ``Expected `str` ... - at `$.quantity.amount``` gives ``quantity.amount``;
    ``Object contains unknown field `x` - at `$.period``` gives ``period.x``.
    """
    text = str(error)
    path = ""
    if " - at `$" in text:
        path = text.rsplit(" - at `$", 1)[1].rstrip("`").lstrip(".")
    for marker in ("unknown field `", "missing required field `"):
        if marker in text:
            name = text.split(marker, 1)[1].split("`", 1)[0]
            path = f"{path}.{name}" if path else name
    return path


def decode_event(type: Any, data: Any) -> tuple[str, c.Data]:
    """The event's type and its data decoded into the type's data Struct.

    Raises ``Rejected`` (``event.unknown-type``, or ``event.malformed`` with the field at
    fault) for anything that is not an agreement event with well-typed data.
    """
    spec = c.EVENTS.get(type) if isinstance(type, str) else None
    if spec is None:
        raise Rejected("event.unknown-type", f"unknown event type {type!r}", field="type")
    if not isinstance(data, dict):
        raise Rejected("event.malformed", "event data must be a JSON object", field="data")
    try:
        decoded: c.Data = msgspec.convert(data, spec.data)
    except msgspec.ValidationError as exc:
        raise Rejected("event.malformed", f"{type}: {exc}", field=field_of(exc)) from exc
    except UnicodeEncodeError as exc:  # msgspec wording an error about a lone surrogate
        raise Rejected("event.malformed", f"{type}: a string holds a lone surrogate",
                       field="data") from exc
    return spec.type, decoded


def command_for(type: str, decoded: c.Data, actor: Any, at: Any) -> Any:
    """The command of event type ``type`` with ``decoded`` data, spoken by ``actor``."""
    members = {name: getattr(decoded, name) for name in decoded.__struct_fields__}
    return COMMANDS[type](**members, actor=actor, at=at)


def command_from_event(type: Any, data: Any, actor: str, issued_at: str) -> Any:
    """The command whose decision would be the event ``(type, data)`` signed by ``actor``.

    Raises ``Rejected`` (``event.unknown-type`` or ``event.malformed`` with the field at
    fault) for anything that is not an agreement event with well-typed data. The result
    is one of the ``Command`` classes (typed ``Any`` to keep callers simple).
    """
    type_, decoded = decode_event(type, data)
    return command_for(type_, decoded, actor, issued_at)
