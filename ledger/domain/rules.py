"""The rule codes of the agreement domain, and the small checks several rules share.

Why a registry: a rule code is a stable public string (clients branch on it, the API puts
it in problem documents, ``docs/EVENTS.md`` lists it), so every code ``decide`` can raise
is declared here once with a one-line meaning. A test checks that the code raises only
codes listed here, that the doc lists all of them and that a test exercises each one.
"""

from __future__ import annotations

from datetime import date
from typing import Final, NoReturn

from ..errors import Rejected

__all__ = ["RULES", "check_date", "check_period", "no_duplicates", "reject"]

RULES: Final[dict[str, str]] = {
    # the shape of commands and events
    "command.unknown": "the object is not a command of the agreement domain",
    "command.malformed": "actor is not an organization id, or at is not RFC 3339 UTC",
    "event.unknown-type": "the event type is not in the catalogue",
    "event.malformed": "the data does not match the type's schema (member, type, pattern, "
    "impossible date, string not in NFC)",
    "event.not-normal": "the data carries a member equal to its default; omit it",
    "event.redundant": "the event would change nothing (an idempotent repeat)",
    "event.mismatch": "the event is not what decide makes of its command (defensive)",
    "event.duplicate-item": "a list repeats an item (invited, addressed_to, scope)",
    "period.inverted": "a period ends before it starts",
    # where a statement goes (checked before its own rules, by ``facts.check_stream``)
    "stream.unknown-kind": "the statement's stream is neither org/... nor agreement/...",
    "agreement.wrong-stream": "an agreement.drafted event's agreement_id is not its "
    "stream's key",
    # the agreement's life
    "agreement.exists": "the agreement was already drafted",
    "agreement.not-drafted": "the agreement has not been drafted yet",
    "agreement.terminated": "the agreement is terminated and accepts nothing",
    "agreement.suspended": "the agreement is suspended; only winding down is allowed",
    "agreement.not-suspended": "resuming an agreement that is not suspended",
    "agreement.not-party": "the actor is not a (current) party to the agreement",
    # parties
    "party.reserved-id": "'collective' names the group as receiver and cannot be a party",
    "party.self-invited": "the drafter is a party already and cannot invite itself",
    "party.already-party": "the organization is already a party",
    "party.not-invited": "only an invited organization may join",
    "party.withdrawal-retroactive": "a withdrawal's effective date is before its notice",
    "party.last-party": "the last party cannot withdraw; terminate the agreement instead",
    # roles
    "role.duplicate": "the role id is taken",
    "role.unknown": "no role has this id",
    "role.assignee-not-party": "a role is proposed to an organization that is not a party",
    "role.not-assignee": "only the assignee accepts, declines or relinquishes a role",
    "role.already-accepted": "an accepted role is relinquished, not declined",
    "role.not-accepted": "only an accepted role can be relinquished",
    "role.closed": "the role was declined, relinquished or ended",
    # expectations
    "expectation.duplicate": "the expectation id is taken",
    "expectation.unknown": "no expectation has this id",
    "expectation.not-holder": "only the holder revises or withdraws its expectation",
    "expectation.withdrawn": "the expectation was withdrawn",
    "expectation.self-addressed": "a party does not address its expectation to itself",
    "expectation.addressee-not-party": "an addressee is not a party",
    "expectation.not-addressee": "only an addressee acknowledges an expectation",
    "expectation.hash-mismatch": "the acknowledgement is not of the current text",
    # commitments and fulfilments
    "commitment.duplicate": "the commitment id is taken",
    "commitment.unknown": "no commitment has this id",
    "commitment.not-provider": "only the provider amends or withdraws its commitment",
    "commitment.withdrawn": "the commitment was withdrawn",
    "commitment.receiver-not-party": "the receiver is neither a party nor 'collective'",
    "commitment.self-receiver": "a party does not commit resources to itself",
    "commitment.not-receiver": "only the receiving side declares the value it receives",
    "fulfilment.duplicate": "the fulfilment id is taken",
    "fulfilment.unknown": "no fulfilment has this id",
    "fulfilment.not-provider": "only the commitment's provider records its fulfilment",
    "fulfilment.not-receiver": "only the receiving side confirms or contests a fulfilment",
    "fulfilment.unit-mismatch": "the fulfilment's unit differs from the commitment's",
    # stages and indicators
    "stage.not-started": "the stage has not been started",
    "indicator.duplicate": "the indicator id is taken",
    "indicator.unknown": "no indicator has this id",
    "measure.duplicate": "the measurement id is taken",
    # ratification
    "ratification.too-few-parties": "an agreement needs at least two parties to ratify",
    "ratification.stale-version": "the terms version is not the current one",
    "ratification.hash-mismatch": "the state hash is not the hash of the current terms",
    # consent to share
    "consent.duplicate": "the consent id is taken",
    "consent.unknown": "no consent has this id",
    "consent.not-holder": "only the consenting party withdraws its consent",
    "consent.expired": "the consent expires before the day it is given",
}


def reject(rule: str, detail: str, field: str | None = None) -> NoReturn:
    """Raise ``Rejected(rule, detail, field=field)``; ``rule`` is a key of ``RULES``."""
    raise Rejected(rule, detail, field=field)


def check_date(text: str, field: str) -> date:
    """A ``YYYY-MM-DD`` string (pattern already checked) that is a real calendar day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        reject("event.malformed", f"{text!r} is not a calendar date", field)


def check_period(start: str, end: str, field: str) -> None:
    """Both ends are real days and ``start <= end``."""
    if check_date(start, f"{field}.start") > check_date(end, f"{field}.end"):
        reject("period.inverted", f"{field} ends on {end}, before it starts on {start}", field)


def no_duplicates(items: list[str], field: str) -> None:
    """Each item appears once."""
    seen: set[str] = set()
    for item in items:
        if item in seen:
            reject("event.duplicate-item", f"{item!r} appears twice in {field}", field)
        seen.add(item)
