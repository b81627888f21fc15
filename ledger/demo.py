"""The workshop's scenario, recorded through the API by three organizations.

Three Québec cultural organizations pool a shared accountant, premises and a joint
fundraising campaign. They go through the six stages, name their porteurs, write down
their expectations and acknowledge each other's, accept roles, commit resources with
the value each side gives them (barter: not market value), ratify the agreement (each
computing the state hash from the history it verified itself), then record a
fulfilment the receiver confirms and measure an indicator.

Each organization signs with its own key, generated here, through its own client.
Each registers with a single-use registration token from the ledger's operator (the
admission step): ``registration_tokens`` maps the demo's organizations to theirs
(``ledger demo`` makes them itself when the server runs on this machine).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import domain as d
from .client import LedgerClient
from .domain.state_hash import expectation_hash, state_hash
from .domain.values import FairValue, Period, Quantity
from .keys import generate_private_key
from .signer import Signer
from .statement import format_time

__all__ = ["DemoResult", "run_demo"]

AGREEMENT = "mutualisation-rives-2027"
ORGS = {
    "centre-arts-rives": "Centre d'arts des Rives",
    "theatre-faubourg": "Théâtre du Faubourg",
    "festival-riverain": "Festival riverain",
}
CA, TF, FR = list(ORGS)


@dataclass
class DemoResult:
    agreement_id: str
    steps: list[tuple[str, str, str, int]] = field(default_factory=list)
    status: str = ""
    state_hash: str = ""
    in_force_version: int | None = None


def _now() -> str:
    return format_time(datetime.now(UTC))


def _person(org: str, role: str) -> str:
    """A pseudonymous person id: no names or emails on the ledger."""
    return "p-" + hashlib.sha256(f"{org}/{role}".encode()).hexdigest()[:16]


def run_demo(url: str, *, suffix: str = "",
             progress: Callable[[str], None] | None = None,
             registration_tokens: Mapping[str, str] | None = None) -> DemoResult:
    """Record the scenario on the ledger at ``url``; ``suffix`` makes ids unique so the
    demo can run more than once against the same ledger. ``registration_tokens``: the
    token admitting each organization of ``ORGS`` (none needed when the ledger's
    registration is open)."""
    tokens = dict(registration_tokens or {})
    ids = {org: org + suffix for org in ORGS}
    aid = AGREEMENT + suffix
    clients = {org: LedgerClient(url, signer=Signer(ids[org], generate_private_key(), ""))
               for org in ORGS}
    result = DemoResult(aid)

    def step(org: str, what: str, command: Any) -> None:
        receipts = clients[org].act(aid, command)
        for r in receipts:
            result.steps.append((ids[org], what, r.stream, r.position))
        if progress is not None:
            progress(f"{ids[org]}: {what}")

    def at() -> str:
        return _now()

    for org, name in ORGS.items():
        receipt = clients[org].register(name, registration_token=tokens.get(org),
                                        region="Capitale-Nationale", sector="culture")
        what = ("registers with its first key, admitted by its registration token"
                if tokens.get(org) else "registers with its first key")
        result.steps.append((ids[org], what, receipt.stream, receipt.position))
        if progress is not None:
            progress(f"{ids[org]}: {what}")

    ca, tf, fr = ids[CA], ids[TF], ids[FR]
    step(CA, "drafts the agreement", d.DraftAgreement(
        agreement_id=aid, title="Mutualisation des Rives 2027",
        purpose=("Partager une comptable, des locaux et une campagne de financement "
                 "pour faire mieux à plusieurs, sans diluer l'identité de chacun."),
        binding=False, invited=[tf, fr], public=True, actor=ca, at=at()))
    step(TF, "joins", d.JoinAgreement(actor=tf, at=at()))
    step(FR, "joins", d.JoinAgreement(actor=fr, at=at()))
    for org in ORGS:
        step(org, "names its porteur de projet",
             d.NamePorteur(person_id=_person(ids[org], "porteur"), actor=ids[org], at=at()))

    for stage in ("know_yourself", "get_acquainted", "common_desire"):
        step(CA, f"starts stage {stage}", d.StartStage(stage=stage, actor=ca, at=at()))
        for org in ORGS:
            step(org, f"acknowledges stage {stage} complete",
                 d.AcknowledgeStageCompletion(stage=stage, actor=ids[org], at=at()))

    step(TF, "states an expectation", d.StateExpectation(
        expectation_id="rapports-mensuels",
        text="Recevoir un rapport financier mensuel avant le 10 de chaque mois.",
        actor=tf, at=at()))
    step(FR, "states an expectation", d.StateExpectation(
        expectation_id="visibilite-partagee",
        text="Que chaque organisme apparaisse à parts égales dans la campagne commune.",
        actor=fr, at=at()))
    state, _ = clients[CA].agreement_state(aid)
    for eid, exp in state.expectations.items():
        for org in ORGS:
            if ids[org] != exp.holder:
                step(org, f"acknowledges expectation {eid}", d.AcknowledgeExpectation(
                    expectation_id=eid, content_hash=expectation_hash(exp),
                    actor=ids[org], at=at()))

    step(CA, "starts stage framework", d.StartStage(stage="framework", actor=ca, at=at()))
    step(CA, "proposes a role", d.ProposeRole(
        role_id="coordination-campagne", name="Coordination de la campagne",
        description="Coordonner le calendrier et les communications de la campagne.",
        assignee=fr, actor=ca, at=at()))
    step(FR, "accepts the role", d.AcceptRole(
        role_id="coordination-campagne", person_id=_person(fr, "coordination"),
        actor=fr, at=at()))

    year = Period(start="2027-01-01", end="2027-12-31")
    step(CA, "commits a shared accountant", d.OfferCommitment(
        commitment_id="comptable-partagee", category="function_accounting",
        description="Comptable partagée, une journée par semaine.",
        quantity=Quantity(amount="384", unit="hour"), period=year, receiver=tf,
        value=Quantity(amount="18000", unit="CAD"),
        fair_value=FairValue(amount="21000", unit="CAD", method="market"),
        actor=ca, at=at()))
    step(TF, "declares the value it receives", d.DeclareReceivedValue(
        commitment_id="comptable-partagee", value=Quantity(amount="24000", unit="CAD"),
        actor=tf, at=at()))
    step(TF, "commits premises", d.OfferCommitment(
        commitment_id="salle-repetition", category="premises",
        description="Salle de répétition, deux soirs par semaine.",
        quantity=Quantity(amount="100", unit="evening"), period=year, receiver=fr,
        value=Quantity(amount="6000", unit="CAD"), actor=tf, at=at()))
    step(FR, "commits the joint fundraising campaign", d.OfferCommitment(
        commitment_id="campagne-commune", category="fundraising",
        description="Organisation d'une campagne de financement commune.",
        quantity=Quantity(amount="1", unit="campaign"), period=year, receiver="collective",
        value=Quantity(amount="120", unit="hour"), actor=fr, at=at()))

    step(CA, "starts stage plan", d.StartStage(stage="plan", actor=ca, at=at()))
    step(CA, "starts stage indicators", d.StartStage(stage="indicators", actor=ca, at=at()))
    step(TF, "defines an indicator", d.DefineIndicator(
        indicator_id="heures-comptables", name="Heures de comptabilité reçues",
        unit="hour", method="Somme des heures confirmées par le théâtre.",
        target="384", actor=tf, at=at()))

    for org in ORGS:
        for receipt in clients[org].ratify(aid, at=at()):
            result.steps.append((ids[org], "ratifies (state hash computed locally)",
                                 receipt.stream, receipt.position))
        if progress is not None:
            progress(f"{ids[org]}: ratifies")

    january = Period(start="2027-01-04", end="2027-01-29")
    step(CA, "records a fulfilment", d.RecordFulfilment(
        fulfilment_id="compta-janvier", commitment_id="comptable-partagee",
        quantity=Quantity(amount="32", unit="hour"), period=january,
        evidence_sha256=hashlib.sha256(b"feuille-de-temps-janvier-2027").hexdigest(),
        actor=ca, at=at()))
    step(TF, "confirms the fulfilment", d.ConfirmFulfilment(
        fulfilment_id="compta-janvier", comment="Rapport reçu le 5 février.",
        actor=tf, at=at()))
    step(TF, "measures the indicator", d.RecordMeasurement(
        measurement_id="heures-janvier", indicator_id="heures-comptables", period=january,
        value="32", evidence_sha256=hashlib.sha256(b"releve-janvier-2027").hexdigest(),
        actor=tf, at=at()))

    final, _ = clients[CA].agreement_state(aid)
    result.status = final.status
    result.state_hash = state_hash(final)
    result.in_force_version = final.in_force_version
    return result
