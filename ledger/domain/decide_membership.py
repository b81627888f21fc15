"""Decisions about who is in the agreement and its life: drafting, parties, porteurs,
roles, suspension, termination, ratification and consent to share.

Each function checks one command against the state and returns True to emit its event,
False for an idempotent repeat (no event), or raises ``Rejected``. ``decide`` has already
checked the data's schema, the agreement's status and that the actor may speak at all
(see ``decide._gate``); what remains here is each event's own rules. An organization
speaks only for itself: the porteur named, the party joining or withdrawing, the consent
given are always the actor's own, so no event has a member naming another party for them.
"""

from __future__ import annotations

from . import catalogue as c
from .rules import check_date, no_duplicates, reject
from .state import AgreementState
from .state_hash import state_hash
from .values import COLLECTIVE

__all__ = [
    "decide_consent_given",
    "decide_consent_withdrawn",
    "decide_drafted",
    "decide_invited",
    "decide_joined",
    "decide_porteur",
    "decide_ratified",
    "decide_resumed",
    "decide_revised",
    "decide_role_accepted",
    "decide_role_declined",
    "decide_role_proposed",
    "decide_role_relinquished",
    "decide_suspended",
    "decide_terminated",
    "decide_visibility",
    "decide_withdrew",
]


def decide_drafted(s: AgreementState, d: c.AgreementDrafted, actor: str, at: str) -> bool:
    if actor == COLLECTIVE:
        reject("party.reserved-id", "'collective' cannot draft an agreement", "actor")
    no_duplicates(d.invited, "invited")
    if COLLECTIVE in d.invited:
        reject("party.reserved-id", "'collective' cannot be invited", "invited")
    if actor in d.invited:
        reject("party.self-invited", f"{actor} drafts the agreement and is its first party",
               "invited")
    return True


def decide_revised(s: AgreementState, d: c.AgreementRevised, actor: str, at: str) -> bool:
    return (d.title, d.purpose, d.binding) != (s.title, s.purpose, s.binding)


def decide_visibility(s: AgreementState, d: c.VisibilityChanged, actor: str, at: str) -> bool:
    return d.public != s.public


def decide_suspended(s: AgreementState, d: c.AgreementSuspended, actor: str, at: str) -> bool:
    return True  # _gate refuses it while suspended


def decide_resumed(s: AgreementState, d: c.AgreementResumed, actor: str, at: str) -> bool:
    if s.status != "suspended":
        reject("agreement.not-suspended", "the agreement is not suspended")
    return True


def decide_terminated(s: AgreementState, d: c.AgreementTerminated, actor: str, at: str) -> bool:
    return True


def decide_ratified(s: AgreementState, d: c.AgreementRatified, actor: str, at: str) -> bool:
    if len(s.parties) < 2:
        reject("ratification.too-few-parties",
               f"{len(s.parties)} party; an agreement needs at least two to ratify")
    if d.terms_version != s.terms_version:
        reject("ratification.stale-version",
               f"terms version {d.terms_version}, want {s.terms_version}", "terms_version")
    want = state_hash(s)
    if d.state_hash != want:
        reject("ratification.hash-mismatch", f"state hash {d.state_hash}, want {want}",
               "state_hash")
    mine = s.signatures.get(actor)
    return mine is None or mine.terms_version != d.terms_version


def decide_invited(s: AgreementState, d: c.PartyInvited, actor: str, at: str) -> bool:
    if d.org == COLLECTIVE:
        reject("party.reserved-id", "'collective' cannot be invited", "org")
    if d.org in s.parties:
        reject("party.already-party", f"{d.org} is already a party", "org")
    return d.org not in s.invited


def decide_joined(s: AgreementState, d: c.PartyJoined, actor: str, at: str) -> bool:
    if actor in s.parties:
        reject("party.already-party", f"{actor} is already a party", "actor")
    if actor not in s.invited:
        reject("party.not-invited", f"{actor} was not invited", "actor")
    return True


def decide_withdrew(s: AgreementState, d: c.PartyWithdrew, actor: str, at: str) -> bool:
    notice = check_date(at[:10], "at")
    if check_date(d.effective_on, "effective_on") < notice:
        reject("party.withdrawal-retroactive",
               f"effective on {d.effective_on}, before the notice of {notice}", "effective_on")
    if len(s.parties) == 1:
        reject("party.last-party", "the last party cannot withdraw; terminate instead")
    return True


def decide_porteur(s: AgreementState, d: c.PorteurNamed, actor: str, at: str) -> bool:
    return s.parties[actor].porteur != d.person_id


def decide_role_proposed(s: AgreementState, d: c.RoleProposed, actor: str, at: str) -> bool:
    if d.role_id in s.roles:
        reject("role.duplicate", f"role {d.role_id} exists", "role_id")
    if d.assignee not in s.parties:
        reject("role.assignee-not-party", f"{d.assignee} is not a party", "assignee")
    return True


def _own_role_status(s: AgreementState, role_id: str, actor: str) -> str:
    role = s.roles.get(role_id)
    if role is None:
        reject("role.unknown", f"no role {role_id}", "role_id")
    if role.assignee != actor:
        reject("role.not-assignee", f"role {role_id} is proposed to {role.assignee}", "actor")
    if role.status == "ended":
        reject("role.closed", f"role {role_id} is {role.status}", "role_id")
    return role.status


def decide_role_accepted(s: AgreementState, d: c.RoleAccepted, actor: str, at: str) -> bool:
    status = _own_role_status(s, d.role_id, actor)
    if status in ("declined", "relinquished"):
        reject("role.closed", f"role {d.role_id} is {status}", "role_id")
    return status == "proposed" or s.roles[d.role_id].person != d.person_id


def decide_role_declined(s: AgreementState, d: c.RoleDeclined, actor: str, at: str) -> bool:
    status = _own_role_status(s, d.role_id, actor)
    if status == "accepted":
        reject("role.already-accepted", f"role {d.role_id} is accepted; relinquish it",
               "role_id")
    if status == "relinquished":
        reject("role.closed", f"role {d.role_id} is relinquished", "role_id")
    return status == "proposed"


def decide_role_relinquished(
    s: AgreementState, d: c.RoleRelinquished, actor: str, at: str
) -> bool:
    status = _own_role_status(s, d.role_id, actor)
    if status == "proposed":
        reject("role.not-accepted", f"role {d.role_id} was never accepted", "role_id")
    if status == "declined":
        reject("role.closed", f"role {d.role_id} is declined", "role_id")
    return status == "accepted"


def decide_consent_given(s: AgreementState, d: c.ConsentGiven, actor: str, at: str) -> bool:
    if d.consent_id in s.consents:
        reject("consent.duplicate", f"consent {d.consent_id} exists", "consent_id")
    no_duplicates(list(d.scope), "scope")
    if check_date(d.expires_on, "expires_on") < check_date(at[:10], "at"):
        reject("consent.expired", f"expires on {d.expires_on}, before {at[:10]}",
               "expires_on")
    return True


def decide_consent_withdrawn(
    s: AgreementState, d: c.ConsentWithdrawn, actor: str, at: str
) -> bool:
    consent = s.consents.get(d.consent_id)
    if consent is None:
        reject("consent.unknown", f"no consent {d.consent_id}", "consent_id")
    if consent.org != actor:
        reject("consent.not-holder", f"consent {d.consent_id} was given by {consent.org}",
               "actor")
    return consent.withdrawn_at is None
