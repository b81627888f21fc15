"""Ratification of terms versions, coming into force, and consent to share data."""

from __future__ import annotations

from domain_gwt import (
    KEY,
    A,
    B,
    C,
    T,
    draft,
    ev,
    founded,
    given,
    history,
    join,
    offer,
    ratified,
    ratify,
    state_of,
)

from ledger.domain import (
    ChangeVisibility,
    GiveConsent,
    NamePorteur,
    RatifyAgreement,
    RecordFulfilment,
    StartStage,
    SuspendAgreement,
    WithdrawConsent,
    WithdrawFromAgreement,
    in_force,
    state_hash,
    terms_pending,
)
from ledger.domain.values import Period, Quantity


def test_in_force_when_every_party_ratified_the_same_version() -> None:
    h = history(*founded(), offer())
    s0 = h.state
    s = given(*founded(), offer()).when(ratify(s0, A)).then(ev(
        "agreement.ratified", terms_version=s0.terms_version, state_hash=state_hash(s0)))
    assert not in_force(s) and terms_pending(s)
    s = given(*founded(), offer(), ratify(s0, A)).when(ratify(s0, B)).then(ev(
        "agreement.ratified", terms_version=s0.terms_version, state_hash=state_hash(s0)))
    assert in_force(s) and not terms_pending(s)
    assert s.in_force_version == s0.terms_version == 3
    assert s.in_force_hash == state_hash(s0) == state_hash(s)
    assert [(x.org, x.key, x.position) for x in s.in_force_signatures] == [
        (A, KEY, 1004), (B, KEY, 1005)]


def test_ratifying_twice_is_idempotent() -> None:
    s0 = state_of(*founded())
    given(*founded(), ratify(s0, A)).when(ratify(s0, A, day=10)).then()


def test_ratification_binds_to_the_current_version_and_hash() -> None:
    s0 = state_of(*founded())
    stale = RatifyAgreement(terms_version=1, state_hash=state_hash(s0), actor=A, at=T(9))
    given(*founded()).when(stale).rejects("ratification.stale-version", field="terms_version")
    wrong = RatifyAgreement(terms_version=s0.terms_version, state_hash="f" * 64, actor=A,
                            at=T(9))
    given(*founded()).when(wrong).rejects("ratification.hash-mismatch", field="state_hash")


def test_an_agreement_needs_two_parties_to_ratify() -> None:
    s0 = state_of(draft())
    given(draft()).when(ratify(s0, A)).rejects("ratification.too-few-parties")


def test_only_parties_ratify() -> None:
    s0 = state_of(*founded())
    given(*founded()).when(ratify(s0, C)).rejects("agreement.not-party")


def test_a_terms_change_makes_a_pending_version_and_the_old_one_stays_in_force() -> None:
    h = ratified(*founded(), offer())
    in_force_version = h.state.in_force_version
    h.apply(NamePorteur(person_id="p-42", actor=A, at=T(10)))
    s = h.state
    assert in_force(s) and terms_pending(s)
    assert s.in_force_version == in_force_version and s.terms_version == in_force_version + 1
    h.apply(ratify(s, A, day=11))
    assert h.state.in_force_version == in_force_version
    h.apply(ratify(h.state, B, day=12))
    assert h.state.in_force_version == in_force_version + 1 and not terms_pending(h.state)


def test_what_is_not_a_term_needs_no_new_ratification() -> None:
    h = ratified(*founded(), offer())
    version = h.state.terms_version
    for cmd in (RecordFulfilment(fulfilment_id="f1", commitment_id="c1",
                                 quantity=Quantity("1", "hour"),
                                 period=Period("2026-01-10", "2026-01-10"), actor=A, at=T(10)),
                StartStage(stage="plan", actor=B, at=T(10)),
                ChangeVisibility(public=True, actor=B, at=T(10)),
                GiveConsent(consent_id="k1", trust_id="culturepedia", purpose="Portrait",
                            scope=["commitment"], licence="CC BY 4.0",
                            expires_on="2027-01-01", actor=A, at=T(10))):
        h.apply(cmd)
    assert h.state.terms_version == version and not terms_pending(h.state)


def test_joining_or_withdrawing_changes_the_terms() -> None:
    h = ratified(*founded())
    h.apply(join(C, 10))
    assert terms_pending(h.state) and in_force(h.state)


def test_suspension_halts_force_without_losing_the_ratified_version() -> None:
    h = ratified(*founded())
    h.apply(SuspendAgreement(reason="Pause", actor=A, at=T(10)))
    assert not in_force(h.state) and h.state.in_force_version == 2


def test_a_former_partys_signature_no_longer_counts() -> None:
    h = history(*founded(), join(C, 3))
    s0 = h.state
    h.apply(ratify(s0, A))
    h.apply(ratify(s0, B))
    assert not in_force(h.state)  # C has not signed


# --- consent -------------------------------------------------------------------------


def consent(cid: str = "k1", actor: str = A, **kw: object) -> GiveConsent:
    fields: dict[str, object] = {
        "consent_id": cid, "trust_id": "culturepedia",
        "purpose": "Portrait des publics et des ressources partagées",
        "scope": ["commitment", "fulfilment", "indicator"], "licence": "CC BY-NC 4.0",
        "expires_on": "2027-12-31"}
    fields.update(kw)
    return GiveConsent(**fields, actor=actor, at=T(5))  # type: ignore[arg-type]


def test_a_party_consents_to_share_with_a_data_trust() -> None:
    s = given(*founded()).when(consent()).then(ev(
        "consent.given", consent_id="k1", trust_id="culturepedia",
        purpose="Portrait des publics et des ressources partagées",
        scope=["commitment", "fulfilment", "indicator"], licence="CC BY-NC 4.0",
        expires_on="2027-12-31"))
    assert s.consents["k1"].org == A and s.consents["k1"].withdrawn_at is None


def test_consent_rules() -> None:
    given(*founded(), consent()).when(consent(actor=B)).rejects("consent.duplicate")
    given(*founded()).when(consent(expires_on="2025-12-31")).rejects("consent.expired",
                                                                    field="expires_on")
    given(*founded()).when(consent(scope=["agreement", "agreement"])).rejects(
        "event.duplicate-item", field="scope")
    given(*founded()).when(consent(scope=["everything"])).rejects("event.malformed")
    given(*founded()).when(consent(scope=[])).rejects("event.malformed", field="scope")
    given(*founded()).when(consent(actor=C)).rejects("agreement.not-party")


def test_only_the_consenting_party_withdraws_its_consent() -> None:
    withdraw = WithdrawConsent(consent_id="k1", reason="Changement de politique", actor=A,
                               at=T(8))
    given(*founded(), consent()).when(
        WithdrawConsent(consent_id="k1", actor=B, at=T(8))).rejects(
        "consent.not-holder", field="actor")
    s = given(*founded(), consent()).when(withdraw).then(
        ev("consent.withdrawn", consent_id="k1", reason="Changement de politique"))
    assert s.consents["k1"].withdrawn_at == T(8)
    given(*founded(), consent(), withdraw).when(withdraw).then()
    given(*founded()).when(withdraw).rejects("consent.unknown", field="consent_id")


def test_a_former_party_may_still_withdraw_its_consent() -> None:
    left = (*founded(), join(C, 3), consent(actor=C),
            WithdrawFromAgreement(effective_on="2026-02-01", reason="Départ", actor=C, at=T(6)))
    given(*left).when(WithdrawConsent(consent_id="k1", actor=C, at=T(7))).then(
        ev("consent.withdrawn", consent_id="k1"))
    given(*left).when(consent("k2", actor=C)).rejects("agreement.not-party")
