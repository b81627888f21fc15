"""The reference and ordering check (``check_order``): sound on every history the rules
admit (the scenario, and hypothesis-generated random histories, whole or filtered), and
it catches each kind of fault planted in a document. Every random document also reads
back with the ``prov`` package."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prov.model import ProvDocument

from ledger.provenance import Evidence, build_prov, check_order, dumps_json, org_keys
from ledger.provenance.provdoc import ProvDoc, Relation, to_provn
from tests.provenance.histories import gaps, history, steps
from tests.provenance.scenario import ORGS, World, by_stream, entries_of

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def scenario_doc(world: World) -> ProvDoc:
    streams = by_stream(entries_of(world.envelopes))
    keys = {o: org_keys(o, streams[f"org/{o}"]) for o in ORGS}
    return build_prov(list(streams.values()), Evidence(keys))


def test_the_scenario_is_sound(world: World) -> None:
    doc = scenario_doc(world)
    assert check_order(doc) == []
    assert len(doc.relations) > 200


@SETTINGS
@given(steps, gaps, st.integers(0, 2**16), st.booleans())
def test_random_histories_are_sound(drawn, gap, mask, end) -> None:  # type: ignore[no-untyped-def]
    entries = history(drawn, gap, terminate=end)
    whole = build_prov([entries], Evidence())
    assert check_order(whole) == [], entries
    # an export of a subset (one consenting organization, an item's chain) stays sound:
    # what it references but does not generate is declared, and nothing is out of order
    some = build_prov([entries], Evidence(),
                      include=lambda e: bool(mask >> (e.version % 16) & 1))
    assert check_order(some) == []
    read = ProvDocument.deserialize(content=dumps_json(whole), format="json")
    assert len(read.get_records()) == len(whole.elements) + len(whole.relations)
    assert to_provn(whole).count("\n") == len(whole.elements) + len(whole.relations) + 4


def _log_index(doc: ProvDoc, activity: str) -> int:
    el = doc.elements[("activity", activity)]
    return next(v for n, v in el.attrs if n == "mut:logIndex")  # type: ignore[return-value]


def _set_index(doc: ProvDoc, activity: str, value: int) -> None:
    el = doc.elements[("activity", activity)]
    el.attrs = [(n, value if n == "mut:logIndex" else v) for n, v in el.attrs]


def test_it_catches_planted_faults(world: World) -> None:
    base = scenario_doc(world)
    gen = next(r for r in base.relations if r.kind == "wasGeneratedBy"
               and "/terms/2" in str(r.args[0]))
    use = next(r for r in base.relations if r.kind == "used")

    doc = copy.deepcopy(base)  # an undeclared reference
    doc.relations.append(Relation("used", (use.args[0], "mut:nowhere", None)))
    assert any("mut:nowhere is not declared" in p for p in check_order(doc))

    doc = copy.deepcopy(base)  # used before it was generated
    user = str(use.args[0])
    generator = next(r for r in doc.relations if r.kind == "wasGeneratedBy"
                     and r.args[0] == use.args[1])
    _set_index(doc, str(generator.args[1]), _log_index(doc, user) + 1_000_000)
    assert any("before it is generated" in p for p in check_order(doc))

    doc = copy.deepcopy(base)  # generated twice
    doc.relations.append(Relation("wasGeneratedBy", (gen.args[0], use.args[0], None)))
    assert any("generated 2 times" in p for p in check_order(doc))

    doc = copy.deepcopy(base)  # invalidated before generated
    first = next(r for r in doc.relations if r.kind == "wasGeneratedBy")
    earliest = min(_log_index(doc, a) for k, a in doc.elements if k == "activity")
    doc.relations.append(Relation("wasInvalidatedBy", (first.args[0], "mut:early", None)))
    doc.declare("activity", "mut:early", [("mut:logIndex", earliest - 1)])
    assert any("invalidated (log" in p and "before it is generated" in p
               for p in check_order(doc))

    doc = copy.deepcopy(base)  # derived from something generated later
    rev = next(r for r in doc.relations if r.kind == "wasDerivedFrom")
    doc.relations.append(Relation("wasDerivedFrom", (rev.args[1], rev.args[0], None, None,
                                                     None)))
    assert any("generated later" in p for p in check_order(doc))

    doc = copy.deepcopy(base)  # two activities at one log index
    a, b = [i for k, i in doc.elements if k == "activity"][:2]
    _set_index(doc, b, _log_index(doc, a))
    assert any("share log index" in p for p in check_order(doc))
