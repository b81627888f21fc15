"""What an event touches covers everything it changes: for long random histories (rogue
events and events the domain cannot read included), folding one event at a time, every
row that differs between the agreement's rows before and after the event lies where the
entities ``touched`` names keep their rows, and an agreement's rows are exactly the rows
of its entities, each within its own scope; the running tallies equal a scan of the
whole state (and the stage started last, the timeline's). No database: this is the contract the
runner's writes rely on (the rebuild-equivalence tests check the tables themselves)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings

from ledger.projections import sql
from ledger.projections.agreements import (
    AGREEMENT,
    Entity,
    current_stage,
    empty_rows,
    entities,
    entity_rows,
    rows_of,
    scope,
    touched,
)
from ledger.projections.fold import (
    AGREEMENT_PREFIX,
    Tracked,
    amount,
    decode_fact,
    fold_fact,
    is_confirmed,
)
from tests.projections.builders import World
from tests.projections.histories import ORGS, Step, apply_steps, long_steps, steps


def _within(row: tuple[Any, ...], table: int, scopes: set[tuple[int, tuple[Any, ...]]]) -> bool:
    return any((table, row[:n]) in scopes for n in range(1, sql.TABLES[table].key_len + 1))


def _scopes(aid: str, touched_: set[Entity]) -> set[tuple[int, tuple[Any, ...]]]:
    return {where for e in touched_ for where in scope(aid, e)}


def _fold_checking(w: World) -> int:
    """Fold the queued events one by one, checking each; the events checked."""
    states: dict[str, Tracked] = {}
    checked = 0
    for n, env in enumerate(w.queue):
        stream = msgspec.json.decode(env.payload_bytes())["stream"]
        if not stream.startswith(AGREEMENT_PREFIX):
            continue
        aid = stream[len(AGREEMENT_PREFIX):]
        t = states.setdefault(aid, Tracked())
        fact = decode_fact(env.payload_bytes(), n)
        before = rows_of(aid, t)
        may = touched(fact, t.state)
        applied = fold_fact(t, aid, fact, 0)[3]
        after = rows_of(aid, t)
        scopes = _scopes(aid, may if applied else {AGREEMENT})
        for table, (old, new) in enumerate(zip(before, after, strict=True)):
            was, now = {repr(r): r for r in old}, {repr(r): r for r in new}
            for row in [r for k, r in was.items() if k not in now] + [
                    r for k, r in now.items() if k not in was]:
                assert _within(row, table, scopes), (fact.type, sql.TABLES[table].name, row)
        checked += 1
        _tallies_are_sums(t)
    for aid, t in states.items():
        _entities_partition_the_rows(aid, t)
    return checked


def _tallies_are_sums(t: Tracked) -> None:
    """What the fold keeps as it goes equals what a scan of the whole state gives: each
    commitment's fulfilments in its unit, total and confirmed part (same value and
    scale), each indicator's measures and the latest of them."""
    s = t.state
    assert t.stage == current_stage(s)
    for c in s.commitments.values():
        mine = [f for f in s.fulfilments.values() if f.commitment_id == c.id
                and f.quantity.unit == c.quantity.unit and amount(f.quantity.amount) is not None]
        total = sum((amount(f.quantity.amount) or 0 for f in mine), Decimal(0))
        sure = sum((amount(f.quantity.amount) or 0 for f in mine if is_confirmed(f)),
                   Decimal(0))
        tally = t.tallies.get(c.id, {}).get(c.quantity.unit)
        got = (0, Decimal(0), Decimal(0)) if tally is None else (
            tally.count, tally.total, tally.confirmed)
        assert [str(x) for x in got] == [str(len(mine)), str(total), str(sure)], c.id
    for i in s.indicators:
        measures = [m.id for m in s.measures.values() if m.indicator_id == i]
        assert sorted(t.measures_of.get(i, {})) == sorted(measures), i


def _entities_partition_the_rows(aid: str, t: Tracked) -> None:
    union = empty_rows()
    for e in entities(t):
        mine = empty_rows()
        entity_rows(aid, t, e, mine)
        where = _scopes(aid, {e})
        for table, rows in enumerate(mine):
            assert all(_within(r, table, where) for r in rows), (e, table)
            union[table].extend(rows)
    whole = rows_of(aid, t)
    for table in range(len(sql.TABLES)):
        assert sorted(map(repr, union[table])) == sorted(map(repr, whole[table]))
        keys = [r[:sql.TABLES[table].key_len] for r in whole[table]]
        assert len(keys) == len(set(keys)), sql.TABLES[table].name  # no row twice


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=steps)
def test_touched_covers_every_change_of_short_histories(drawn: list[Step]) -> None:
    w = World(ORGS, seed=40)
    w.registrations()
    apply_steps(w, "h", drawn)
    _fold_checking(w)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=long_steps)
def test_touched_covers_every_change_of_long_histories(drawn: list[Step]) -> None:
    w = World(ORGS, seed=41)
    w.registrations()
    assert apply_steps(w, "long", drawn) > 0
    assert _fold_checking(w) > 0


def test_rogue_records_move_between_commitments_and_indicators() -> None:
    """A fulfilment recorded again for another commitment leaves the first one's totals
    (and a measure its first indicator's count): both rows are touched."""
    w = World(ORGS, seed=42)
    w.registrations()
    history: list[Step] = [
        (0, "offer", 1, 0), (0, "join", 0, 1), (0, "offer", 2, 0), (0, "offer", 1, 1),
        (0, "offer", 3, 0), (0, "fulfil", 1, 0),
        (0, "define_indicator", 0, 0), (0, "define_indicator", 1, 0), (0, "measure", 0, 0),
        (0, "rogue", 1, 0), (0, "rogue", 0, 0)]
    apply_steps(w, "r", history)
    records = [(p["type"], p["data"].get("fulfilment_id") or p["data"].get("measurement_id"),
                p["data"].get("commitment_id") or p["data"].get("indicator_id"))
               for p in (msgspec.json.decode(e.payload_bytes()) for e in w.queue)
               if p["type"] in ("fulfilment.recorded", "indicator.measured")]
    assert records == [("fulfilment.recorded", "f1", "c1"), ("indicator.measured", "m0", "i0"),
                       ("fulfilment.recorded", "f1", "c2"), ("indicator.measured", "m0", "i1")]
    _fold_checking(w)
