"""Consent to share: which organizations' data a data trust may receive, on a given day.

Each event is the data of the organization that signed it (its ``actor``). A trust
receives an agreement event only if that organization gave, in this agreement, a
``consent.given`` to that trust which is *in force* on the request date — not withdrawn
(``consent.withdrawn``), ``expires_on`` not before the request date — and whose
``scope`` (a list of event families, ``docs/EVENTS.md``) names the event's family, the
first segment of its type (``commitment.offered`` → ``commitment``).

Three exceptions, all because they are not any party's confidential data:

* the register of organizations and keys (``org/<id>`` streams) is public by design;
* an agreement its parties marked public is readable by anyone, a trust included;
* the consent events addressed to the requesting trust are the basis of the export
  itself, so the trust always sees them.

Auditors are not subject to consent: they read under their own mandate, not a consent.

Every route applies this rule through ``ledger.access`` (the one reading policy), not
only the provenance answers.

When an organization's data is refused, the reason is one of ``missing`` (it never
consented to this trust in this agreement), ``withdrawn``, ``expired`` or
``out-of-scope`` (a consent is in force but does not name that family).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from ..domain.state import AgreementState, Consent
from .records import Entry

__all__ = ["REASONS", "ConsentView", "Coverage", "coverage"]

REASONS: Final = ("missing", "withdrawn", "expired", "out-of-scope")


class Coverage(msgspec.Struct, frozen=True):
    """Whether ``org``'s data of ``family`` may go to the trust, and why not."""

    org: str
    family: str
    ok: bool
    reason: str | None = None
    consent_id: str | None = None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"organization": self.org, "family": self.family, "reason": self.reason,
                "consent_id": self.consent_id, "detail": self.detail}


def _in_force(c: Consent, today: str) -> bool:
    return c.withdrawn_at is None and c.expires_on >= today and c.given_at[:10] <= today


def coverage(state: AgreementState, org: str, trust_id: str, family: str,
             today: str) -> Coverage:
    """Whether ``org`` consented, in this agreement, to share ``family`` data with
    ``trust_id`` on ``today`` (``YYYY-MM-DD``). An agreement its parties marked public
    needs no consent: anyone reads it."""
    if state.public:
        return Coverage(org, family, True, None, None,
                        f"agreement {state.agreement_id} is public")
    mine = sorted((c for c in state.consents.values()
                   if c.org == org and c.trust_id == trust_id), key=lambda c: c.id)
    if not mine:
        return Coverage(org, family, False, "missing", None,
                        f"{org} gave no consent to {trust_id} in agreement "
                        f"{state.agreement_id}")
    live = [c for c in mine if _in_force(c, today)]
    covering = [c for c in live if family in c.scope]
    if covering:
        best = max(covering, key=lambda c: (c.expires_on, c.id))
        return Coverage(org, family, True, None, best.id,
                        f"consent {best.id} in force until {best.expires_on}")
    if live:
        c = live[0]
        return Coverage(org, family, False, "out-of-scope", c.id,
                        f"consent {c.id} of {org} covers {', '.join(c.scope)}, not {family}")
    expired = [c for c in mine if c.withdrawn_at is None]
    if expired:
        c = max(expired, key=lambda c: c.expires_on)
        return Coverage(org, family, False, "expired", c.id,
                        f"consent {c.id} of {org} expired on {c.expires_on}")
    c = max(mine, key=lambda c: c.withdrawn_at or "")
    return Coverage(org, family, False, "withdrawn", c.id,
                    f"consent {c.id} of {org} was withdrawn on {c.withdrawn_at}")


class ConsentView:
    """Consent of one agreement's parties to one trust on one day, memoized."""

    def __init__(self, state: AgreementState, trust_id: str, today: str) -> None:
        self.state = state
        self.trust_id = trust_id
        self.today = today
        self._memo: dict[tuple[str, str], Coverage] = {}
        self._own = frozenset(cid for cid, c in state.consents.items()
                              if c.trust_id == trust_id)

    @property
    def own(self) -> frozenset[str]:
        """The ids of the consents addressed to this trust (in force or not)."""
        return self._own

    def check(self, org: str, family: str) -> Coverage:
        key = (org, family)
        found = self._memo.get(key)
        if found is None:
            found = coverage(self.state, org, self.trust_id, family, self.today)
            self._memo[key] = found
        return found

    def visible(self, entry: Entry) -> bool:
        """May the trust receive this entry?"""
        return self.sees(entry.stream_kind, entry.actor, entry.family,
                         entry.data.get("consent_id"))

    def sees(self, stream_kind: str, actor: str, family: str, consent_id: object) -> bool:
        """May the trust receive an event of ``family`` signed by ``actor`` in a stream
        of ``stream_kind`` (``consent_id``: the one a consent event names)?"""
        if stream_kind == "org":
            return True
        if family == "consent" and consent_id in self._own:
            return True
        return self.check(actor, family).ok

    def withheld(self, entries: Iterable[Entry]) -> list[dict[str, Any]]:
        """The organizations and families whose events were left out, with the reason and
        how many events each."""
        counts: dict[tuple[str, str], int] = {}
        for e in entries:
            if not self.visible(e):
                counts[(e.actor, e.family)] = counts.get((e.actor, e.family), 0) + 1
        return [self.check(org, fam).to_json() | {"events": n}
                for (org, fam), n in sorted(counts.items())]

    def basis(self) -> list[dict[str, Any]]:
        """The consents to this trust, in force or not, as the export's basis."""
        out = []
        for cid in sorted(self._own):
            c = self.state.consents[cid]
            out.append({"consent_id": c.id, "organization": c.org, "purpose": c.purpose,
                        "scope": list(c.scope), "licence": c.licence,
                        "expires_on": c.expires_on, "given_at": c.given_at,
                        "withdrawn_at": c.withdrawn_at, "in_force": _in_force(c, self.today)})
        return out

    def summary(self, entries: Iterable[Entry]) -> dict[str, Any]:
        return {"trust_id": self.trust_id, "date": self.today, "basis": self.basis(),
                "withheld": self.withheld(entries)}
