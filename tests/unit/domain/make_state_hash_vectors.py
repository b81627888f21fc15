"""Write tests/vectors/state_hash/*.json: short histories and their expected state hash.

Run from the repository root:  python tests/unit/domain/make_state_hash_vectors.py
Each vector holds the facts (type, data, actor, issued_at, stream_version), the expected
terms JSON, its canonical text and its SHA-256, so another implementation can check its
fold, its terms object and its encoding separately. Regenerate only when the terms
format changes (and then change its ``schema`` too).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys
from typing import Any

from domain_gwt import A, B, C, T, draft, history, join, offer, ratify

from ledger.canonical import canonical_bytes
from ledger.domain import (
    AcceptRole,
    AcknowledgeExpectation,
    DeclareReceivedValue,
    DeclineRole,
    DefineIndicator,
    GiveConsent,
    InviteParty,
    NamePorteur,
    ProposeRole,
    RecordFulfilment,
    StartStage,
    StateExpectation,
    WithdrawCommitment,
    WithdrawExpectation,
    WithdrawFromAgreement,
    expectation_hash,
    state_hash,
    terms_json,
)
from ledger.domain.values import FairValue, Period, Quantity

OUT = pathlib.Path(__file__).resolve().parents[2] / "vectors" / "state_hash"


def _drafted() -> list[Any]:
    return [draft(invited=(B,))]


def _two_parties() -> list[Any]:
    items: list[Any] = [draft(invited=(B, C)), join(B),
                        NamePorteur(person_id="p-7f3a", actor=A, at=T(3)),
                        NamePorteur(person_id="p-19c2", actor=B, at=T(3))]
    return items


def _full() -> list[Any]:
    return [
        draft(invited=(B, C), title="Mutualisation « Quartier vivant »",
              purpose='Faire mieux à plusieurs.\nÉviter les doublons; "petits pas" d\'abord.',
              binding=True, public=True),
        join(B), join(C, 3),
        NamePorteur(person_id="p-7f3a", actor=A, at=T(3)),
        StateExpectation(expectation_id="e2", text="Être consultés avant tout achat commun",
                         actor=B, at=T(4)),
        StateExpectation(expectation_id="e1", text="Partager le calendrier 🎭",
                         addressed_to=[C, A], actor=B, at=T(4)),
        StateExpectation(expectation_id="e3", text="Retirée plus tard", actor=C, at=T(4)),
        WithdrawExpectation(expectation_id="e3", actor=C, at=T(5)),
        ProposeRole(role_id="r2", name="Trésorerie", description="Tenir les comptes communs",
                    assignee=C, actor=A, at=T(5)),
        ProposeRole(role_id="r1", name="Communications", description="Animer l'infolettre",
                    assignee=B, actor=A, at=T(5)),
        AcceptRole(role_id="r1", person_id="p-19c2", actor=B, at=T(6)),
        DeclineRole(role_id="r2", reason="Pas cette année", actor=C, at=T(6)),
        offer("c2", actor=B, receiver="collective", category="expertise",
              description="Formation comptable", quantity=Quantity("12.5", "hour"),
              period=Period("2026-02-01", "2026-06-30"), conditions="En soirée",
              value=Quantity("750", "CAD"), fair_value=FairValue("1200", "CAD", "market")),
        offer("c1", actor=A, receiver=B, value=Quantity("1500", "CAD")),
        offer("c3", actor=C, receiver=A, description="Retiré"),
        WithdrawCommitment(commitment_id="c3", reason="Plus disponible", actor=C, at=T(7)),
        DeclareReceivedValue(commitment_id="c2", value=Quantity("20", "hour"), actor=C,
                             at=T(7)),
        DeclareReceivedValue(commitment_id="c2", value=Quantity("900.50", "CAD"), actor=A,
                             at=T(7)),
        DefineIndicator(indicator_id="i1", name="Heures partagées", unit="hour",
                        method="Somme des réalisations confirmées", target="200", actor=C,
                        at=T(8)),
        DefineIndicator(indicator_id="i0", name="Satisfaction", unit="score/5",
                        method="Sondage annuel", actor=A, at=T(8)),
        # progress, not terms: they do not change the hash
        RecordFulfilment(fulfilment_id="f1", commitment_id="c1", quantity=Quantity("2", "hour"),
                         period=Period("2026-01-12", "2026-01-12"), actor=A, at=T(12)),
        StartStage(stage="framework", actor=B, at=T(12)),
        GiveConsent(consent_id="k1", trust_id="culturepedia", purpose="Portrait",
                    scope=["commitment"], licence="CC BY 4.0", expires_on="2027-01-01",
                    actor=A, at=T(12)),
    ]


def _withdrawal() -> list[Any]:
    return [*_two_parties(), join(C, 4),
            StateExpectation(expectation_id="e1", text="Réponse sous 48 h", actor=C, at=T(5)),
            ProposeRole(role_id="r1", name="Logistique", description="Clés et accès",
                        assignee=C, actor=A, at=T(5)),
            AcceptRole(role_id="r1", actor=C, at=T(6)),
            offer("c1", actor=C, receiver=A),
            WithdrawFromAgreement(effective_on="2026-03-31", reason="Fusion avec un autre "
                                  "organisme", actor=C, at=T(7))]


def _withdrawal_kept() -> list[Any]:
    """What the others stated about a party that withdraws stays as they stated it."""
    return [*_two_parties(), join(C, 4),
            NamePorteur(person_id="p-c001", actor=C, at=T(4)),
            StateExpectation(expectation_id="e1", text="Prévenir 48 h avant tout prêt",
                             addressed_to=[C, A], actor=B, at=T(5)),
            StateExpectation(expectation_id="e2", text="Accès au local le samedi",
                             actor=C, at=T(5)),
            offer("c1", actor=A, receiver="collective", day=5, description="Photocopieuse"),
            offer("c2", actor=B, receiver=C, day=5, description="Local d'entreposage"),
            DeclareReceivedValue(commitment_id="c1", value=Quantity("300", "CAD"), actor=C,
                                 at=T(6)),
            DeclareReceivedValue(commitment_id="c1", value=Quantity("250", "CAD"), actor=B,
                                 at=T(6)),
            WithdrawFromAgreement(effective_on="2026-02-28", reason="Fin des activités",
                                  actor=C, at=T(7))]


def _rejoined() -> list[Any]:
    return [*_withdrawal_kept(), InviteParty(org=C, actor=A, at=T(8)), join(C, 9)]


def _fact_json(f: Any) -> dict[str, Any]:
    return {"type": f.type, "data": f.data, "actor": f.actor, "issued_at": f.issued_at,
            "stream_version": f.stream_version}


def vector(desc: str, items: list[Any], *, ratify_all: bool = False,
           acknowledge: bool = False) -> dict[str, Any]:
    h = history(*items)
    if acknowledge:
        for org in (A, C):
            e = h.state.expectations["e2"]
            h.apply(AcknowledgeExpectation(expectation_id="e2",
                                           content_hash=expectation_hash(e), actor=org,
                                           at=T(13)))
    if ratify_all:
        for org in sorted(h.state.parties):
            h.apply(ratify(h.state, org, day=14))
    terms = terms_json(h.state)
    text = canonical_bytes(terms).decode("utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert digest == state_hash(h.state)
    return {"desc": desc, "facts": [_fact_json(f) for f in h.facts], "terms": terms,
            "canonical": text, "state_hash": digest}


VECTORS = {
    "01-drafted": lambda: vector("Drafted by centre-a, centre-b invited: one party, no "
                                 "porteur (null), empty lists.", _drafted()),
    "02-porteurs-ratified": lambda: vector(
        "Two parties name their porteurs, then both ratify: ratifications are not terms, "
        "the hash is the one they signed.", _two_parties(), ratify_all=True),
    "03-full-terms": lambda: vector(
        "Every kind of term: expectations (to all and to a list, one withdrawn), roles "
        "(accepted, declined), commitments (collective receiver with two receiver values, "
        "a fair value, one withdrawn), indicators with and without target; escapes, "
        "accents and an emoji; fulfilments, stages, consents and acknowledgements after, "
        "which change nothing.", _full(), acknowledge=True),
    "04-withdrawal": lambda: vector(
        "centre-c withdraws: it leaves the parties, its expectation is withdrawn, its "
        "accepted role ends, its commitment stays.", _withdrawal()),
    "05-withdrawal-kept-as-stated": lambda: vector(
        "centre-c withdraws: its own expectation e2 is withdrawn, but what the others "
        "stated stays as stated: e1 is still addressed to centre-a and centre-c, the "
        "collective commitment c1 keeps centre-c's declared value, and c2 still names "
        "centre-c as its receiver.", _withdrawal_kept()),
    "06-withdrawn-then-rejoined": lambda: vector(
        "centre-c, invited again, joins again: it is a party with no porteur (the one it "
        "named before withdrawing is not restored), and its expectation e2 stays "
        "withdrawn.", _rejoined()),
}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in VECTORS.items():
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(make(), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
