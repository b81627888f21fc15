"""``GET /v1/organizations/{org_id}/commitments``: an organization's portfolio.

Every commitment the organization gives (as provider) or receives (as the receiver, or
as a current party other than the provider of a commitment to the collective), across
the agreements it took part in, each computed by folding the agreement's own events.

Values stay with whoever declared them, never added across parties: a commitment shows
the provider's declared value, each receiving organization's own declared value and
the fair-value estimate side by side. The totals per unit add up, over commitments not
withdrawn, only the organization's *own* declarations: for what it gives, the values it
declared as provider; for what it receives, the values it declared as receiver.

Fulfilment totals are in the commitment's unit (the rules require it): ``recorded`` is
every fulfilment the provider recorded, ``confirmed`` those every receiving
organization confirmed, ``contested`` those some receiving organization contested.

Which agreements: those in which the organization signed at least one event (for a
trust token, only those whose every event a consent to it covers: ``ledger.access``). That is
all of them, since only a party can be named receiver, and one becomes a party only by
signing the draft or a join.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import PathParameter
from msgspec import Meta

from ledger.access import Reader, agreement_access
from ledger.domain import AgreementState
from ledger.domain.state import Commitment, receiving_orgs
from ledger.domain.values import COLLECTIVE, FairValue, Quantity
from ledger.errors import NotFound
from ledger.reads import Reads
from ledger.statement import ORG_ID_PATTERN

from ..auth import reader, require_org_reader, today
from ..problems import problem_responses
from .agreements import CurrentStates, current_states, seen, whole_stream

__all__ = ["PortfolioController"]

Amount = Annotated[str, Meta(description="decimal string, e.g. \"18000\" or \"12.5\"")]


class QuantityOut(msgspec.Struct):
    amount: Amount
    unit: str


class FairValueOut(msgspec.Struct):
    amount: Amount
    unit: str
    method: str


class PeriodOut(msgspec.Struct):
    start: Annotated[str, Meta(description="YYYY-MM-DD, inclusive")]
    end: Annotated[str, Meta(description="YYYY-MM-DD, inclusive")]


class FulfilmentTotals(msgspec.Struct):
    count: int
    recorded: Annotated[QuantityOut, Meta(description="every recorded fulfilment")]
    confirmed: Annotated[QuantityOut, Meta(
        description="fulfilments every receiving organization confirmed")]
    contested: Annotated[QuantityOut, Meta(
        description="fulfilments some receiving organization contested")]


class PortfolioCommitment(msgspec.Struct):
    agreement_id: str
    agreement_status: str
    commitment_id: str
    role: Annotated[Literal["provider", "receiver"], Meta(
        description="the organization's side of this commitment")]
    provider: str
    receiver: Annotated[str, Meta(description="an organization, or \"collective\"")]
    category: str
    description: str
    quantity: QuantityOut
    period: PeriodOut
    provider_value: Annotated[QuantityOut | None, Meta(
        description="the value the provider declared for what it gives")]
    receiver_values: Annotated[dict[str, QuantityOut], Meta(
        description="each receiving organization's own declared value of what it "
                    "receives (organization -> value)")]
    fair_value: Annotated[FairValueOut | None, Meta(
        description="the provider's estimate for funders; not a declared value")]
    withdrawn: bool
    fulfilment: FulfilmentTotals


class PortfolioTotals(msgspec.Struct):
    given: Annotated[dict[str, Amount], Meta(
        description="unit -> sum of the values the organization declared as provider")]
    received: Annotated[dict[str, Amount], Meta(
        description="unit -> sum of the values the organization declared as receiver")]


class Portfolio(msgspec.Struct):
    org_id: str
    given: list[PortfolioCommitment]
    received: list[PortfolioCommitment]
    totals: Annotated[PortfolioTotals, Meta(
        description="over commitments not withdrawn; each side's own declarations only")]


def _amount(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _q(q: Quantity) -> QuantityOut:
    return QuantityOut(q.amount, q.unit)


def _fair(f: FairValue | None) -> FairValueOut | None:
    return None if f is None else FairValueOut(f.amount, f.unit, f.method)


def fulfilment_totals(state: AgreementState, cm: Commitment) -> FulfilmentTotals:
    receivers = receiving_orgs(state, cm)
    count, recorded, confirmed, contested = 0, Decimal(0), Decimal(0), Decimal(0)
    for ful in state.fulfilments.values():
        if ful.commitment_id != cm.id:
            continue
        amount = Decimal(ful.quantity.amount)
        count += 1
        recorded += amount
        kinds = [p.kind for org, p in ful.positions.items() if org in receivers]
        if receivers and len(kinds) == len(receivers) and set(kinds) == {"confirmed"}:
            confirmed += amount
        if "contested" in kinds:
            contested += amount
    unit = cm.quantity.unit
    return FulfilmentTotals(count, QuantityOut(_amount(recorded), unit),
                            QuantityOut(_amount(confirmed), unit),
                            QuantityOut(_amount(contested), unit))


def _entry(state: AgreementState, cm: Commitment, role: Literal["provider", "receiver"],
           ) -> PortfolioCommitment:
    return PortfolioCommitment(
        agreement_id=state.agreement_id, agreement_status=state.status, commitment_id=cm.id,
        role=role, provider=cm.provider, receiver=cm.receiver, category=cm.category,
        description=cm.description, quantity=_q(cm.quantity),
        period=PeriodOut(cm.period.start, cm.period.end),
        provider_value=None if cm.value is None else _q(cm.value),
        receiver_values={org: _q(v) for org, v in sorted(cm.receiver_values.items())},
        fair_value=_fair(cm.fair_value), withdrawn=cm.withdrawn,
        fulfilment=fulfilment_totals(state, cm))


def _receives(state: AgreementState, cm: Commitment, org_id: str) -> bool:
    if cm.receiver == COLLECTIVE:
        return org_id in receiving_orgs(state, cm)
    return cm.receiver == org_id


def portfolio_of(org_id: str, states: list[AgreementState]) -> Portfolio:
    """The organization's commitments in these agreements, and its own totals."""
    given: list[PortfolioCommitment] = []
    received: list[PortfolioCommitment] = []
    given_total: defaultdict[str, Decimal] = defaultdict(Decimal)
    received_total: defaultdict[str, Decimal] = defaultdict(Decimal)
    for state in states:
        for cm in state.commitments.values():
            if cm.provider == org_id:
                given.append(_entry(state, cm, "provider"))
                if not cm.withdrawn and cm.value is not None:
                    given_total[cm.value.unit] += Decimal(cm.value.amount)
            elif _receives(state, cm, org_id):
                received.append(_entry(state, cm, "receiver"))
                own = cm.receiver_values.get(org_id)
                if not cm.withdrawn and own is not None:
                    received_total[own.unit] += Decimal(own.amount)
    return Portfolio(org_id, given, received, PortfolioTotals(
        {u: _amount(v) for u, v in sorted(given_total.items())},
        {u: _amount(v) for u, v in sorted(received_total.items())}))


async def portfolio_states(reads: Reads, cache: CurrentStates, who: Reader, day: str,
                           org_id: str, *, guarded: bool) -> list[AgreementState]:
    """The agreements of ``org_id`` its portfolio adds up for ``who``.

    ``guarded``: the reader passed the route's guard (the organization's own token, an
    auditor, a trust): every agreement of the organization counts, except that a trust
    gets only those its consents cover entirely. Otherwise (the register page for any
    other reader) only the agreements the policy grants the reader whole (public ones,
    or those its token reads) count: never more than the agreement routes answer.
    Each state comes from the app's kept states (snapshots, never a whole refold on
    the request path); only a trust's check reads the stream's events."""
    states = []
    for stream in await reads.agreement_streams_of(org_id):
        state = (await cache.get(reads, stream.removeprefix("agreement/"))).state
        if (who.kind == "trust" or not guarded) and not agreement_access(
                who, state, [seen(e) for e in await whole_stream(reads, stream)]
                if who.kind == "trust" else [], day).whole:
            continue
        states.append(state)
    return states


class PortfolioController(Controller):
    path = "/v1/organizations"
    tags = ("organizations",)

    @get(
        "/{org_id:str}/commitments",
        operation_id="GetOrganizationCommitments",
        summary="An organization's commitments, given and received, across agreements",
        description=(
            "Folded from the agreements' events. Each commitment keeps the provider's "
            "declared value, each receiver's declared value and the fair value apart; "
            "the totals per unit add only the organization's own declarations (as "
            "provider for given, as receiver for received), over commitments not "
            "withdrawn. Readable with the organization's own token, an auditor token, or "
            "a trust token (then only from the agreements whose every event a consent "
            "in force covers)."
        ),
        guards=[require_org_reader("org_id")],
        responses=problem_responses(400, 401, 403, 404, 503),
    )
    async def commitments(
        self, request: Request[Any, Any, Any], reads: NamedDependency[Reads],
        org_id: Annotated[str, PathParameter(pattern=ORG_ID_PATTERN,
                                             description="organization id")],
    ) -> Portfolio:
        if (await reads.head(f"org/{org_id}")).version == 0:
            raise NotFound(f"no organization {org_id!r} is registered", field="org_id")
        states = await portfolio_states(reads, current_states(request), await reader(request),
                                        today(), org_id,
                                        guarded=True)
        return portfolio_of(org_id, states)
