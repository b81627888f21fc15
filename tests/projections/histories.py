"""Random valid histories: hypothesis draws steps, each step becomes a command aimed at
something that exists in one of several agreements, and ``decide`` judges it (refused
commands are dropped), so every history is one the rules admit. A few steps sign
events the domain cannot read, or organization events, which the projection must list
or skip, and a few are rogue: signed outside the rules (a fulfilment or a measure
recorded again under its id for another commitment or indicator), which the log may
hold and the projection must fold like anything else. ``long_steps`` makes long
agreement lives, mostly fulfilments, confirmations and measures under fresh ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import ledger.domain as d
from ledger.domain import expectation_hash, state_hash
from ledger.domain.state import AgreementState, receiving_orgs
from ledger.domain.values import CATEGORIES, STAGES, FairValue, Period, Quantity
from ledger.errors import Rejected

from .builders import World

__all__ = ["ORGS", "Step", "apply_steps", "long_steps", "steps"]

ORGS = ["org-a", "org-b", "org-c", "org-d"]
PERIOD = Period("2026-01-01", "2026-06-30")

#: (agreement index (two per example), kind, a small int to pick ids and values, actor)
Step = tuple[int, str, int, int]

_WEIGHTS = {
    "join": 6, "invite": 2, "porteur": 2, "state": 3, "revise_expectation": 2,
    "withdraw_expectation": 1, "acknowledge": 5, "propose_role": 2, "accept_role": 2,
    "decline_role": 1, "relinquish_role": 1, "offer": 4, "amend": 2, "withdraw_commitment": 1,
    "value": 3, "fulfil": 3, "confirm": 3, "contest": 2, "start_stage": 2, "ack_stage": 3,
    "define_indicator": 2, "measure": 2, "consent": 1, "withdraw_consent": 1, "ratify": 6,
    "revise": 1, "visibility": 1, "suspend": 1, "resume": 2, "terminate": 1, "withdraw": 1,
    "noise": 1, "rogue": 1,
}
_KINDS = [k for k, n in _WEIGHTS.items() for _ in range(n)]

steps = st.lists(st.tuples(st.integers(0, 1), st.sampled_from(_KINDS), st.integers(0, 5),
                           st.integers(0, 3)), min_size=20, max_size=40)

#: A long life: a founding drawn from every kind that keeps the agreement going, then
#: mostly the monthly kinds (the others now and then, suspension and the end included).
_GOING = [k for k in _KINDS if k not in ("terminate", "suspend", "withdraw")]
_MONTHLY = ["fulfil"] * 6 + ["confirm"] * 6 + ["contest", "value"] + ["measure"] * 3


def _one_agreement(kinds: list[str], least: int, most: int) -> st.SearchStrategy[list[Step]]:
    return st.lists(st.tuples(st.just(0), st.sampled_from(kinds), st.integers(0, 5),
                              st.integers(0, 3)), min_size=least, max_size=most)


long_steps = st.builds(list.__add__, _one_agreement(_GOING, 30, 40),
                       _one_agreement(_MONTHLY * 8 + _GOING, 150, 300))


def _pick(items: Any, i: int) -> Any:
    items = sorted(items)
    return items[i % len(items)] if items else None


def _command(s: AgreementState, aid: str, kind: str, i: int, actor: str,
             at: str) -> Any | None:
    """The command of ``kind`` aimed at what exists in ``s`` (None when nothing fits)."""
    me = _pick(s.parties, i + ORGS.index(actor)) or actor
    other = _pick([o for o in s.parties if o != me], i)
    exp = s.expectations.get(_pick(s.expectations, i) or "")
    role = s.roles.get(_pick(s.roles, i) or "")
    cm = s.commitments.get(_pick(s.commitments, i) or "")
    ful = s.fulfilments.get(_pick(s.fulfilments, i) or "")
    latest = next(reversed(s.fulfilments.values()), None) if i % 2 else None
    consent = s.consents.get(_pick(s.consents, i) or "")
    ind = s.indicators.get(_pick(s.indicators, i) or "")
    make: dict[str, Callable[[], Any]] = {
        "join": lambda: d.JoinAgreement(actor=_pick(s.invited, i), at=at),
        "invite": lambda: d.InviteParty(org=ORGS[i % len(ORGS)], actor=me, at=at),
        "porteur": lambda: d.NamePorteur(person_id=f"p-{i % 3}", actor=me, at=at),
        "state": lambda: d.StateExpectation(
            expectation_id=f"e{i % 3}", text=f"Attente {i}", actor=me, at=at,
            addressed_to=[other] if other and i % 2 else "all"),
        "revise_expectation": lambda: d.ReviseExpectation(
            expectation_id=exp.id, text=f"Révision {i}", actor=exp.holder, at=at),
        "withdraw_expectation": lambda: d.WithdrawExpectation(
            expectation_id=exp.id, actor=exp.holder, at=at),
        "acknowledge": lambda: d.AcknowledgeExpectation(
            expectation_id=exp.id, content_hash=expectation_hash(exp), at=at,
            actor=_pick([o for o in s.parties if o != exp.holder], i)),
        "propose_role": lambda: d.ProposeRole(role_id=f"r{i % 2}", name="Rôle",
                                              description="Faire", assignee=other,
                                              actor=me, at=at),
        "accept_role": lambda: d.AcceptRole(role_id=role.id, actor=role.assignee, at=at,
                                            person_id=f"p-{i}" if i % 2 else None),
        "decline_role": lambda: d.DeclineRole(role_id=role.id, actor=role.assignee, at=at),
        "relinquish_role": lambda: d.RelinquishRole(role_id=role.id, actor=role.assignee,
                                                    at=at),
        "offer": lambda: d.OfferCommitment(
            commitment_id=f"c{i % 3}", category=CATEGORIES[i], description="Ressource",
            quantity=Quantity(str(i + 1), "hour"), period=PERIOD, actor=me, at=at,
            receiver=other if other and i % 2 else "collective",
            value=Quantity(str(10 * i), "CAD") if i % 3 else None,
            fair_value=FairValue("99.5", "CAD", "cost") if i == 4 else None),
        "amend": lambda: d.AmendCommitment(
            commitment_id=cm.id, category="software", description="Autre",
            quantity=Quantity(str(i + 2), "day" if i == 5 else cm.quantity.unit),
            period=PERIOD, receiver=cm.receiver, value=Quantity("7", "CAD"),
            actor=cm.provider, at=at),
        "withdraw_commitment": lambda: d.WithdrawCommitment(
            commitment_id=cm.id, reason="Fin", actor=cm.provider, at=at),
        "value": lambda: d.DeclareReceivedValue(
            commitment_id=cm.id, value=Quantity(f"{i}.25", "CAD"), at=at,
            actor=_pick(receiving_orgs(s, cm), i)),
        "fulfil": lambda: d.RecordFulfilment(
            fulfilment_id=f"f{i % 4}" if i < 2 else f"f{len(s.fulfilments)}",
            commitment_id=cm.id, period=PERIOD, at=at,
            quantity=Quantity(str(i % 3 + 1), cm.quantity.unit), actor=cm.provider),
        "confirm": lambda: d.ConfirmFulfilment(
            fulfilment_id=(latest or ful).id, at=at, actor=_pick(
                receiving_orgs(s, s.commitments[ful.commitment_id]), i)),
        "contest": lambda: d.ContestFulfilment(
            fulfilment_id=ful.id, reason="Non reçu", at=at, actor=_pick(
                receiving_orgs(s, s.commitments[ful.commitment_id]), i)),
        "start_stage": lambda: d.StartStage(stage=STAGES[i], actor=me, at=at),
        "ack_stage": lambda: d.AcknowledgeStageCompletion(
            stage=_pick(s.stages, i), actor=me, at=at),
        "define_indicator": lambda: d.DefineIndicator(
            indicator_id=f"i{i % 2}", name="Heures", unit="hour", method="Somme",
            target="50" if i % 2 else None, actor=me, at=at),
        "measure": lambda: d.RecordMeasurement(
            measurement_id=f"m{i}" if i < 2 else f"m{len(s.measures)}",
            indicator_id=ind.id, period=PERIOD, value=f"{i}.5",
            evidence_sha256="c" * 64, actor=me, at=at),
        "consent": lambda: d.GiveConsent(
            consent_id=f"k{i % 2}", trust_id="fiducie", purpose="Stats",
            scope=["indicator"], licence="CC BY", expires_on="2030-12-31", actor=me, at=at),
        "withdraw_consent": lambda: d.WithdrawConsent(consent_id=consent.id,
                                                      actor=consent.org, at=at),
        "ratify": lambda: d.RatifyAgreement(terms_version=s.terms_version,
                                            state_hash=state_hash(s), actor=me, at=at),
        "revise": lambda: d.ReviseAgreement(title=f"Titre {i}", purpose="Vision",
                                            binding=bool(i % 2), actor=me, at=at),
        "visibility": lambda: d.ChangeVisibility(public=not s.public, actor=me, at=at),
        "suspend": lambda: d.SuspendAgreement(reason="Pause", actor=me, at=at),
        "resume": lambda: d.ResumeAgreement(actor=me, at=at),
        "terminate": lambda: d.TerminateAgreement(reason="Fin", actor=me, at=at),
        "withdraw": lambda: d.WithdrawFromAgreement(effective_on="2030-12-31",
                                                    reason="Départ", actor=me, at=at),
    }
    for k in (kind, *_FALLBACK.get(kind, ())):  # nothing to aim at: make it first
        try:
            return make[k]()
        except (AttributeError, KeyError, TypeError):
            continue
    return None


#: What to do instead when a kind has nothing to aim at yet.
_FALLBACK = {
    "revise_expectation": ("state",), "withdraw_expectation": ("state",),
    "acknowledge": ("state",), "accept_role": ("propose_role",),
    "decline_role": ("propose_role",), "relinquish_role": ("accept_role", "propose_role"),
    "amend": ("offer",), "withdraw_commitment": ("offer",), "value": ("offer",),
    "fulfil": ("offer",), "confirm": ("fulfil", "offer"), "contest": ("fulfil", "offer"),
    "ack_stage": ("start_stage",), "measure": ("define_indicator",),
    "withdraw_consent": ("consent",),
}


def apply_steps(w: World, prefix: str, drawn: list[Step]) -> int:
    """Decide every step against its agreement; queue what is admitted. Returns the
    number of agreement events queued."""
    before = len(w.queue)
    org_events = 0
    for agreement, kind, i, actor_index in drawn:
        aid = f"{prefix}-{agreement}"
        actor = ORGS[actor_index]
        s = w.state(aid)
        if s.status == "absent":
            invited = [o for o in ORGS if o != actor][: 1 + i % 3]
            command: Any = d.DraftAgreement(agreement_id=aid, title=f"Entente {aid}",
                                            purpose="Partager", binding=bool(i % 2),
                                            invited=invited, public=i == 5, actor=actor,
                                            at=w.at())
        elif kind == "rogue":
            _rogue(w, aid, s, i, actor)
            continue
        elif kind == "noise":
            if i % 2:
                w.sign(f"agreement/{aid}", actor, "test.noted", {"n": i})
            else:
                w.sign(w.signers[actor].stream, actor, "organization.profile_updated",
                       {"name": f"Org {i}"})
                org_events += 1
            continue
        else:
            if len(s.parties) < 2 and s.invited:
                kind = "join"  # a lone drafter can do little: bring a party in first
            command = _command(s, aid, kind, i, actor, w.at())
            if command is None:
                continue
        w.do(aid, command, tolerant=True)
    return len(w.queue) - before - org_events


def _rogue(w: World, aid: str, s: AgreementState, i: int, actor: str) -> None:
    """Sign, outside the rules, an existing fulfilment (or measure) recorded again for
    another commitment (or indicator): decided under a fresh id, then given the old id."""
    if i % 2 and s.fulfilments and len(s.commitments) > 1:
        old = s.fulfilments[_pick(s.fulfilments, i)]
        cm = s.commitments[_pick([c for c in s.commitments if c != old.commitment_id], i)]
        command: Any = d.RecordFulfilment(
            fulfilment_id="f-rogue", commitment_id=cm.id, period=PERIOD, at=w.at(),
            quantity=Quantity("1", cm.quantity.unit), actor=cm.provider)
        member, old_id = "fulfilment_id", old.id
    elif s.measures and len(s.indicators) > 1:
        m = s.measures[_pick(s.measures, i)]
        ind = _pick([x for x in s.indicators if x != m.indicator_id], i)
        command = d.RecordMeasurement(measurement_id="m-rogue", indicator_id=ind,
                                      period=PERIOD, value="1", evidence_sha256="d" * 64,
                                      actor=_pick(s.parties, i) or actor, at=w.at())
        member, old_id = "measurement_id", m.id
    else:
        return
    try:
        events = d.decide(command, s)
    except Rejected:
        return
    for e in events:
        data = {**e.data, member: old_id}
        w.sign(f"agreement/{aid}", command.actor, e.type, data, command.at)
        version = w.heads[f"agreement/{aid}"][0]
        w.states[aid] = s = d.evolve(s, d.Fact(e.type, data, command.actor, command.at,
                                               version))
