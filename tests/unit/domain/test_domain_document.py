"""The written agreement, in French and in English."""

from __future__ import annotations

from domain_gwt import KEY, A, B, C, T, founded, history, join, offer, ratified

from ledger.domain import (
    AcceptRole,
    AcknowledgeExpectation,
    AcknowledgeStageCompletion,
    ConfirmFulfilment,
    DeclareReceivedValue,
    DefineIndicator,
    GiveConsent,
    NamePorteur,
    ProposeRole,
    RecordFulfilment,
    RecordMeasurement,
    StartStage,
    StateExpectation,
    SuspendAgreement,
    WithdrawFromAgreement,
    expectation_hash,
    render_markdown,
    state_hash,
)
from ledger.domain.state import AgreementState
from ledger.domain.values import FairValue, Period, Quantity

EVIDENCE = "5" * 64


def full_state() -> AgreementState:
    h = ratified(
        *founded(), join(C, 3),
        NamePorteur(person_id="p-7f3a", actor=A, at=T(3)),
        StateExpectation(expectation_id="e1", text="Être consultés avant tout achat <b>commun</b>",
                         actor=B, at=T(4)),
        ProposeRole(role_id="r1", name="Trésorerie | comptes", description="Tenir les comptes",
                    assignee=C, actor=A, at=T(4)),
        AcceptRole(role_id="r1", person_id="p-19c2", actor=C, at=T(5)),
        offer("c1", value=Quantity("1500", "CAD"),
              fair_value=FairValue("2000.5", "CAD", "appraisal"), conditions="Clés au bureau"),
        DeclareReceivedValue(commitment_id="c1", value=Quantity("1200.25", "CAD"), actor=B,
                             at=T(6)),
        DefineIndicator(indicator_id="i1", name="Heures partagées", unit="hour",
                        method="Somme", target="1200", actor=A, at=T(6)),
    )
    s = h.state
    h.apply(AcknowledgeExpectation(expectation_id="e1",
                                   content_hash=expectation_hash(s.expectations["e1"]),
                                   actor=A, at=T(10)))
    for cmd in (
        RecordFulfilment(fulfilment_id="f1", commitment_id="c1", quantity=Quantity("2.5", "hour"),
                         period=Period("2026-01-12", "2026-01-12"), actor=A, at=T(12)),
        ConfirmFulfilment(fulfilment_id="f1", actor=B, at=T(13)),
        RecordMeasurement(measurement_id="m1", indicator_id="i1",
                          period=Period("2026-01-01", "2026-01-31"), value="12.5",
                          evidence_sha256=EVIDENCE, actor=B, at=T(14)),
        StartStage(stage="framework", actor=A, at=T(14)),
        AcknowledgeStageCompletion(stage="framework", actor=A, at=T(15)),
        GiveConsent(consent_id="k1", trust_id="culturepedia", purpose="Portrait des publics",
                    scope=["indicator"], licence="CC BY 4.0", expires_on="2027-01-01",
                    actor=A, at=T(15)),
        NamePorteur(person_id="p-8e8e", actor=B, at=T(16)),
    ):
        h.apply(cmd)
    return h.state


def test_french_document() -> None:
    s = full_state()
    md = render_markdown(s, "fr")
    for text in ("# Entente de mutualisation — Locaux partagés", "## Vision commune",
                 "Porteur·euse de projet", "`p-7f3a`", "## Attentes partagées",
                 "## Rôles et responsabilités", "## Engagements de ressources",
                 "Valeur déclarée par le fournisseur\u00a0: 1\u00a0500 CAD",
                 "Valeur déclarée par le receveur (centre-b)\u00a0: 1\u00a0200,25 CAD",
                 "2\u00a0000,5 CAD (évaluation)", "Locaux", "## Indicateurs",
                 "12,5 (2026-01-01 – 2026-01-31, par centre-b)", "## Étapes de la démarche",
                 "4. Établir un cadre", "En cours (1/3 parties)", "## Chronologie",
                 "centre-c se joint à l'entente", "## Ratification", f"`{KEY}`",
                 "Protocole d'entente", "En vigueur depuis", "en attente de ratification",
                 "Prise en compte par\u00a0: centre-a (2026-01-10)",
                 "En attente de la prise en compte de\u00a0: centre-c.",
                 "1 consignée(s), 2,5 hour au total\u00a0; 1 confirmée(s)", "culturepedia",
                 "identifiants pseudonymes"):
        assert text in md, text
    assert "None" not in md


def test_signatures_show_key_ids_and_log_positions() -> None:
    s = full_state()
    md = render_markdown(s)
    for sig in s.in_force_signatures:
        assert f"| {sig.org} | {sig.terms_version} | `{sig.state_hash}` | `{KEY}` | " \
               f"{sig.position} |" in md
    pending = f"Signatures de la version {s.terms_version} (en attente)"
    assert pending in md and f"| {A} | {s.terms_version} | non signée |" in md
    assert f"`{state_hash(s)}`" in md


def test_english_document() -> None:
    md = render_markdown(full_state(), "en")
    for text in ("# Pooling agreement — Locaux partagés", "## Shared vision",
                 "Project lead (porteur·euse)", "## Shared expectations",
                 "## Resource commitments", "Value declared by the provider: 1,500 CAD",
                 "Value declared by the receiver (centre-b): 1,200.25 CAD",
                 "2,000.5 CAD (appraisal)", "## Stages of the process", "4. Set a framework",
                 "Memorandum of understanding", "Signatures of the version in force",
                 "Awaiting acknowledgement by: centre-c."):
        assert text in md, text


def test_user_text_cannot_inject_html_or_break_tables() -> None:
    md = render_markdown(full_state())
    assert "<b>" not in md and "\\<b\\>commun\\</b\\>" in md
    assert "Trésorerie \\| comptes" in md


def test_status_and_former_parties() -> None:
    h = history(*founded(), join(C, 3),
                WithdrawFromAgreement(effective_on="2026-02-28", reason="Fusion", actor=C,
                                      at=T(4)),
                SuspendAgreement(reason="Travaux", actor=A, at=T(5)))
    md = render_markdown(h.state)
    assert "Suspendue (Travaux)" in md and "### Anciennes parties" in md
    assert "| centre-c | 2026-02-28 | Fusion |" in md
    assert "Aucune version n'a encore été ratifiée" in md
    assert "Invitations en attente" not in md


def test_an_empty_agreement_renders() -> None:
    md = render_markdown(history(*founded()).state, "en")
    assert "No commitment has been made yet." in md and "Pending invitations: centre-c" in md
    assert "Not yet in force" in md
