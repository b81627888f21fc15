"""The reading policy (``ledger.access``), pure: who reads which event of which stream."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.access import Reader, Seen, agreement_access, entry_visible
from ledger.domain.state import AgreementState
from tests.provenance.scenario import CA, FR, OTHER_TRUST, TF, TRUST, World, entries_of

TODAY = "2026-12-06"


def _world() -> tuple[AgreementState, list[Seen]]:
    w = World()
    w.phase_one()
    seen = [Seen(e.stream, e.actor, e.type, e.data.get("consent_id")
                 if e.type.startswith("consent.") else None)
            for e in entries_of(w.envelopes)]
    return w.state, seen


STATE, SEEN = _world()
READERS = [Reader("public"), Reader("org", CA), Reader("org", "inconnu"),
           Reader("trust", TRUST), Reader("trust", OTHER_TRUST), Reader("auditor", "cour")]


def test_who_reads_a_private_agreement() -> None:
    mine = [s for s in SEEN if s.stream_kind == "agreement"]
    assert all(entry_visible(Reader("auditor"), s, STATE, TODAY) for s in SEEN)
    assert all(entry_visible(Reader("org", CA), s, STATE, TODAY) for s in mine)
    assert not any(entry_visible(r, s, STATE, TODAY) for s in mine
                   for r in (Reader("public"), Reader("org", "inconnu"),
                             Reader("trust", OTHER_TRUST)))
    trust = Reader("trust", TRUST)
    shown = {(s.actor, s.family) for s in mine if entry_visible(trust, s, STATE, TODAY)}
    assert (CA, "fulfilment") in shown and (TF, "commitment") in shown
    assert (TF, "fulfilment") not in shown and (FR, "expectation") not in shown
    access = agreement_access(trust, STATE, SEEN, TODAY)
    assert access.some and not access.whole and access.withheld is not None
    none = agreement_access(Reader("trust", OTHER_TRUST), STATE, SEEN, TODAY)
    assert not none.some and not none.whole and none.withheld is not None
    assert none.withheld.reason == "missing"


def test_a_public_agreement_is_read_by_everyone_a_trust_included() -> None:
    public = msgspec.structs.replace(STATE, public=True)
    for reader in READERS:
        assert all(entry_visible(reader, s, public, TODAY) for s in SEEN)
        assert agreement_access(reader, public, SEEN, TODAY).whole


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SEEN), st.sampled_from(READERS), st.booleans())
def test_what_anyone_reads_every_reader_reads(seen: Seen, reader: Reader,
                                              public: bool) -> None:
    state = msgspec.structs.replace(STATE, public=public)
    if entry_visible(Reader("public"), seen, state, TODAY):
        assert entry_visible(reader, seen, state, TODAY)
    assert entry_visible(Reader("auditor"), seen, state, TODAY)
    if seen.stream_kind == "org":
        assert entry_visible(reader, seen, state, TODAY)
