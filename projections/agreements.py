"""The current agreement as rows: pure functions from a folded agreement to the rows of
every current-state table (``sql.TABLES``, same order, same columns).

Why one definition for both paths: an agreement's rows are the rows of its *entities*
(its own row, each party, expectation with its acknowledgements, role, commitment with
its receivers, fulfilment, indicator, the stages, each ratification, consent), each
made by ``entity_rows``. The rebuild writes ``rows_of`` (every entity of the final
states); the runner asks each event which entities it ``touched`` and rewrites only
those (``scope`` says where their rows are), so an event costs the same in a young
agreement and in one with years of fulfilments. The two cannot disagree about what a
state looks like in the tables, and a property test holds them to it.

Values are converted for PostgreSQL here: actor-claimed times to ``datetime``, dates to
``date``, amounts to ``Decimal``. The domain's ``evolve`` does not re-check patterns, so
a value that is not a well-formed amount or date (possible only in a history the rules
never admitted) becomes ``None`` instead of failing the projection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from ledger.domain import Fact, in_force, is_shared, stage_complete, state_hash, terms_pending
from ledger.domain.state import (
    AgreementState,
    Commitment,
    Consent,
    Expectation,
    Fulfilment,
    Indicator,
    Ratification,
    Role,
    addressees,
    receiving_orgs,
)
from ledger.domain.state_hash import expectation_hash
from ledger.domain.values import DATE_PATTERN, STAGES, Quantity
from ledger.leaf import from_micros

from . import sql
from .fold import Tracked, amount, owner_before

__all__ = [
    "AGREEMENT",
    "ALL",
    "Entity",
    "Rows",
    "agreement_status",
    "current_stage",
    "empty_rows",
    "entities",
    "entity_rows",
    "rows_of",
    "scope",
    "touched",
]

#: One list of row tuples per table of ``sql.TABLES``.
Rows = tuple[list[tuple[Any, ...]], ...]

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


# Dates repeat (periods): their conversions are cached. The values are immutable; the
# cache is emptied when it grows past _CACHE_MAX.
_CACHE_MAX: Final = 4096
_days: dict[Any, date | None] = {}


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


_dec = amount


def _value(q: Quantity | None) -> tuple[Decimal | None, str | None]:
    return (None, None) if q is None else (_dec(q.amount), q.unit)


def agreement_status(s: AgreementState) -> str:
    """draft, in_force, suspended or terminated (``absent`` before drafting)."""
    if s.status in ("absent", "suspended", "terminated"):
        return s.status
    return "in_force" if in_force(s) else "draft"


def current_stage(s: AgreementState) -> str | None:
    """The stage started last (stages may be taken in any order, and taken again).

    A scan of the timeline, which grows with every event: the rows read ``Tracked.stage``
    instead, which the fold keeps (a test holds the two equal)."""
    for m in reversed(s.timeline):
        if m.kind == "stage_started":
            return m.detail
    return None


def _agreement(aid: str, t: Tracked) -> tuple[Any, ...]:
    s = t.state
    return (aid, s.title, s.purpose, s.binding, s.public, agreement_status(s),
            s.status_reason or None, s.drafted_by, _ts(s.drafted_at), t.stage,
            len(s.parties), s.terms_version, state_hash(s), terms_pending(s),
            s.in_force_version, s.in_force_hash, _ts(s.in_force_since), t.last_version,
            t.last_position, from_micros(t.last_recorded_us))


def _party(aid: str, t: Tracked, org: str) -> tuple[Any, ...]:
    s = t.state
    p, f = s.parties.get(org), s.former.get(org)
    status = "party" if p is not None else "invited" if org in s.invited else "former"
    return (aid, org, status, t.inviters.get(org),
            None if p is None else _ts(p.since),
            None if p is None else p.porteur,
            None if p is None else _ts(p.porteur_since),
            None if f is None else _ts(f.left_at),
            None if f is None else _day(f.effective_on),
            None if f is None else f.reason)


def _expectation(aid: str, s: AgreementState, e: Expectation, rows: list[tuple[Any, ...]],
                 acks: list[tuple[Any, ...]]) -> None:
    to = addressees(s, e)
    written = None if isinstance(e.addressed_to, str) else sorted(e.addressed_to)
    rows.append((aid, e.id, e.holder, e.text, written, to, e.revision,
                 expectation_hash(e), _ts(e.stated_at), e.withdrawn,
                 e.reason if e.withdrawn else None, is_shared(s, e),
                 sum(1 for o in to if o in e.acks), len(to)))
    acks.extend((aid, e.id, org, _ts(at), org in to) for org, at in e.acks.items())


def _role(aid: str, r: Role) -> tuple[Any, ...]:
    return (aid, r.id, r.name, r.description, r.assignee, r.proposed_by, r.status, r.person,
            r.reason or None)


def _fulfilment_status(f: Fulfilment) -> tuple[str, list[str], list[str]]:
    """contested if a receiver contests it, confirmed if one confirmed it, else recorded;
    and who confirmed and who contested it (sorted)."""
    confirmed: list[str] = []
    contested: list[str] = []
    for org, p in sorted(f.positions.items()):
        (contested if p.kind == "contested" else confirmed).append(org)
    status = "contested" if contested else "confirmed" if confirmed else "recorded"
    return status, confirmed, contested


def _fulfilment(aid: str, f: Fulfilment) -> tuple[Any, ...]:
    status, confirmed, contested = _fulfilment_status(f)
    return (aid, f.id, f.commitment_id, f.provider, _dec(f.quantity.amount), f.quantity.unit,
            _day(f.period.start), _day(f.period.end), f.note, f.evidence_sha256,
            _ts(f.recorded_at), status, confirmed, contested)


def _done(t: Tracked, c: Commitment) -> tuple[int, Decimal, Decimal]:
    """How many fulfilments count towards ``c`` (those in its current unit), their total
    and the confirmed part of it (``Tracked`` keeps the tallies as it folds)."""
    tally = t.tallies.get(c.id, {}).get(c.quantity.unit)
    return (0, _ZERO, _ZERO) if tally is None else (tally.count, tally.total, tally.confirmed)


def _commitment(aid: str, t: Tracked, c: Commitment, rows: list[tuple[Any, ...]],
                receivers: list[tuple[Any, ...]]) -> None:
    count, fulfilled, confirmed = _done(t, c)
    amount = _dec(c.quantity.amount)
    status = ("withdrawn" if c.withdrawn
              else "fulfilled" if amount is not None and fulfilled >= amount else "active")
    fair = c.fair_value
    rows.append((aid, c.id, c.provider, c.receiver, c.category, c.description, amount,
                 c.quantity.unit, _day(c.period.start), _day(c.period.end), c.conditions,
                 *_value(c.value),
                 None if fair is None else _dec(fair.amount),
                 None if fair is None else fair.unit, None if fair is None else fair.method,
                 _ts(c.offered_at), c.amendments, status, c.reason if c.withdrawn else None,
                 count, fulfilled, confirmed))
    receiving = receiving_orgs(t.state, c)
    for org in {**dict.fromkeys(receiving), **c.receiver_values}:
        receivers.append((aid, c.id, org, org in receiving,
                          *_value(c.receiver_values.get(org))))


def _indicator(aid: str, t: Tracked, i: Indicator) -> tuple[Any, ...]:
    measures = t.measures_of.get(i.id) or {}
    lm = t.state.measures[next(reversed(measures))] if measures else None
    last: tuple[Any, ...] = (None,) * 7 if lm is None else (
        lm.id, _dec(lm.value), _day(lm.period.start), _day(lm.period.end),
        lm.evidence_sha256, lm.by, _ts(lm.at))
    return (aid, i.id, i.name, i.unit, i.method, _dec(i.target), i.defined_by,
            _ts(i.defined_at), len(measures), *last)


def _stages(aid: str, s: AgreementState, rows: list[tuple[Any, ...]],
            acks: list[tuple[Any, ...]]) -> None:
    for name, st in s.stages.items():
        rows.append((aid, name, _ORDINAL.get(name), st.round, _ts(st.started_at),
                     st.started_by, stage_complete(s, name), _ts(st.completed_at),
                     sum(1 for o in s.parties if o in st.acks)))
        acks.extend((aid, name, org, _ts(at), org in s.parties) for org, at in st.acks.items())


def _ratification(aid: str, t: Tracked, sig: Ratification) -> tuple[Any, ...]:
    in_force = any(x.org == sig.org and x.terms_version == sig.terms_version
                   for x in t.state.in_force_signatures)
    return (aid, sig.org, sig.terms_version, sig.state_hash, sig.key, sig.position,
            sig.stream_version, _ts(sig.at), in_force)


def _consent(aid: str, c: Consent) -> tuple[Any, ...]:
    return (aid, c.id, c.org, c.trust_id, c.purpose, list(c.scope), c.licence,
            _day(c.expires_on), _ts(c.given_at), _ts(c.withdrawn_at),
            c.reason if c.withdrawn_at is not None else None)


# --- entities: the one definition of what a state looks like in the tables -----------

#: Something of an agreement that has rows: ``(kind, *key)``. ``("all",)`` stands for
#: every row of the agreement.
Entity = tuple[Any, ...]
ALL: Final[Entity] = ("all",)
AGREEMENT: Final[Entity] = ("agreement",)
STAGES_OF: Final[Entity] = ("stages",)

#: Per kind, the tables its rows are in (indexes into ``sql.TABLES``). An entity's rows
#: in a table are those whose key starts with ``(agreement_id, *entity[1:])``.
_SCOPES: Final[dict[str, tuple[int, ...]]] = {
    "all": tuple(range(len(sql.TABLES))),
    "agreement": (_AGREEMENTS,),
    "party": (_PARTIES,),
    "expectation": (_EXPECTATIONS, _EXPECTATION_ACKS),
    "role": (_ROLES,),
    "commitment": (_COMMITMENTS, _RECEIVERS),
    "fulfilment": (_FULFILMENTS,),
    "indicator": (_INDICATORS,),
    "stages": (_STAGES, _STAGE_ACKS),
    "ratification": (_RATIFICATIONS,),
    "consent": (_CONSENTS,),
}


def scope(agreement_id: str, entity: Entity) -> tuple[tuple[int, tuple[Any, ...]], ...]:
    """Where ``entity``'s rows are: (table index, leading key values) pairs. Deleting
    the rows these select and inserting ``entity_rows`` writes the entity afresh."""
    key = (agreement_id, *entity[1:])
    return tuple((table, key) for table in _SCOPES[entity[0]])


def entities(t: Tracked) -> list[Entity]:
    """Every entity of ``t`` with rows (none before the agreement is drafted)."""
    s = t.state
    if s.status == "absent":
        return []
    return [AGREEMENT,
            *(("party", org) for org in {**s.parties, **s.invited, **s.former}),
            *(("expectation", e) for e in s.expectations),
            *(("role", r) for r in s.roles),
            *(("commitment", c) for c in s.commitments),
            *(("fulfilment", f) for f in s.fulfilments),
            *(("indicator", i) for i in s.indicators),
            STAGES_OF,
            *(("ratification", *key) for key in t.ratifications),
            *(("consent", c) for c in s.consents)]


def entity_rows(agreement_id: str, t: Tracked, entity: Entity, out: Rows) -> None:
    """Append the current rows of ``entity`` to ``out`` (none if it does not exist, or
    before the agreement is drafted)."""
    s, kind, aid = t.state, entity[0], agreement_id
    if s.status == "absent":
        return
    if kind == "all":
        for each in entities(t):
            entity_rows(aid, t, each, out)
    elif kind == "agreement":
        out[_AGREEMENTS].append(_agreement(aid, t))
    elif kind == "party":
        if entity[1] in s.parties or entity[1] in s.invited or entity[1] in s.former:
            out[_PARTIES].append(_party(aid, t, entity[1]))
    elif kind == "expectation":
        if (e := s.expectations.get(entity[1])) is not None:
            _expectation(aid, s, e, out[_EXPECTATIONS], out[_EXPECTATION_ACKS])
    elif kind == "role":
        if (r := s.roles.get(entity[1])) is not None:
            out[_ROLES].append(_role(aid, r))
    elif kind == "commitment":
        if (c := s.commitments.get(entity[1])) is not None:
            _commitment(aid, t, c, out[_COMMITMENTS], out[_RECEIVERS])
    elif kind == "fulfilment":
        if (f := s.fulfilments.get(entity[1])) is not None:
            out[_FULFILMENTS].append(_fulfilment(aid, f))
    elif kind == "indicator":
        if (i := s.indicators.get(entity[1])) is not None:
            out[_INDICATORS].append(_indicator(aid, t, i))
    elif kind == "stages":
        _stages(aid, s, out[_STAGES], out[_STAGE_ACKS])
    elif kind == "ratification":
        if (sig := t.ratifications.get((entity[1], entity[2]))) is not None:
            out[_RATIFICATIONS].append(_ratification(aid, t, sig))
    elif kind == "consent":
        if (k := s.consents.get(entity[1])) is not None:
            out[_CONSENTS].append(_consent(aid, k))
    else:
        raise ValueError(f"no such entity kind: {kind!r}")


def empty_rows() -> Rows:
    """One empty list per table of ``sql.TABLES``."""
    return tuple([] for _ in sql.TABLES)


def rows_of(agreement_id: str, t: Tracked) -> Rows:
    """Every current-state row of one agreement; empty lists before it is drafted."""
    out = empty_rows()
    entity_rows(agreement_id, t, ALL, out)
    return out


# --- what an event touches --------------------------------------------------------------

def _ratified(fact: Fact, s: AgreementState) -> set[Entity]:
    """The signature, and every ratification whose "in force" mark it may change: those
    in force before, and the parties' latest (the set that comes into force, if any)."""
    out: set[Entity] = {("ratification", fact.actor, fact.data["terms_version"])}
    out.update(("ratification", x.org, x.terms_version) for x in s.in_force_signatures)
    for org in s.parties:
        sig = s.signatures.get(org)
        if sig is not None:
            out.add(("ratification", sig.org, sig.terms_version))
    return out


def _fulfilment_touch(fact: Fact, s: AgreementState) -> set[Entity]:
    fid = fact.data["fulfilment_id"]
    out: set[Entity] = {("fulfilment", fid)}
    if fact.type == "fulfilment.recorded":
        out.add(("commitment", fact.data["commitment_id"]))
    owner = (owner_before(s, fact) if fact.type == "fulfilment.recorded"
             else getattr(s.fulfilments.get(fid), "commitment_id", None))
    if owner is not None:
        out.add(("commitment", owner))
    return out


def _measured(fact: Fact, s: AgreementState) -> set[Entity]:
    out: set[Entity] = {("indicator", fact.data["indicator_id"])}
    owner = owner_before(s, fact)
    if owner is not None:
        out.add(("indicator", owner))
    return out


def _by(kind: str, member: str) -> Callable[[Fact, AgreementState], set[Entity]]:
    return lambda fact, s: {(kind, fact.data[member])}


def _only(*touched: Entity) -> Callable[[Fact, AgreementState], set[Entity]]:
    return lambda fact, s: set(touched)


#: Per event type, what it may change besides the agreement's own row, given the state
#: before it. Events that change who the parties are change many things (addressees,
#: receivers, stage completion): they rewrite the whole agreement, and they are few.
_TOUCHES: Final[dict[str, Callable[[Fact, AgreementState], set[Entity]]]] = {
    "agreement.drafted": _only(ALL),
    "agreement.revised": _only(),
    "agreement.visibility_changed": _only(),
    "agreement.suspended": _only(),
    "agreement.resumed": _only(),
    "agreement.terminated": _only(),
    "agreement.ratified": _ratified,
    "party.invited": _by("party", "org"),
    "party.joined": _only(ALL),
    "party.withdrew": _only(ALL),
    "porteur.named": lambda fact, s: {("party", fact.actor)},
    "role.proposed": _by("role", "role_id"),
    "role.accepted": _by("role", "role_id"),
    "role.declined": _by("role", "role_id"),
    "role.relinquished": _by("role", "role_id"),
    "expectation.stated": _by("expectation", "expectation_id"),
    "expectation.revised": _by("expectation", "expectation_id"),
    "expectation.withdrawn": _by("expectation", "expectation_id"),
    "expectation.acknowledged": _by("expectation", "expectation_id"),
    "commitment.offered": _by("commitment", "commitment_id"),
    "commitment.amended": _by("commitment", "commitment_id"),
    "commitment.withdrawn": _by("commitment", "commitment_id"),
    "commitment.received_value_declared": _by("commitment", "commitment_id"),
    "fulfilment.recorded": _fulfilment_touch,
    "fulfilment.confirmed": _fulfilment_touch,
    "fulfilment.contested": _fulfilment_touch,
    "stage.started": _only(STAGES_OF),
    "stage.completion_acknowledged": _only(STAGES_OF),
    "indicator.defined": _by("indicator", "indicator_id"),
    "indicator.measured": _measured,
    "consent.given": _by("consent", "consent_id"),
    "consent.withdrawn": _by("consent", "consent_id"),
}


def touched(fact: Fact, before: AgreementState) -> set[Entity]:
    """The entities whose rows ``fact`` may change if the domain applies it, given the
    state ``before`` it (read, never changed). Always the agreement's row (its version
    and position move even when the domain cannot read the event); ``ALL`` for an event
    this table does not know. Pure: the same event and state give the same answer."""
    how = _TOUCHES.get(fact.type)
    if how is None:
        return {AGREEMENT, ALL}
    try:
        return {AGREEMENT, *how(fact, before)}
    except (KeyError, TypeError, AttributeError):  # data the domain will not read either
        return {AGREEMENT, ALL}
