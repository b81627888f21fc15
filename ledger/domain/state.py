"""The state of one agreement, as folded from its stream, and questions asked of it.

Why mutable records: ``bench`` folds long streams and each event must cost little, so
``evolve`` updates the state it is given in place and returns it (the fold owns the
state). ``decide`` and everything else here only read. Records are msgspec Structs with
``gc=False``: they hold only strings, numbers, value Structs and dicts of those, so they
can never be part of a reference cycle, and leaving them out of the cyclic garbage
collector saves much of a long fold's time (full collections otherwise re-scan every
record; docs/PERFORMANCE.md, *Figures behind the code's choices*). Records that never
change once made (a ratification, a measure, a position on a fulfilment, a milestone)
are frozen. ``INITIAL`` is never mutated: ``evolve`` replaces it with a fresh
``initial_state()`` before its first write.
Copy a state with ``copy_state`` to keep an older one (a deep copy, four to five times
faster than ``copy.deepcopy`` on a year-long agreement: the write rules copy one for
each agreement a batch appends several events to).

Derived facts (is an expectation shared? is a stage complete? is the agreement in
force?) are functions below, computed from the current parties, never stored twice.
"""

from __future__ import annotations

from typing import Final, Literal

import msgspec

from .values import COLLECTIVE, FairValue, Period, Quantity

__all__ = [
    "INITIAL",
    "AgreementState",
    "Commitment",
    "Consent",
    "Expectation",
    "FormerParty",
    "Fulfilment",
    "Indicator",
    "Measure",
    "Milestone",
    "Party",
    "Position",
    "Ratification",
    "Role",
    "Stage",
    "Status",
    "addressees",
    "copy_state",
    "in_force",
    "initial_state",
    "is_shared",
    "is_terminal",
    "receives",
    "receiving_orgs",
    "stage_complete",
    "terms_pending",
]

Status = Literal["absent", "active", "suspended", "terminated"]


class Party(msgspec.Struct, gc=False):
    org: str
    since: str
    porteur: str | None = None
    porteur_since: str | None = None


class FormerParty(msgspec.Struct, gc=False):
    org: str
    left_at: str
    effective_on: str
    reason: str


class Expectation(msgspec.Struct, gc=False):
    id: str
    holder: str
    text: str
    addressed_to: str | list[str]
    stated_at: str
    revision: int = 1
    withdrawn: bool = False
    reason: str = ""
    acks: dict[str, str] = {}  # org -> when, current text only


class Role(msgspec.Struct, gc=False):
    id: str
    name: str
    description: str
    assignee: str
    proposed_by: str
    status: Literal["proposed", "accepted", "declined", "relinquished", "ended"] = "proposed"
    person: str | None = None
    reason: str = ""


class Commitment(msgspec.Struct, gc=False):
    id: str
    provider: str
    receiver: str
    category: str
    description: str
    quantity: Quantity
    period: Period
    conditions: str
    value: Quantity | None  # the provider's declared value of what it gives
    fair_value: FairValue | None
    offered_at: str
    receiver_values: dict[str, Quantity] = {}  # org -> value
    amendments: int = 0
    withdrawn: bool = False
    reason: str = ""


class Position(msgspec.Struct, frozen=True, gc=False):
    """A receiving party's word on a fulfilment."""

    kind: Literal["confirmed", "contested"]
    text: str
    at: str


class Fulfilment(msgspec.Struct, gc=False):
    id: str
    commitment_id: str
    provider: str
    quantity: Quantity
    period: Period
    note: str
    evidence_sha256: str | None
    recorded_at: str
    positions: dict[str, Position] = {}


class Stage(msgspec.Struct, gc=False):
    name: str
    started_at: str
    started_by: str
    round: int = 1
    acks: dict[str, str] = {}  # org -> when
    completed_at: str | None = None  # when it last became complete


class Indicator(msgspec.Struct, gc=False):
    id: str
    name: str
    unit: str
    method: str
    target: str | None
    defined_by: str
    defined_at: str


class Measure(msgspec.Struct, frozen=True, gc=False):
    id: str
    indicator_id: str
    period: Period
    value: str
    evidence_sha256: str
    by: str
    at: str


class Consent(msgspec.Struct, gc=False):
    id: str
    org: str
    trust_id: str
    purpose: str
    scope: tuple[str, ...]
    licence: str
    expires_on: str
    given_at: str
    withdrawn_at: str | None = None
    reason: str = ""


class Ratification(msgspec.Struct, frozen=True, gc=False):
    """One party's ratification of one terms version, with where the log holds it."""

    org: str
    terms_version: int
    state_hash: str
    at: str
    key: str
    position: int | None
    stream_version: int


class Milestone(msgspec.Struct, frozen=True, gc=False):
    """A dated step of the agreement's life, for the written agreement's timeline."""

    at: str
    stream_version: int
    kind: str
    actor: str
    detail: str = ""


class AgreementState(msgspec.Struct, weakref=True):  # weakly held: state_hash's memo
    agreement_id: str = ""
    status: Status = "absent"
    version: int = 0  # stream version of the last applied fact
    title: str = ""
    purpose: str = ""
    binding: bool = False
    public: bool = False
    drafted_by: str = ""
    drafted_at: str = ""
    status_reason: str = ""
    invited: dict[str, str] = {}  # org -> inviting party
    parties: dict[str, Party] = {}
    former: dict[str, FormerParty] = {}
    expectations: dict[str, Expectation] = {}
    roles: dict[str, Role] = {}
    commitments: dict[str, Commitment] = {}
    fulfilments: dict[str, Fulfilment] = {}
    stages: dict[str, Stage] = {}
    indicators: dict[str, Indicator] = {}
    measures: dict[str, Measure] = {}
    consents: dict[str, Consent] = {}
    terms_version: int = 0
    signatures: dict[str, Ratification] = {}  # latest per org
    in_force_version: int | None = None
    in_force_hash: str | None = None
    in_force_since: str | None = None
    in_force_signatures: tuple[Ratification, ...] = ()
    timeline: list[Milestone] = []


def initial_state() -> AgreementState:
    """A fresh state for a stream with no events."""
    return AgreementState()


_copy_encoder: Final = msgspec.msgpack.Encoder()
_copy_decoder: Final = msgspec.msgpack.Decoder(AgreementState)


def copy_state(state: AgreementState) -> AgreementState:
    """A deep copy of ``state`` (through msgspec's MessagePack, in C: every field is
    typed, so the copy has the same types and values; a property test holds it equal
    along random histories)."""
    return _copy_decoder.decode(_copy_encoder.encode(state))


#: The state before any event. Shared and never mutated (see the module docstring).
INITIAL: Final = AgreementState()


def is_terminal(state: AgreementState) -> bool:
    """A terminated agreement accepts nothing more."""
    return state.status == "terminated"


def in_force(state: AgreementState) -> bool:
    """True when a terms version was ratified by all its parties and nothing halts it."""
    return state.in_force_version is not None and state.status == "active"


def terms_pending(state: AgreementState) -> bool:
    """True when the current terms differ from the last fully ratified version."""
    return state.status != "absent" and state.terms_version != state.in_force_version


def addressees(state: AgreementState, expectation: Expectation) -> list[str]:
    """The current parties an expectation is addressed to (never its holder), sorted."""
    if expectation.addressed_to == "all":
        return sorted(o for o in state.parties if o != expectation.holder)
    return sorted(o for o in expectation.addressed_to if o in state.parties)


def is_shared(state: AgreementState, expectation: Expectation) -> bool:
    """Shared = written, not withdrawn, and acknowledged by every current addressee."""
    if expectation.withdrawn:
        return False
    return all(o in expectation.acks for o in addressees(state, expectation))


def stage_complete(state: AgreementState, name: str) -> bool:
    """A started stage is complete when every current party acknowledged its end."""
    stage = state.stages.get(name)
    if stage is None or not state.parties:
        return False
    return all(o in stage.acks for o in state.parties)


def receiving_orgs(state: AgreementState, commitment: Commitment) -> list[str]:
    """Who speaks for the receiving side: the receiver, or for the collective every
    current party other than the provider."""
    if commitment.receiver == COLLECTIVE:
        return sorted(o for o in state.parties if o != commitment.provider)
    return [commitment.receiver]


def receives(state: AgreementState, commitment: Commitment, org: str) -> bool:
    """``org in receiving_orgs(state, commitment)``, without listing them (the rules
    ask it of every confirmation, contest and declared value)."""
    if commitment.receiver == COLLECTIVE:
        return org in state.parties and org != commitment.provider
    return org == commitment.receiver

