"""Who may read what: the one policy every route that discloses content applies.

Why one place: the agreement routes, the stream routes, the log and the live stream
each used to decide for themselves, and a data trust read past consent on all of them
but provenance. Pure: the shell reads the agreement's current state, asks here, and
serves or refuses.

Readers (``Reader.kind``):

``public``   no token;
``org``      an organization's token (its subject is the organization's id);
``trust``    a data trust's token (its subject is the trust's id);
``auditor``  an auditor's token: reads everything, under its own mandate.

The operator has no reading token: it runs the server and holds the database.

What each reads:

* the register of organizations and keys (``org/<id>`` streams) is public: anyone
  verifying a signature needs its signer's key history;
* an agreement its parties marked public: anyone;
* otherwise an organization reads the agreements it is, was or is invited to be a party
  to; an auditor reads everything; a trust reads, event by event, what a consent in force
  covers (``ledger.provenance.consent``: the organization that signed the event gave
  the trust a consent, in this agreement, not withdrawn nor expired on the request date,
  whose scope names the event's family), plus the consent events addressed to it;
  nothing else.

A view that folds every event of an agreement (its state, its written document) is
served to a trust only when nothing in it would be withheld. Consent is decided on the
agreement's *current* state: a withdrawal applies to the next request and to the next
entry an open stream sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .domain.state import AgreementState
from .provenance.consent import ConsentView, Coverage

__all__ = [
    "READER_KINDS",
    "AccessFacts",
    "AgreementAccess",
    "Reader",
    "ReaderKind",
    "Seen",
    "agreement_access",
    "entry_visible",
    "facts_of",
    "members",
    "whole_access",
]

ReaderKind = Literal["public", "org", "trust", "auditor"]
READER_KINDS: tuple[ReaderKind, ...] = ("public", "org", "trust", "auditor")


@dataclass(frozen=True, slots=True)
class Reader:
    """Who asks: a kind and, for tokens, its subject."""

    kind: ReaderKind
    subject: str = ""


PUBLIC = Reader("public")


@dataclass(frozen=True, slots=True)
class Seen:
    """What the policy needs of one event: where, by whom, which family."""

    stream: str
    actor: str
    type: str
    consent_id: str | None = None

    @property
    def stream_kind(self) -> str:
        return self.stream.split("/", 1)[0]

    @property
    def family(self) -> str:
        return self.type.split(".", 1)[0]


def members(state: AgreementState) -> set[str]:
    """The organizations that are, were or are invited to be parties."""
    return set(state.parties) | set(state.former) | set(state.invited)


def entry_visible(reader: Reader, seen: Seen, state: AgreementState | None,
                  today: str, view: ConsentView | None = None) -> bool:
    """May ``reader`` receive this event? ``state``: its agreement's current state (None
    for other streams); ``today``: the request date (``YYYY-MM-DD``); ``view``: a
    ConsentView of ``state`` for this trust and day, to share its memo across events."""
    kind = seen.stream_kind
    if kind == "org":
        return True
    if reader.kind == "auditor":
        return True
    if kind != "agreement" or state is None:
        return False
    if state.public:
        return True
    if reader.kind == "org":
        return reader.subject in members(state)
    if reader.kind == "trust":
        view = view or ConsentView(state, reader.subject, today)
        return view.sees(kind, seen.actor, seen.family, seen.consent_id)
    return False


@dataclass(frozen=True, slots=True)
class AgreementAccess:
    """The policy's answer for one agreement and reader.

    ``some``: the reader may open the agreement (some of its events are for it);
    ``whole``: every event is for it (folded views: state, document);
    ``withheld``: for a trust, why the first event left out was (None otherwise).
    """

    some: bool
    whole: bool
    withheld: Coverage | None = None


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What the policy needs of an agreement to decide for every reader but a trust on
    a private agreement: kept beside an encoded answer, so that serving it again needs
    neither the folded state nor a second copy of this policy."""

    agreement_id: str
    public: bool
    members: frozenset[str]


def facts_of(state: AgreementState) -> AccessFacts:
    return AccessFacts(state.agreement_id, state.public, frozenset(members(state)))


def whole_access(reader: Reader, facts: AccessFacts) -> bool | None:
    """May ``reader`` read the whole agreement? None when the facts cannot tell (a trust
    on a private agreement: its consents, event by event, decide; see
    ``agreement_access``)."""
    if reader.kind == "auditor" or facts.public:
        return True
    if reader.kind == "org":
        return reader.subject in facts.members
    if reader.kind != "trust":
        return False
    return None


def agreement_access(reader: Reader, state: AgreementState, events: Iterable[Seen],
                     today: str) -> AgreementAccess:
    """What ``reader`` may read of an agreement whose current state is ``state`` and
    whose events are ``events`` (needed only for a trust on a private agreement)."""
    if reader.kind != "trust" or state.public:
        ok = whole_access(reader, facts_of(state))
        return AgreementAccess(bool(ok), bool(ok))
    view = ConsentView(state, reader.subject, today)
    some, whole, withheld = False, True, None
    for seen in events:
        if seen.stream_kind != "agreement":
            continue  # the register opens no agreement
        if entry_visible(reader, seen, state, today, view):
            if not (seen.family == "consent" and seen.consent_id in view.own):
                some = True  # its own consent events alone open nothing
        else:
            whole = False
            if withheld is None:
                withheld = view.check(seen.actor, seen.family)
    if withheld is None and not some:  # nothing but its own consents, or no event
        withheld = Coverage(next(iter(members(state)), ""), "agreement", False, "missing",
                            None, f"no consent to {reader.subject} in agreement "
                            f"{state.agreement_id}")
    return AgreementAccess(some, whole and some, withheld)
