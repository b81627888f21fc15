"""The written agreement, in French and in English."""

from __future__ import annotations

import pytest
from domain_gwt import KEY, A, B, C, T, draft, founded, history, join, offer, ratified

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
    TerminateAgreement,
    WithdrawFromAgreement,
    expectation_hash,
    render_markdown,
    state_hash,
)
from ledger.domain.document import mentioned_orgs
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
                 "Valeur déclarée par centre-a, fournisseur\u00a0: 1\u00a0500\u00a0$",
                 "Valeur déclarée par centre-b, bénéficiaire\u00a0: 1\u00a0200,25\u00a0$",
                 "2\u00a0000,5\u00a0$ (évaluation)", "Locaux", "## Indicateurs",
                 "12,5 heures (2026-01-01 – 2026-01-31, par centre-b)",
                 "## Étapes de la démarche", "4. Établir un cadre",
                 "En cours\u00a0: fin reconnue par 1 des 3 parties (en attente de\u00a0: "
                 "centre-b, centre-c)", "## Chronologie",
                 "centre-c se joint à l'entente", "## Ratification", f"`{KEY}`",
                 "Protocole d'entente", "En vigueur depuis", "en attente de ratification",
                 "Prise en compte par\u00a0: centre-a (2026-01-10)",
                 "En attente de la prise en compte de\u00a0: centre-c.",
                 "1 réalisation consignée, 2,5 heures au total\u00a0; 1 confirmée par "
                 "l'organisme bénéficiaire\u00a0; aucune contestée", "culturepedia",
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
                 "## Resource commitments", "Value declared by centre-a, provider: $1,500",
                 "Value declared by centre-b, recipient: $1,200.25",
                 "$2,000.5 (appraisal)", "1 fulfilment recorded, 2.5 hours in total",
                 "## Stages of the process", "4. Set a framework",
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


# --- the written agreement reads well ---------------------------------------------

NAMES = {A: "Centre des arts", B: "Maison Bleue", C: "La Chorale"}


def test_organizations_are_named_by_their_registered_name_with_their_id() -> None:
    s = full_state()
    assert mentioned_orgs(s) == {A, B, C}
    md = render_markdown(s, "fr", NAMES)
    for text in ("| Rédigée par | Centre des arts (centre-a), le ",
                 "| Maison Bleue (centre-b) | `p-8e8e` |",
                 "### Maison Bleue (centre-b)",
                 "Fournisseur\u00a0: Centre des arts (centre-a) → Bénéficiaire\u00a0: "
                 "Maison Bleue (centre-b)",
                 "| Trésorerie \\| comptes | Tenir les comptes | La Chorale (centre-c) |",
                 "En attente de la prise en compte de\u00a0: La Chorale (centre-c).",
                 "| Centre des arts (centre-a) | 10 | non signée |"):
        assert text in md, text
    assert "Centre des arts (centre-a)" in render_markdown(s, "en", NAMES)
    # without a name, the id; a name is a party's words like any other
    assert "| centre-a | 10 | non signée |" in render_markdown(s, "fr", {B: "Maison"})
    assert "\\<b\\>B\\</b\\> (centre-b)" in render_markdown(s, "fr", {B: "<b>B</b>"})


@pytest.mark.parametrize(("amount", "unit", "fr", "en"), [
    ("384", "hour", "384 heures", "384 hours"),
    ("1", "hour", "1 heure", "1 hour"),
    ("1.5", "hour", "1,5 heure", "1.5 hours"),
    ("2", "day", "2 jours", "2 days"),
    ("48", "evening", "48 soirées", "48 evenings"),
    ("12", "participant", "12 participant·es", "12 participants"),
    ("3", "m²·month", "3 m²·month", "3 m²·month"),
    ("1500", "CAD", "1\u00a0500\u00a0$", "$1,500"),
])
def test_units_are_translated_and_pluralised(amount: str, unit: str, fr: str, en: str) -> None:
    h = history(*founded(), offer("c9", quantity=Quantity(amount, unit)))
    assert f"Quantité\u00a0: {fr}\n" in render_markdown(h.state, "fr")
    assert f"Quantity: {en}\n" in render_markdown(h.state, "en")


def test_the_receiving_party_is_the_beneficiary() -> None:
    md = render_markdown(full_state(), "fr")
    assert "Bénéficiaire" in md and "eceveur" not in md
    assert "Recipient" in render_markdown(full_state(), "en")


def _stage_row(md: str, stage: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"| {stage} |"))


def test_stages_say_why_they_are_not_complete_in_an_agreement_in_force() -> None:
    h = ratified(*founded(), join(C, 3))
    h.apply(StartStage(stage="plan", actor=A, at=T(10)))
    md = render_markdown(h.state, "fr", NAMES)
    assert "En vigueur depuis" in md
    assert "elles ne conditionnent pas la vigueur de l'entente" in md
    assert ("En cours\u00a0: fin reconnue par 0 des 3 parties (en attente de\u00a0: "
            "Centre des arts (centre-a), Maison Bleue (centre-b), La Chorale (centre-c))"
            in _stage_row(md, "5. Planifier"))
    en = render_markdown(h.state, "en")
    assert "they do not condition the agreement's force" in en
    assert "In progress: end acknowledged by 0 of 3 parties (awaiting: centre-a, " in en
    h.apply(SuspendAgreement(reason="Travaux", actor=A, at=T(11)))
    assert "En pause, l'entente étant suspendue" in _stage_row(
        render_markdown(h.state, "fr"), "5. Planifier")
    h.apply(TerminateAgreement(reason="Fin", actor=A, at=T(12)))
    md = render_markdown(h.state, "fr")
    assert "Inachevée, l'entente ayant pris fin" in _stage_row(md, "5. Planifier")
    assert "Plus en vigueur (la version" in md


def test_the_timeline_includes_commitments_roles_expectations_fulfilments_measures() -> None:
    md = render_markdown(full_state(), "fr", NAMES)
    timeline = md.split("## Chronologie")[1].split("\n## ")[0]
    for text in ("Engagement offert par Centre des arts (centre-a)\u00a0: c1 (Locaux)",
                 "Rôle proposé par Centre des arts (centre-a)\u00a0: Trésorerie \\| comptes",
                 "Rôle accepté par La Chorale (centre-c)",
                 "Attente énoncée par Maison Bleue (centre-b)\u00a0: e1",
                 "Centre des arts (centre-a) prend connaissance de l'attente e1",
                 "Réalisation consignée par Centre des arts (centre-a)\u00a0: f1 (2,5 heures, "
                 "engagement c1)",
                 "Réalisation confirmée par Maison Bleue (centre-b)",
                 "Indicateur défini par Centre des arts (centre-a)\u00a0: Heures partagées",
                 "Mesure consignée par Maison Bleue (centre-b)\u00a0: Heures partagées"):
        assert text in timeline, text
    en = render_markdown(full_state(), "en").split("## Timeline")[1]
    assert "Commitment offered by centre-a: c1 (Premises)" in en
    assert "Fulfilment recorded by centre-a: f1 (2.5 hours, commitment c1)" in en


def test_a_freshly_drafted_agreement_reads_naturally() -> None:
    s = history(draft()).state
    md = render_markdown(s, "fr", NAMES)
    assert ("| Statut | En rédaction\u00a0: les termes n'ont pas encore été ratifiés par "
            "toutes les parties |") in md
    assert ("| Vigueur | Pas encore en vigueur\u00a0: aucune version des termes n'a encore "
            "été ratifiée par toutes les parties |") in md
    assert "Active" not in md
    assert "Invitations en attente\u00a0: Maison Bleue (centre-b), La Chorale (centre-c)" in md
    en = render_markdown(s, "en")
    assert "| Status | Being drafted: the terms have not been ratified by every party yet |" in en
    assert "Active" not in en
    ratified_md = render_markdown(ratified(*founded()).state, "fr")
    assert "| Statut | En vigueur |" in ratified_md
