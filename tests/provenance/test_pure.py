"""The pure parts, without a database: consent coverage on given dates, key validity
from an organization's stream, query windows and bounds, event records without a
checkpoint, identifiers that stay valid in PROV-N, and the answers on the scenario."""

from __future__ import annotations

import pytest
from prov.model import ProvDocument

from ledger.domain.state import AgreementState, Consent
from ledger.provenance import (
    NOT_CHECKPOINTED,
    CheckpointInfo,
    ConsentView,
    Entry,
    Evidence,
    agreement_answer,
    build_prov,
    check_order,
    commitment_answer,
    coverage,
    dumps_json,
    event_record,
    key_verdict,
    org_keys,
    parse_bound,
    proof_positions,
    to_provn,
    type_qname,
    walk,
    window,
)
from ledger.provenance.provdoc import ProvDoc, QName, Time, local
from tests.provenance.scenario import AID, CA, FR, ORGS, TF, TRUST, World, by_stream, entries_of


def _state(*consents: Consent) -> AgreementState:
    s = AgreementState(agreement_id="a1")
    s.consents = {c.id: c for c in consents}
    return s


def _consent(cid: str, org: str, scope: tuple[str, ...], expires: str = "2027-12-31",
             withdrawn: str | None = None, trust: str = TRUST) -> Consent:
    return Consent(cid, org, trust, "But", scope, "CC BY 4.0", expires,
                   "2026-03-01T10:00:00Z", withdrawn)


def test_consent_coverage_on_a_date() -> None:
    s = _state(_consent("c1", CA, ("commitment", "fulfilment")),
               _consent("c2", TF, ("commitment",), expires="2026-06-30"),
               _consent("c3", FR, ("commitment",), withdrawn="2026-04-01T10:00:00Z"),
               _consent("c4", "other", ("commitment",), trust="autre"))
    day = "2026-05-01"
    assert coverage(s, CA, TRUST, "commitment", day).ok
    assert coverage(s, CA, TRUST, "commitment", "2027-12-31").ok  # the last day counts
    assert coverage(s, CA, TRUST, "commitment", "2028-01-01").reason == "expired"
    assert coverage(s, CA, TRUST, "commitment", "2026-02-28").reason == "expired"  # not yet
    out = coverage(s, CA, TRUST, "party", day)
    assert (out.ok, out.reason, out.consent_id) == (False, "out-of-scope", "c1")
    assert coverage(s, TF, TRUST, "commitment", day).ok
    assert coverage(s, TF, TRUST, "commitment", "2026-07-01").reason == "expired"
    assert coverage(s, FR, TRUST, "commitment", day).reason == "withdrawn"
    assert coverage(s, "other", TRUST, "commitment", day).reason == "missing"
    # a second consent in force wins over a withdrawn one
    s.consents["c5"] = _consent("c5", FR, ("commitment",), expires="2030-01-01")
    assert coverage(s, FR, TRUST, "commitment", day).consent_id == "c5"


def test_consent_view_public_register_and_own_consents() -> None:
    s = _state(_consent("c1", CA, ("commitment",)), _consent("c9", TF, ("party",),
                                                             trust="autre"))
    view = ConsentView(s, TRUST, "2026-05-01")
    org_event = Entry(0, "t", "org/theatre", 1, "h", "organization.registered", {}, TF, "k",
                      "t")
    mine = Entry(1, "t", "agreement/a1", 2, "h", "consent.given", {"consent_id": "c1"}, CA,
                 "k", "t")
    theirs = Entry(2, "t", "agreement/a1", 3, "h", "consent.given", {"consent_id": "c9"},
                   TF, "k", "t")
    assert view.visible(org_event) and view.visible(mine) and not view.visible(theirs)
    assert view.withheld([org_event, mine, theirs]) == [
        coverage(s, TF, TRUST, "consent", "2026-05-01").to_json() | {"events": 1}]


def test_key_validity_from_the_org_stream(world: World) -> None:
    streams = by_stream(entries_of(world.envelopes))
    keys = {o: org_keys(o, streams[f"org/{o}"]) for o in ORGS}
    first, second = world.first_key[CA], world.signers[CA].key_id
    history = keys[CA].keys
    added = history[second].added_position
    revoked = history[first].revoked_at
    assert history[second].valid_from == added + 1 and revoked is not None
    assert key_verdict(keys, CA, first, revoked)["valid"]  # the revocation itself
    assert not key_verdict(keys, CA, first, revoked + 1)["valid"]
    assert key_verdict(keys, CA, first, 0) | {"valid": True, "revoked_later": True,
                                               "revocation_reason": "compromised"} == \
        key_verdict(keys, CA, first, 0)
    assert not key_verdict(keys, CA, second, added)["valid"]  # not before it was added
    assert not key_verdict(keys, TF, first, 5)["known"]  # the centre's key, not the theatre's


def test_windows_and_bounds() -> None:
    assert window(None, None, None) is None
    w = window("2027", None, None)
    assert w is not None and (w.start, w.end) == ("2027-01-01", "2027-12-31")
    assert w.contains("2027-01-04", "2027-01-29") and not w.contains("2027-12-13", "2028-01-07")
    assert w.overlaps("2027-12-13", "2028-01-07") and not w.overlaps("2028-01-01", "2028-02-01")
    open_end = window(None, "2027-06-01", None)
    assert open_end is not None and open_end.contains("2030-01-01", "2030-01-02")
    for bad in (("27", None, None), ("2027", "2027-01-01", None), (None, "2027-02-30", None),
                (None, "2027-05-01", "2027-01-01")):
        with pytest.raises(ValueError):
            window(*bad)
    assert parse_bound("2027-01-01", name="at", end=True) == "2027-01-01T23:59:59.999999"
    assert parse_bound("2027-01-01T10:00:05Z", name="at", end=True) == "2027-01-01T10:00:05.000000"
    with pytest.raises(ValueError, match="at"):
        parse_bound("yesterday", name="at", end=True)


def test_event_records_and_checkpoints() -> None:
    e = Entry(7, "2026-01-01T00:00:00.000000Z", "agreement/a1", 1, "ab" * 32,
              "agreement.drafted", {}, CA, "k", "2026-01-01T00:00:00Z", b"\x01" * 32)
    assert event_record(e, Evidence())["inclusion"] == {"status": NOT_CHECKPOINTED}
    cp = CheckpointInfo(7, b"\x00" * 32, "note")
    assert proof_positions([e], cp) == []
    assert event_record(e, Evidence(checkpoint=cp))["inclusion"]["status"] == NOT_CHECKPOINTED
    cp8 = CheckpointInfo(8, b"\x00" * 32, "note")
    assert proof_positions([e, e], cp8) == [7]
    record = event_record(e, Evidence(checkpoint=cp8, proofs={7: [b"\x02" * 32]}))
    assert record["inclusion"]["proof"] == ["AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="]
    assert record["key"]["known"] is False


def test_identifiers_stay_valid_prov_n() -> None:
    assert local("agreement", "a:b.c", "commitment", "x/y") == \
        "mut:agreement/a%3Ab%2Ec/commitment/x%2Fy"
    assert type_qname("commitment.received_value_declared") == QName(
        "mut:CommitmentReceivedValueDeclared")
    doc = ProvDoc()
    doc.declare("entity", local("agreement", "a:1."), [("mut:text", 'Dit "oui"\nà tous'),
                                                         ("mut:n", 3), ("mut:ok", True),
                                                         ("mut:t", Time("2026-01-01T00:00:00Z"))])
    doc.declare("agent", local("org", "a"), [("prov:type", QName("prov:Organization"))])
    doc.relate("wasAttributedTo", local("agreement", "a:1."), local("org", "a"))
    text = to_provn(doc)
    assert '"Dit \\"oui\\"\\nà tous"' in text and '"3" %% xsd:long' in text
    back = ProvDocument.deserialize(content=dumps_json(doc), format="json")
    (entity,) = [r for r in back.get_records() if str(r.identifier) == "mut:agreement/a%3A1%2E"]
    assert dict((str(k), v) for k, v in entity.extra_attributes)["mut:text"] == 'Dit "oui"\nà tous'
    assert check_order(doc) == []


def test_answers_on_the_scenario_with_a_filter(world: World) -> None:
    streams = by_stream(entries_of(world.envelopes))
    keys = {o: org_keys(o, streams[f"org/{o}"]) for o in ORGS}
    entries = streams[f"agreement/{AID}"]
    w = walk(entries, hashes=True)
    only_ca = lambda e: e.actor == CA  # noqa: E731
    answer = agreement_answer(w, Evidence(keys), visible=only_ca)
    assert {c["actor"] for c in answer["chain"]} == {CA}
    assert answer["ratifications"]["in_force"]["ratified_by"] == [CA]
    assert [iv["organization"] for iv in answer["membership"]["intervals"]] == [CA]
    c = commitment_answer(w, Evidence(keys), "comptable", visible=only_ca)
    assert c is not None and {v["organization"] for v in c["declared_values"]} == {CA}
    assert commitment_answer(w, Evidence(keys), "nope") is None
    doc = build_prov([entries], Evidence(keys), include=lambda e: e.actor == FR)
    assert check_order(doc) == []
    assert {el.id for el in doc.elements.values() if el.kind == "agent"} >= {
        local("org", FR), local("key", world.first_key[FR])}
    assert local("org", TF) not in {el.id for el in doc.elements.values()}


def test_folding_an_org_stream_twice_changes_nothing(world: World) -> None:
    org = by_stream(entries_of(world.envelopes))[f"org/{CA}"]
    once = org_keys(CA, org)
    twice = org_keys(CA, org + org[:2])  # a late reader replays the start again
    assert twice == once and once.version == len(org)
    assert once.keys[world.first_key[CA]].revocation_reason == "compromised"
