"""The six stages of the démarche, indicators and their measures."""

from __future__ import annotations

from domain_gwt import A, B, C, T, ev, founded, given, join

from ledger.domain import (
    AcknowledgeStageCompletion,
    DefineIndicator,
    InviteParty,
    RecordMeasurement,
    StartStage,
    WithdrawFromAgreement,
    stage_complete,
)
from ledger.domain.values import Period

EVIDENCE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def start(stage: str = "know_yourself", actor: str = A, day: int = 3) -> StartStage:
    return StartStage(stage=stage, actor=actor, at=T(day))  # type: ignore[arg-type]


def done(actor: str, stage: str = "know_yourself", day: int = 4) -> AcknowledgeStageCompletion:
    return AcknowledgeStageCompletion(stage=stage, actor=actor, at=T(day))  # type: ignore[arg-type]


def test_any_party_starts_a_stage() -> None:
    s = given(*founded()).when(start(actor=B)).then(ev("stage.started",
                                                       stage="know_yourself"))
    assert s.stages["know_yourself"].started_by == B
    assert not stage_complete(s, "know_yourself")


def test_unknown_stage_names_are_malformed() -> None:
    given(*founded()).when(start("party_time")).rejects("event.malformed", field="stage")


def test_starting_a_started_stage_is_idempotent() -> None:
    given(*founded(), start()).when(start(actor=B, day=4)).then()


def test_complete_when_every_current_party_acknowledged() -> None:
    s = given(*founded(), start()).when(done(A)).then(
        ev("stage.completion_acknowledged", stage="know_yourself"))
    assert not stage_complete(s, "know_yourself")
    ack = AcknowledgeStageCompletion(stage="know_yourself", note="Bilan déposé",
                                     evidence_sha256=EVIDENCE, actor=B, at=T(5))
    s = given(*founded(), start(), done(A)).when(ack).then(ev(
        "stage.completion_acknowledged", stage="know_yourself", note="Bilan déposé",
        evidence_sha256=EVIDENCE))
    assert stage_complete(s, "know_yourself")
    assert s.stages["know_yourself"].completed_at == T(5)


def test_acknowledging_twice_is_idempotent_and_needs_a_start() -> None:
    given(*founded(), start(), done(A)).when(done(A, day=5)).then()
    given(*founded()).when(done(A)).rejects("stage.not-started", field="stage")


def test_a_new_party_reopens_completion_and_a_leaver_can_close_it() -> None:
    complete = (*founded(), start(), done(A), done(B))
    s = given(*complete).when(join(C, 6)).then(ev("party.joined"))
    assert not stage_complete(s, "know_yourself")
    assert s.stages["know_yourself"].completed_at is None
    s = given(*complete, join(C, 6)).when(
        WithdrawFromAgreement(effective_on="2026-02-01", reason="Départ", actor=C,
                              at=T(7))).then(
        ev("party.withdrew", effective_on="2026-02-01", reason="Départ"))
    assert stage_complete(s, "know_yourself")


def test_starting_a_complete_stage_opens_a_new_round() -> None:
    complete = (*founded(), start(), done(A), done(B))
    s = given(*complete).when(start(day=8)).then(ev("stage.started", stage="know_yourself"))
    stage = s.stages["know_yourself"]
    assert stage.round == 2 and stage.acks == {} and not stage_complete(s, "know_yourself")


def test_stages_are_not_terms_and_need_no_order() -> None:
    s = given(*founded()).when(start("indicators")).then(
        ev("stage.started", stage="indicators"))
    assert s.terms_version == 2


def test_an_invitee_does_not_acknowledge() -> None:
    given(*founded(), start()).when(done(C)).rejects("agreement.not-party")
    given(*founded(), InviteParty(org="centre-d", actor=A, at=T(3)), start()).when(
        done("centre-d")).rejects("agreement.not-party")


# --- indicators ----------------------------------------------------------------------


def define(iid: str = "i1", actor: str = A, **kw: object) -> DefineIndicator:
    fields: dict[str, object] = {"indicator_id": iid, "name": "Heures de salle partagées",
                                 "unit": "hour", "method": "Somme des réservations"}
    fields.update(kw)
    return DefineIndicator(**fields, actor=actor, at=T(4))  # type: ignore[arg-type]


QUARTER = Period("2026-01-01", "2026-03-31")


def measure(mid: str = "m1", iid: str = "i1", value: str = "42",
            period: Period = QUARTER) -> RecordMeasurement:
    return RecordMeasurement(measurement_id=mid, indicator_id=iid, period=period, value=value,
                             evidence_sha256=EVIDENCE, actor=B, at=T(5))


def test_any_party_defines_an_indicator_with_a_target() -> None:
    s = given(*founded()).when(define(target="120")).then(ev(
        "indicator.defined", indicator_id="i1", name="Heures de salle partagées",
        unit="hour", method="Somme des réservations", target="120"))
    assert s.indicators["i1"].target == "120" and s.terms_version == 3


def test_indicator_ids_are_unique() -> None:
    given(*founded(), define()).when(define(actor=B)).rejects("indicator.duplicate")


def test_any_party_records_a_measure_with_its_evidence_hash() -> None:
    s = given(*founded(), define()).when(measure()).then(ev(
        "indicator.measured", measurement_id="m1", indicator_id="i1",
        period={"start": "2026-01-01", "end": "2026-03-31"}, value="42",
        evidence_sha256=EVIDENCE))
    assert s.measures["m1"].by == B and s.terms_version == 3  # measures are not terms


def test_measure_rules() -> None:
    given(*founded()).when(measure()).rejects("indicator.unknown", field="indicator_id")
    given(*founded(), define(), measure()).when(measure()).rejects("measure.duplicate")
    given(*founded(), define()).when(
        measure(period=Period("2026-04-01", "2026-03-31"))).rejects("period.inverted")
    given(*founded(), define()).when(measure(value="3.5e2")).rejects("event.malformed",
                                                                    field="value")
    bad_hash = RecordMeasurement(measurement_id="m1", indicator_id="i1",
                                 period=Period("2026-01-01", "2026-01-31"), value="1",
                                 evidence_sha256="XYZ", actor=B, at=T(5))
    given(*founded(), define()).when(bad_hash).rejects("event.malformed",
                                                      field="evidence_sha256")
