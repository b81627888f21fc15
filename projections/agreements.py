"""The current agreement as rows: a pure function from a folded agreement to the rows of
every current-state table (``sql.TABLES``, same order, same columns).

Why one function for both paths: the runner writes the difference between an
agreement's rows before and after a page, the rebuild writes the rows of the final
states, and both call ``rows_of``; the two cannot disagree about what a state looks
like in the tables.

Values are converted for PostgreSQL here: actor-claimed times to ``datetime``, dates to
``date``, amounts to ``Decimal``. The domain's ``evolve`` does not re-check patterns, so
a value that is not a well-formed amount or date (possible only in a history the rules
never admitted) becomes ``None`` instead of failing the projection.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from ledger.domain import in_force, is_shared, stage_complete, state_hash, terms_pending
from ledger.domain.state import (
    AgreementState,
    Commitment,
    Fulfilment,
    Measure,
    addressees,
    receiving_orgs,
)
from ledger.domain.state_hash import expectation_hash
from ledger.domain.values import AMOUNT_PATTERN, DATE_PATTERN, STAGES, Quantity
from ledger.leaf import from_micros

from . import sql
from .fold import Tracked

__all__ = ["Rows", "agreement_status", "current_stage", "rows_of"]

#: One list of row tuples per table of ``sql.TABLES``.
Rows = tuple[list[tuple[Any, ...]], ...]

_AMOUNT: Final = re.compile(AMOUNT_PATTERN)
_DATE: Final = re.compile(DATE_PATTERN)
_ORDINAL: Final = {name: i for i, name in enumerate(STAGES, 1)}
_ZERO: Final = Decimal(0)

# Where each table's rows go in ``Rows`` (the order of ``sql.TABLES``).
(_AGREEMENTS, _PARTIES, _EXPECTATIONS, _EXPECTATION_ACKS, _ROLES, _COMMITMENTS, _RECEIVERS,
 _FULFILMENTS, _INDICATORS, _STAGES, _STAGE_ACKS, _RATIFICATIONS, _CONSENTS) = (
    sql.TABLES.index(t) for t in (
        sql.AGREEMENTS, sql.PARTIES, sql.EXPECTATIONS, sql.EXPECTATION_ACKS, sql.ROLES,
        sql.COMMITMENTS, sql.RECEIVERS, sql.FULFILMENTS, sql.INDICATORS, sql.STAGES,
        sql.STAGE_ACKS, sql.RATIFICATIONS, sql.CONSENTS))


def _ts(text: str | None) -> datetime | None:
    """An actor-claimed RFC 3339 UTC time (checked by the store) as a datetime."""
    return None if text is None else datetime.fromisoformat(text)


# Dates and amounts repeat (periods, usual quantities): their conversions are cached.
# The values are immutable; the caches are emptied when they grow past _CACHE_MAX.
_CACHE_MAX: Final = 4096
_days: dict[Any, date | None] = {}
_amounts: dict[Any, Decimal | None] = {}


def _day(text: Any) -> date | None:
    if not isinstance(text, str):
        return None
    try:
        return _days[text]
    except KeyError:
        pass
    value = None
    if _DATE.match(text):
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None
    if len(_days) >= _CACHE_MAX:
        _days.clear()
    _days[text] = value
    return value


def _dec(text: Any) -> Decimal | None:
    if not isinstance(text, str):
        return None
    try:
        return _amounts[text]
    except KeyError:
        pass
    value = Decimal(text) if _AMOUNT.match(text) else None
    if len(_amounts) >= _CACHE_MAX:
        _amounts.clear()
    _amounts[text] = value
    return value


def _value(q: Quantity | None) -> tuple[Decimal | None, str | None]:
    return (None, None) if q is None else (_dec(q.amount), q.unit)


def agreement_status(s: AgreementState) -> str:
    """draft, in_force, suspended or terminated (``absent`` before drafting)."""
    if s.status in ("absent", "suspended", "terminated"):
        return s.status
    return "in_force" if in_force(s) else "draft"


def current_stage(s: AgreementState) -> str | None:
    """The stage started last (stages may be taken in any order, and taken again)."""
    for m in reversed(s.timeline):
        if m.kind == "stage_started":
            return m.detail
    return None


def _agreement(aid: str, t: Tracked) -> tuple[Any, ...]:
    s = t.state
    return (aid, s.title, s.purpose, s.binding, s.public, agreement_status(s),
            s.status_reason or None, s.drafted_by, _ts(s.drafted_at), current_stage(s),
            len(s.parties), s.terms_version, state_hash(s), terms_pending(s),
            s.in_force_version, s.in_force_hash, _ts(s.in_force_since), t.last_version,
            t.last_position, from_micros(t.last_recorded_us))


def _parties(aid: str, t: Tracked) -> list[tuple[Any, ...]]:
    s, rows = t.state, []
    for org in {**s.parties, **s.invited, **s.former}:
        p, f = s.parties.get(org), s.former.get(org)
        status = "party" if p is not None else "invited" if org in s.invited else "former"
        rows.append((aid, org, status, t.inviters.get(org),
                     None if p is None else _ts(p.since),
                     None if p is None else p.porteur,
                     None if p is None else _ts(p.porteur_since),
                     None if f is None else _ts(f.left_at),
                     None if f is None else _day(f.effective_on),
                     None if f is None else f.reason))
    return rows


def _expectations(aid: str, s: AgreementState, rows: list[tuple[Any, ...]],
                  acks: list[tuple[Any, ...]]) -> None:
    for e in s.expectations.values():
        to = addressees(s, e)
        written = None if isinstance(e.addressed_to, str) else sorted(e.addressed_to)
        rows.append((aid, e.id, e.holder, e.text, written, to, e.revision,
                     expectation_hash(e), _ts(e.stated_at), e.withdrawn,
                     e.reason if e.withdrawn else None, is_shared(s, e),
                     sum(1 for o in to if o in e.acks), len(to)))
        acks.extend((aid, e.id, org, _ts(at), org in to) for org, at in e.acks.items())


def _fulfilment_status(f: Fulfilment) -> tuple[str, list[str], list[str]]:
    """contested if a receiver contests it, confirmed if one confirmed it, else recorded;
    and who confirmed and who contested it (sorted)."""
    confirmed: list[str] = []
    contested: list[str] = []
    for org, p in sorted(f.positions.items()):
        (contested if p.kind == "contested" else confirmed).append(org)
    status = "contested" if contested else "confirmed" if confirmed else "recorded"
    return status, confirmed, contested


def _commitment(aid: str, s: AgreementState, c: Commitment,
                done: tuple[int, Decimal, Decimal]) -> tuple[Any, ...]:
    count, fulfilled, confirmed = done
    amount = _dec(c.quantity.amount)
    status = ("withdrawn" if c.withdrawn
              else "fulfilled" if amount is not None and fulfilled >= amount else "active")
    fair = c.fair_value
    return (aid, c.id, c.provider, c.receiver, c.category, c.description, amount,
            c.quantity.unit, _day(c.period.start), _day(c.period.end), c.conditions,
            *_value(c.value),
            None if fair is None else _dec(fair.amount), None if fair is None else fair.unit,
            None if fair is None else fair.method,
            _ts(c.offered_at), c.amendments, status, c.reason if c.withdrawn else None,
            count, fulfilled, confirmed)


def _commitments(aid: str, s: AgreementState, out: Rows) -> None:
    commitments, receivers, fulfilments = out[_COMMITMENTS], out[_RECEIVERS], out[_FULFILMENTS]
    done: dict[str, tuple[int, Decimal, Decimal]] = {}
    for f in s.fulfilments.values():
        status, confirmed, contested = _fulfilment_status(f)
        fulfilments.append((aid, f.id, f.commitment_id, f.provider, _dec(f.quantity.amount),
                            f.quantity.unit, _day(f.period.start), _day(f.period.end), f.note,
                            f.evidence_sha256, _ts(f.recorded_at), status, confirmed,
                            contested))
        c = s.commitments.get(f.commitment_id)
        amount = _dec(f.quantity.amount)
        if c is None or amount is None or f.quantity.unit != c.quantity.unit:
            continue  # a fulfilment in a unit the commitment no longer has
        n, total, sure = done.get(c.id, (0, _ZERO, _ZERO))
        done[c.id] = (n + 1, total + amount,
                      sure + amount if status == "confirmed" else sure)
    for c in s.commitments.values():
        commitments.append(_commitment(aid, s, c, done.get(c.id, (0, _ZERO, _ZERO))))
        receiving = receiving_orgs(s, c)
        for org in {**dict.fromkeys(receiving), **c.receiver_values}:
            receivers.append((aid, c.id, org, org in receiving,
                              *_value(c.receiver_values.get(org))))


def _indicators(aid: str, s: AgreementState) -> list[tuple[Any, ...]]:
    latest: dict[str, Measure] = {}
    count: dict[str, int] = {}
    for m in s.measures.values():  # in the order they were recorded
        latest[m.indicator_id] = m
        count[m.indicator_id] = count.get(m.indicator_id, 0) + 1
    rows = []
    for i in s.indicators.values():
        lm = latest.get(i.id)
        last: tuple[Any, ...] = (None,) * 7 if lm is None else (
            lm.id, _dec(lm.value), _day(lm.period.start), _day(lm.period.end),
            lm.evidence_sha256, lm.by, _ts(lm.at))
        rows.append((aid, i.id, i.name, i.unit, i.method, _dec(i.target), i.defined_by,
                     _ts(i.defined_at), count.get(i.id, 0), *last))
    return rows


def _stages(aid: str, s: AgreementState, rows: list[tuple[Any, ...]],
            acks: list[tuple[Any, ...]]) -> None:
    for name, st in s.stages.items():
        rows.append((aid, name, _ORDINAL.get(name), st.round, _ts(st.started_at),
                     st.started_by, stage_complete(s, name), _ts(st.completed_at),
                     sum(1 for o in s.parties if o in st.acks)))
        acks.extend((aid, name, org, _ts(at), org in s.parties) for org, at in st.acks.items())


def _ratifications(aid: str, t: Tracked) -> list[tuple[Any, ...]]:
    force = {(x.org, x.terms_version) for x in t.state.in_force_signatures}
    return [(aid, sig.org, sig.terms_version, sig.state_hash, sig.key, sig.position,
             sig.stream_version, _ts(sig.at), (sig.org, sig.terms_version) in force)
            for sig in t.ratifications.values()]


def _consents(aid: str, s: AgreementState) -> list[tuple[Any, ...]]:
    return [(aid, c.id, c.org, c.trust_id, c.purpose, list(c.scope), c.licence,
             _day(c.expires_on), _ts(c.given_at), _ts(c.withdrawn_at),
             c.reason if c.withdrawn_at is not None else None)
            for c in s.consents.values()]


def rows_of(agreement_id: str, t: Tracked) -> Rows:
    """Every current-state row of one agreement; empty lists before it is drafted."""
    out: Rows = tuple([] for _ in sql.TABLES)
    s = t.state
    if s.status == "absent":
        return out
    out[_AGREEMENTS].append(_agreement(agreement_id, t))
    out[_PARTIES].extend(_parties(agreement_id, t))
    _expectations(agreement_id, s, out[_EXPECTATIONS], out[_EXPECTATION_ACKS])
    out[_ROLES].extend((agreement_id, r.id, r.name, r.description, r.assignee, r.proposed_by,
                        r.status, r.person, r.reason or None) for r in s.roles.values())
    _commitments(agreement_id, s, out)
    out[_INDICATORS].extend(_indicators(agreement_id, s))
    _stages(agreement_id, s, out[_STAGES], out[_STAGE_ACKS])
    out[_RATIFICATIONS].extend(_ratifications(agreement_id, t))
    out[_CONSENTS].extend(_consents(agreement_id, s))
    return out
