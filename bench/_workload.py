"""A realistic workload of signed agreement events, shared by the benchmarks.

Many agreements, each with a life decided by the domain's own ``decide`` (drafted,
joined, porteurs, expectations and acknowledgements, roles, commitments with both
sides' declared values, indicators, the six stages, consents, ratification by every
party, then months of fulfilments with confirmations and the odd contest, measures, a
revision with a new ratification round), interleaved across agreements as a busy
ledger would be, and signed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from _setup import signers

import ledger.domain as d
from ledger.domain import Fact, decide, evolve, expectation_hash, state_hash
from ledger.domain.state import AgreementState, receiving_orgs
from ledger.domain.values import STAGES, FairValue, Period, Quantity
from ledger.envelope import Envelope
from ledger.statement import event_hash

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


def lives(n_events: int, seed: int = 7, first: int = 0) -> list[list[Decided]]:
    """Agreement histories, about 400 events each, until ``n_events`` in all (the
    agreements numbered from ``first``)."""
    rng = random.Random(seed)
    names = [s.org_id for s in signers(ORGS)]
    out: list[list[Decided]] = []
    total = 0
    while total < n_events:
        parties = rng.sample(names, rng.randint(3, 5))
        life = Life(f"ent-{first + len(out):05d}", parties, rng,
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


def sign_all(histories: list[list[Decided]], first: int = 0) -> list[Envelope]:
    by_org = {s.org_id: s for s in signers(ORGS)}
    heads: list[str | None] = [None] * len(histories)
    out = []
    for a, i in interleave(histories):
        actor, type_, data, at = histories[a][i]
        env = by_org[actor].event(f"agreement/ent-{first + a:05d}", i + 1, heads[a], type_, data,
                                  issued_at=at)
        heads[a] = event_hash(env.payload_bytes())
        out.append(env)
    return out
