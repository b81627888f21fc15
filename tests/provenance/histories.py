"""Random valid agreement histories for property tests: hypothesis draws steps, each
step becomes a command aimed at something that exists, ``decide`` judges it (refusals
are dropped), so every history is one the rules admit. Entries get increasing log
positions with gaps (other streams' events in between)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import ledger.domain as d
from ledger.domain import Fact, decide, evolve, expectation_hash, initial_state, state_hash
from ledger.domain.state import AgreementState, receiving_orgs
from ledger.domain.values import FAMILIES, STAGES, Period, Quantity
from ledger.errors import Rejected
from ledger.provenance import Entry

ORGS = ["org-a", "org-b", "org-c", "org-d"]
P = Period("2026-01-01", "2026-06-30")

KINDS = [
    *["join"] * 5, "invite", "porteur", *["state"] * 2, "revise_expectation",
    "withdraw_expectation", *["ack"] * 3, "propose_role", "accept_role", "decline_role",
    "relinquish_role", *["offer"] * 3, "amend", "withdraw_commitment", *["value"] * 2,
    *["fulfil"] * 3, *["confirm"] * 2, "contest", "stage", "stage_ack", "define_indicator",
    *["measure"] * 2, "consent", "withdraw_consent", *["ratify"] * 4, "revise", "suspend",
    "resume", "withdraw",
]

#: (kind, a small int picking ids and values, an actor index)
steps = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 5), st.integers(0, 3)),
                 min_size=10, max_size=60)
gaps = st.lists(st.integers(1, 4), min_size=60, max_size=60)


def _pick(items: Any, i: int) -> Any:
    items = sorted(items)
    return items[i % len(items)] if items else None


def _command(s: AgreementState, kind: str, i: int, actor: str, at: str) -> Any | None:
    me = _pick(s.parties, i + ORGS.index(actor)) or actor
    other = _pick([o for o in s.parties if o != me], i)
    exp = s.expectations.get(_pick(s.expectations, i) or "")
    role = s.roles.get(_pick(s.roles, i) or "")
    cm = s.commitments.get(_pick(s.commitments, i) or "")
    ful = s.fulfilments.get(_pick(s.fulfilments, i) or "")
    consent = s.consents.get(_pick(s.consents, i) or "")
    ind = s.indicators.get(_pick(s.indicators, i) or "")
    n = f"x{i}"
    make: dict[str, Callable[[], Any]] = {
        "join": lambda: d.JoinAgreement(actor=_pick(s.invited, i) or actor, at=at),
        "invite": lambda: d.InviteParty(org=ORGS[i % 4], actor=me, at=at),
        "porteur": lambda: d.NamePorteur(person_id=f"p-{i}", actor=me, at=at),
        "state": lambda: d.StateExpectation(expectation_id=n, text=f"Attente {i}",
                                            actor=me, at=at),
        "revise_expectation": lambda: d.ReviseExpectation(
            expectation_id=exp.id, text=f"Révision {i}", actor=exp.holder, at=at),
        "withdraw_expectation": lambda: d.WithdrawExpectation(
            expectation_id=exp.id, actor=exp.holder, at=at),
        "ack": lambda: d.AcknowledgeExpectation(
            expectation_id=exp.id, content_hash=expectation_hash(exp),
            actor=_pick([o for o in s.parties if o != exp.holder], i) or me, at=at),
        "propose_role": lambda: d.ProposeRole(role_id=n, name="Rôle", description="Faire",
                                              assignee=other or me, actor=me, at=at),
        "accept_role": lambda: d.AcceptRole(role_id=role.id, person_id=f"p-{i}",
                                            actor=role.assignee, at=at),
        "decline_role": lambda: d.DeclineRole(role_id=role.id, actor=role.assignee, at=at),
        "relinquish_role": lambda: d.RelinquishRole(role_id=role.id, actor=role.assignee,
                                                    at=at),
        "offer": lambda: d.OfferCommitment(
            commitment_id=n, category="premises", description="Salle",
            quantity=Quantity("10", "hour"), period=P,
            receiver=other if (other and i % 2) else "collective",
            value=Quantity(str(100 + i), "CAD"), actor=me, at=at),
        "amend": lambda: d.AmendCommitment(
            commitment_id=cm.id, category="software", description=f"Autre {i}",
            quantity=Quantity(str(11 + i), "hour"), period=P, receiver=cm.receiver,
            actor=cm.provider, at=at),
        "withdraw_commitment": lambda: d.WithdrawCommitment(
            commitment_id=cm.id, reason="Fin", actor=cm.provider, at=at),
        "value": lambda: d.DeclareReceivedValue(
            commitment_id=cm.id, value=Quantity(str(i + 1), "CAD"),
            actor=_pick(receiving_orgs(s, cm), i) or me, at=at),
        "fulfil": lambda: d.RecordFulfilment(
            fulfilment_id=n, commitment_id=cm.id, quantity=Quantity("2", cm.quantity.unit),
            period=P, evidence_sha256=hashlib.sha256(n.encode()).hexdigest(),
            actor=cm.provider, at=at),
        "confirm": lambda: d.ConfirmFulfilment(
            fulfilment_id=ful.id, actor=_pick(receiving_orgs(
                s, s.commitments[ful.commitment_id]), i) or me, at=at),
        "contest": lambda: d.ContestFulfilment(
            fulfilment_id=ful.id, reason="Non", actor=_pick(receiving_orgs(
                s, s.commitments[ful.commitment_id]), i) or me, at=at),
        "stage": lambda: d.StartStage(stage=STAGES[i % 6], actor=me, at=at),
        "stage_ack": lambda: d.AcknowledgeStageCompletion(
            stage=_pick(s.stages, i) or "plan", actor=me, at=at),
        "define_indicator": lambda: d.DefineIndicator(
            indicator_id=n, name="Heures", unit="hour", method="Somme", actor=me, at=at),
        "measure": lambda: d.RecordMeasurement(
            measurement_id=n, indicator_id=ind.id, period=P, value=str(i),
            evidence_sha256="b" * 64, actor=me, at=at),
        "consent": lambda: d.GiveConsent(
            consent_id=n, trust_id="fiducie", purpose="But",
            scope=list(FAMILIES[i % 5:i % 5 + 3]), licence="CC BY 4.0",
            expires_on="2026-12-31", actor=me, at=at),
        "withdraw_consent": lambda: d.WithdrawConsent(consent_id=consent.id,
                                                      actor=consent.org, at=at),
        "ratify": lambda: d.RatifyAgreement(terms_version=max(s.terms_version, 1),
                                            state_hash=state_hash(s), actor=me, at=at),
        "revise": lambda: d.ReviseAgreement(title=f"Entente {i}", purpose="Vision",
                                            binding=bool(i % 2), actor=me, at=at),
        "suspend": lambda: d.SuspendAgreement(reason="Pause", actor=me, at=at),
        "resume": lambda: d.ResumeAgreement(actor=me, at=at),
        "withdraw": lambda: d.WithdrawFromAgreement(effective_on="2026-12-31",
                                                    reason="Départ", actor=me, at=at),
        "terminate": lambda: d.TerminateAgreement(reason="Fin", actor=me, at=at),
    }
    try:
        return make[kind]()
    except (AttributeError, KeyError):  # nothing of that kind yet
        return None


def history(drawn: list[tuple[str, int, int]], gap: list[int], aid: str = "a1",
            terminate: bool = False) -> list[Entry]:
    """The entries of one valid agreement history made from ``drawn`` steps: a draft,
    two organizations joining, the steps (a suspended agreement resumes before the next
    step the suspension forbids), and a termination if asked."""
    state = initial_state()
    entries: list[Entry] = []
    position = 3
    commands: list[Any] = [
        d.JoinAgreement(actor=ORGS[2], at="2026-01-01T09:02:00Z"),
        d.JoinAgreement(actor=ORGS[1], at="2026-01-01T09:01:00Z"),
        d.DraftAgreement(agreement_id=aid, title="Entente", purpose="Vision", binding=False,
                         invited=ORGS[1:], actor=ORGS[0], at="2026-01-01T09:00:00Z")]
    todo = list(drawn) + ([("terminate", 0, 0)] if terminate else [])
    n = 0
    while commands or todo:
        n += 1
        at = f"2026-01-{1 + n // 60:02d}T10:{n % 60:02d}:00Z"
        if commands:
            cmd = commands.pop()
        else:
            kind, i, who = todo.pop(0)
            if state.status == "suspended" and kind not in ("withdraw", "confirm", "contest",
                                                            "withdraw_consent"):
                kind = "resume"
            cmd = _command(state, kind, i, ORGS[who], at)
            if cmd is None:
                continue
        try:
            new = decide(cmd, state)
        except Rejected:
            continue
        for event in new:
            position += gap[len(entries) % len(gap)]
            version = len(entries) + 1
            digest = hashlib.sha256(f"{aid}/{version}".encode()).hexdigest()
            entry = Entry(position, at.replace("Z", ".5Z"), f"agreement/{aid}", version,
                          digest, event.type, event.data, cmd.actor, "k-" + cmd.actor, at)
            state = evolve(state, Fact(event.type, event.data, cmd.actor, at, version))
            entries.append(entry)
    return entries
