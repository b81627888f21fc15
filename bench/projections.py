"""Read-model rebuild speed: replay a realistic log of signed agreement events.

Builds a log of at least ``--events`` agreement events (default 100,000): many
agreements, each with a realistic life decided by the domain (drafted, joined, porteurs,
expectations and acknowledgements, roles, commitments with both sides' declared values,
indicators, the six stages, consents, ratification by every party, then months of
fulfilments with confirmations and the odd contest, measures, a revision with a new
ratification round). Every event is signed and appended through the store, in large
batches, interleaved across agreements as a busy ledger would be.

Then it prints:

* the rebuild rate of every read model from position 0 (events/s, best of ``--runs``,
  with the Python CPU time of that run: on a busy machine the wall time also holds the
  server's work and the wait for a free core);
* the incremental runner's catch-up rate over the same log (events/s);
* the in-memory fold rate of one long agreement: the domain's ``fold``; the projection's
  ``apply_fact`` (which also keeps the ratification record); and ``fold_event`` from the
  payload bytes (decode, fold and history summary, the per-event path of a rebuild).

Run: python bench/projections.py [--events N] [--runs R]
"""

from __future__ import annotations

import os
import sys

# This script is named projections.py, which would shadow the ``projections`` package:
# put the repository first and this folder (for _setup.py) last on the search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
sys.path[:] = [_ROOT] + [p for p in sys.path
                         if os.path.abspath(p or ".") not in (_HERE, _ROOT)] + [_HERE]

import argparse
import asyncio
import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
from _setup import LEDGER_ID, admin_dsn, fresh_database, machine, signers

import ledger.domain as d
from ledger.admission import Limits
from ledger.db import connect_pool
from ledger.domain import Fact, decide, evolve, expectation_hash, fold, state_hash
from ledger.domain.state import AgreementState, receiving_orgs
from ledger.domain.values import STAGES, FairValue, Period, Quantity
from ledger.envelope import Envelope
from ledger.signer import Signer
from ledger.statement import event_hash
from ledger.store import PostgresStore
from projections import ProjectionRunner, rebuild
from projections.fold import Tracked, apply_fact, fold_event

ORGS = 60
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Decided = tuple[str, str, dict[str, Any], str]  # actor, type, data, issued_at


class Life:
    """One agreement's history, decided command by command against its own state."""

    def __init__(self, agreement_id: str, parties: list[str], rng: random.Random,
                 start: datetime) -> None:
        self.id, self.parties, self.rng = agreement_id, parties, rng
        self.state = d.initial_state()
        self.now = start
        self.events: list[Decided] = []

    def at(self) -> str:
        self.now += timedelta(minutes=self.rng.randint(5, 600))
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    def do(self, make: Callable[[str], Any]) -> None:
        command = make(self.at())
        for e in decide(command, self.state):
            self.events.append((command.actor, e.type, e.data, command.at))
            fact = Fact(e.type, e.data, command.actor, command.at, len(self.events))
            self.state = evolve(self.state, fact)

    def ratify_all(self) -> None:
        for org in sorted(self.state.parties):
            s: AgreementState = self.state
            self.do(lambda at, org=org, s=s: d.RatifyAgreement(
                terms_version=s.terms_version, state_hash=state_hash(s), actor=org, at=at))

    def acknowledge_all(self, eid: str) -> None:
        e = self.state.expectations[eid]
        for org in sorted(self.state.parties):
            if org == e.holder:
                continue
            self.do(lambda at, org=org: d.AcknowledgeExpectation(
                expectation_id=eid, content_hash=expectation_hash(
                    self.state.expectations[eid]), actor=org, at=at))


def _founding(life: Life) -> None:
    rng, (first, *others) = life.rng, life.parties
    life.do(lambda at: d.DraftAgreement(
        agreement_id=life.id, title=f"Mutualisation {life.id}", binding=rng.random() < 0.3,
        purpose="Partager nos locaux, nos équipements et notre expertise au service "
                "du quartier.", invited=others, actor=first, at=at))
    for org in others:
        life.do(lambda at, org=org: d.JoinAgreement(actor=org, at=at))
    for i, org in enumerate(life.parties):
        life.do(lambda at, org=org, i=i: d.NamePorteur(person_id=f"p-{i}", actor=org, at=at))
    for org in life.parties:
        life.do(lambda at, org=org: d.StateExpectation(
            expectation_id=f"e-{org}", text=f"{org} souhaite une rencontre par mois.",
            actor=org, at=at))
        life.acknowledge_all(f"e-{org}")
    life.do(lambda at: d.ProposeRole(role_id="coordination", name="Coordination",
                                     description="Animer les rencontres", assignee=others[0],
                                     actor=first, at=at))
    life.do(lambda at: d.AcceptRole(role_id="coordination", person_id="p-1",
                                    actor=others[0], at=at))
    _commitments(life)
    for name, unit in (("heures", "hour"), ("participants", "person")):
        life.do(lambda at, name=name, unit=unit: d.DefineIndicator(
            indicator_id=name, name=name.title(), unit=unit, method="Somme mensuelle",
            target="100", actor=first, at=at))
    for stage in STAGES:
        life.do(lambda at, stage=stage: d.StartStage(stage=stage, actor=first, at=at))
        for org in life.parties:
            life.do(lambda at, org=org, stage=stage: d.AcknowledgeStageCompletion(
                stage=stage, actor=org, at=at))
    for org in life.parties:
        life.do(lambda at, org=org: d.GiveConsent(
            consent_id=f"k-{org}", trust_id="culturepedia", purpose="Statistiques",
            scope=["indicator", "commitment"], licence="CC BY 4.0", expires_on="2030-12-31",
            actor=org, at=at))
    life.ratify_all()


def _commitments(life: Life) -> None:
    rng, parties = life.rng, life.parties
    for i, org in enumerate(parties):
        nxt = parties[(i + 1) % len(parties)]
        for cid, receiver, category, qty, unit in (
                (f"c-{org}-1", "collective", "premises", "40", "hour"),
                (f"c-{org}-2", nxt, "equipment", "12", "month")):
            life.do(lambda at, cid=cid, receiver=receiver, category=category, qty=qty,
                    unit=unit, org=org: d.OfferCommitment(
                commitment_id=cid, category=category, description="Salle et matériel",
                quantity=Quantity(qty, unit), period=Period("2026-01-01", "2026-12-31"),
                receiver=receiver, value=Quantity(str(rng.randint(100, 5000)), "CAD"),
                fair_value=(FairValue(str(rng.randint(100, 5000)), "CAD", "market")
                            if rng.random() < 0.5 else None), actor=org, at=at))
            _declare_values(life, cid)


def _declare_values(life: Life, cid: str) -> None:
    cm = life.state.commitments[cid]
    for org in receiving_orgs(life.state, cm):
        life.do(lambda at, org=org: d.DeclareReceivedValue(
            commitment_id=cid, value=Quantity(str(life.rng.randint(50, 4000)), "CAD"),
            actor=org, at=at))


def _month(life: Life, month: int) -> None:
    rng = life.rng
    for cid, cm in sorted(life.state.commitments.items()):
        fid = f"f-{cid}-{month}"
        life.do(lambda at, cm=cm, fid=fid: d.RecordFulfilment(
            fulfilment_id=fid, commitment_id=cm.id, quantity=Quantity("3", cm.quantity.unit),
            period=Period(f"2026-{month:02d}-01", f"2026-{month:02d}-28"), actor=cm.provider,
            at=at))
        for org in receiving_orgs(life.state, cm):
            if rng.random() < 0.08:
                life.do(lambda at, org=org, fid=fid: d.ContestFulfilment(
                    fulfilment_id=fid, reason="Salle non disponible", actor=org, at=at))
            else:
                life.do(lambda at, org=org, fid=fid: d.ConfirmFulfilment(
                    fulfilment_id=fid, actor=org, at=at))
    for ind in ("heures", "participants"):
        life.do(lambda at, ind=ind: d.RecordMeasurement(
            measurement_id=f"m-{ind}-{month}", indicator_id=ind,
            period=Period(f"2026-{month:02d}-01", f"2026-{month:02d}-28"),
            value=str(rng.randint(1, 90)), evidence_sha256=f"{month:02x}" * 32,
            actor=life.parties[0], at=at))
    if month % 6 == 0:  # a revision round: new text, new acknowledgements, ratify again
        holder = life.parties[month // 6 % len(life.parties)]
        life.do(lambda at: d.ReviseExpectation(
            expectation_id=f"e-{holder}", text=f"Révision {month}: deux rencontres par mois.",
            actor=holder, at=at))
        life.acknowledge_all(f"e-{holder}")
        life.ratify_all()


def lives(n_events: int, seed: int = 7) -> list[list[Decided]]:
    """Agreement histories, about 400 events each, until ``n_events`` in all."""
    rng = random.Random(seed)
    names = [s.org_id for s in signers(ORGS)]
    out: list[list[Decided]] = []
    total = 0
    while total < n_events:
        parties = rng.sample(names, rng.randint(3, 5))
        life = Life(f"ent-{len(out):05d}", parties, rng,
                    START + timedelta(days=rng.randint(0, 60)))
        _founding(life)
        for month in range(1, 13):
            _month(life, month)
        out.append(life.events)
        total += len(life.events)
    return out


def interleave(histories: list[list[Decided]], chunk: int = 25) -> Iterator[tuple[int, int]]:
    """(agreement index, event index) in log order: a few events of each agreement in
    turn, like a busy ledger, each stream in its own order."""
    cursors = [0] * len(histories)
    live = list(range(len(histories)))
    while live:
        still = []
        for a in live:
            end = min(cursors[a] + chunk, len(histories[a]))
            for i in range(cursors[a], end):
                yield a, i
            cursors[a] = end
            if end < len(histories[a]):
                still.append(a)
        live = still


def sign_all(histories: list[list[Decided]]) -> list[Envelope]:
    by_org = {s.org_id: s for s in signers(ORGS)}
    heads: list[str | None] = [None] * len(histories)
    out = []
    for a, i in interleave(histories):
        actor, type_, data, at = histories[a][i]
        env = by_org[actor].event(f"agreement/ent-{a:05d}", i + 1, heads[a], type_, data,
                                  issued_at=at)
        heads[a] = event_hash(env.payload_bytes())
        out.append(env)
    return out


async def load(dsn: str, envelopes: list[Envelope]) -> None:
    pool = await connect_pool(dsn, min_size=1, max_size=4)
    store = PostgresStore(pool, ledger_id=LEDGER_ID, max_batch=5000,
                          limits=Limits(max_skew_us=10**17))
    try:
        orgs: list[Signer] = signers(ORGS)
        await store.append([o.registration(o.org_id) for o in orgs])
        for i in range(0, len(envelopes), 5000):
            await store.append(envelopes[i:i + 5000])
    finally:
        await store.close()
        await pool.close()


async def settle(dsn: str) -> None:
    """The log as a server that has run a while has it: vacuumed and analyzed. Left to
    autovacuum, that work lands in the middle of the measurements (and the first reads
    of a fresh table also write its hint bits)."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (ANALYZE) events")
    finally:
        await conn.close()


async def measure_rebuild(dsn: str, runs: int) -> tuple[float, int, float]:
    """Best rate over ``runs`` rebuilds, the events, and this process's CPU seconds in
    that run (the rest of the wall time is the server's work or waiting for a core)."""
    pool = await connect_pool(dsn, min_size=3, max_size=6)
    try:
        best, events, cpu = 0.0, 0, 0.0
        for _ in range(runs):
            c0 = time.process_time()
            report = await rebuild(pool)
            rate = report.events / report.seconds
            if rate > best:
                best, events, cpu = rate, report.events, time.process_time() - c0
        return best, events, cpu
    finally:
        await pool.close()


async def measure_incremental(dsn: str) -> float:
    pool = await connect_pool(dsn, min_size=2, max_size=6)
    try:
        async with pool.acquire() as conn:
            await conn.execute("UPDATE projection_checkpoint SET position = 0")
            await conn.execute(f"TRUNCATE {', '.join(_tables())}")
        runner = ProjectionRunner(pool, page_size=2000, rebuild_from=None)
        t0 = time.perf_counter()
        n = await runner.catch_up()
        return n / (time.perf_counter() - t0)
    finally:
        await pool.close()


def _tables() -> list[str]:
    from projections.sql import READ_MODELS
    return [t.name for t in READ_MODELS]


def fold_rates(history: list[Decided], repeat: int = 5) -> tuple[float, float, float]:
    """Events/s of one agreement: the domain's ``fold`` over facts; the projection's
    ``apply_fact`` over the same facts; and ``fold_event`` from payload bytes (decode,
    fold and history summary: the per-event path of a rebuild)."""
    facts = [Fact(t, data, actor, at, n, key="ab" * 32, position=n)
             for n, (actor, t, data, at) in enumerate(history, 1)]
    payloads = [msgspec.json.encode({"version": f.stream_version, "type": f.type,
                                     "data": f.data, "actor": f.actor, "key": f.key,
                                     "issued_at": f.issued_at}) for f in facts]
    domain = projection = full = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        fold(facts)
        domain = max(domain, len(facts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        tracked = Tracked()
        for f in facts:
            apply_fact(tracked, f, 0)
        projection = max(projection, len(facts) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        tracked = Tracked()
        for n, payload in enumerate(payloads, 1):
            fold_event(tracked, "long", payload, n, 0)
        full = max(full, len(facts) / (time.perf_counter() - t0))
    return domain, projection, full


def long_life(n_events: int) -> list[Decided]:
    """One agreement with about ``n_events`` events (many months of operation)."""
    rng = random.Random(11)
    life = Life("long", [s.org_id for s in signers(4)], rng, START)
    _founding(life)
    month = 0
    while len(life.events) < n_events:
        month += 1
        _month(life, (month - 1) % 12 + 1) if month <= 12 else _late_month(life, month)
    return life.events


def _late_month(life: Life, month: int) -> None:
    """After the first year: fulfilments and measures under fresh ids."""
    for cid, cm in sorted(life.state.commitments.items()):
        fid = f"f-{cid}-{month}"
        life.do(lambda at, cm=cm, fid=fid: d.RecordFulfilment(
            fulfilment_id=fid, commitment_id=cm.id, quantity=Quantity("3", cm.quantity.unit),
            period=Period("2027-01-01", "2027-01-28"), actor=cm.provider, at=at))
        for org in receiving_orgs(life.state, cm):
            life.do(lambda at, org=org, fid=fid: d.ConfirmFulfilment(
                fulfilment_id=fid, actor=org, at=at))
    life.do(lambda at: d.RecordMeasurement(
        measurement_id=f"m-{month}", indicator_id="heures",
        period=Period("2027-01-01", "2027-01-28"), value="12", evidence_sha256="cd" * 32,
        actor=life.parties[0], at=at))


async def main(n_events: int, runs: int) -> None:
    t0 = time.perf_counter()
    histories = lives(n_events)
    envelopes = sign_all(histories)
    made = time.perf_counter() - t0
    with admin_dsn() as (admin, label):
        load1, _, _ = os.getloadavg()
        print(f"setup: {machine()}; {label}; {len(envelopes):,} agreement events in "
              f"{len(histories)} agreements ({ORGS} organizations), one process; "
              f"load average {load1:.2f} at start")
        async with fresh_database(admin) as dsn:
            t0 = time.perf_counter()
            await load(dsn, envelopes)
            loaded = time.perf_counter() - t0
            print(f"{'generate + sign, append':>28}: {made:8.1f} s, {loaded:.1f} s")
            await settle(dsn)
            rate, events, cpu = await measure_rebuild(dsn, runs)
            print(f"{'rebuild from position 0':>28}: {rate:10,.0f} events/s "
                  f"({events:,} events, best of {runs}; {cpu:.2f} s of Python CPU)")
            rate = await measure_incremental(dsn)
            print(f"{'incremental catch-up':>28}: {rate:10,.0f} events/s (pages of 2,000)")
    domain, projection, full = fold_rates(long_life(20_000))
    print(f"{'fold one agreement (domain)':>28}: {domain:10,.0f} events/s (20,000 events, "
          "in memory)")
    print(f"{'... with ratification record':>28}: {projection:10,.0f} events/s (apply_fact)")
    print(f"{'... from bytes, with summary':>28}: {full:10,.0f} events/s (fold_event)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.runs))
