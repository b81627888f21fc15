"""A trust token reads what consents cover, on every route that discloses content.

The scenario (``tests/provenance/scenario.py``): in the private agreement, the centre
consents to ``TRUST`` for every family, the theatre for ``agreement`` and
``commitment`` only, the festival withdrew its consent. ``OTHER_TRUST`` has none.
These tests failed before the policy of ``ledger.access`` applied to these routes:
a trust with no consent got 200 and every event's content from each of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import b64, merkle
from ledger.domain import commands as d
from tests.api.conftest import assert_problem
from tests.provenance.conftest import Served, post_all
from tests.provenance.scenario import AID, CA, FR, TF, TRUST

pytestmark = pytest.mark.pg

AGREEMENT = f"/v1/agreements/{AID}"
OWN = ("c-ca", "c-tf", "c-fr")  # the consents given to TRUST
ROUTES = (AGREEMENT, f"{AGREEMENT}/history", f"{AGREEMENT}/document",
          f"/v1/streams/agreement/{AID}/events", f"/v1/streams/agreement/{AID}")


async def test_a_trust_without_consent_reads_nothing_of_a_private_agreement(
        served: Served) -> None:
    for path in ROUTES:
        doc = assert_problem(await served.get(path, served.other_trust), 403,
                             "consent-missing")
        assert doc["reason"] == "missing" and doc["agreement_id"] == AID, doc
    for path in ROUTES:  # an auditor still reads everything
        assert (await served.get(path)).status_code == 200, path


async def test_a_trust_reads_in_the_history_only_the_events_consents_cover(
        served: Served) -> None:
    everything = await _history(served, served.auditor)
    mine = await _history(served, served.trust)
    assert 0 < len(mine) < len(everything)
    for e in mine:
        family = e["type"].split(".", 1)[0]
        own_consent = family == "consent" and e["data"].get("consent_id") in OWN
        assert e["actor"] == CA or (e["actor"] == TF and family in ("agreement",
                                                                   "commitment")) \
            or own_consent, e
    assert FR not in {e["actor"] for e in mine if not e["type"].startswith("consent.")}
    ca = [e["version"] for e in everything if e["actor"] == CA]
    assert ca == [e["version"] for e in mine if e["actor"] == CA]  # nothing of CA missing

    events = (await served.get(f"/v1/streams/agreement/{AID}/events", served.trust)).json()
    assert [e["version"] for e in events["events"]] == [e["version"] for e in mine]


async def test_folded_views_need_every_event_covered(served: Served) -> None:
    """State and document fold every party's events: the festival's consent was
    withdrawn, so the trust gets neither (it gets the events that are covered)."""
    for path in (AGREEMENT, f"{AGREEMENT}/document"):
        doc = assert_problem(await served.get(path, served.trust), 403, "consent-missing")
        assert doc["trust_id"] == TRUST and doc["organization"] in (TF, FR), doc


async def test_a_withdrawal_applies_to_the_next_request(served: Served) -> None:
    before = await _history(served, served.trust)
    assert any(e["actor"] == CA and e["type"] != "consent.withdrawn" for e in before)
    served.world.act(CA, d.WithdrawConsent, consent_id="c-ca", reason="Fin du partage")
    await post_all(served.client, served.world.take())
    after = await _history(served, served.trust)
    assert not any(e["actor"] == CA and not e["type"].startswith("consent.")
                   for e in after)
    assert any(e["type"] == "consent.withdrawn" and e["data"]["consent_id"] == "c-ca"
               for e in after)  # the trust learns why


async def test_the_log_gives_a_trust_leaf_hashes_not_content(served: Served) -> None:
    full = (await served.get("/v1/log/entries", limit=1000)).json()["entries"]
    other = (await served.get("/v1/log/entries", served.other_trust,
                              limit=1000)).json()["entries"]
    assert [e["index"] for e in other] == [e["index"] for e in full]
    private = 0
    for seen, whole in zip(other, full, strict=True):
        leaf = b64.decode(whole["leaf"])
        assert b64.decode(seen["leaf_hash"]) == merkle.hash_leaf(leaf) \
            == b64.decode(whole["leaf_hash"])
        stream = whole["envelope"] and _stream_of(whole)
        if stream.startswith("org/"):
            assert seen["leaf"] == whole["leaf"] and seen["envelope"] == whole["envelope"]
        else:
            private += 1
            assert seen["leaf"] is None and seen["envelope"] is None, seen
    assert private > 0
    # what it receives still proves inclusion against a checkpoint: the proof needs
    # only the leaf hash
    r = await served.get("/v1/log/proof/inclusion", served.other_trust, index=5,
                         size=served.checkpoint_size)
    assert r.status_code == 200
    assert b64.decode(r.json()["leaf_hash"]) == b64.decode(other[5]["leaf_hash"])


async def _history(served: Served, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await served.get(f"{AGREEMENT}/history", headers, limit=1000)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["entries"]
    return entries


def _stream_of(entry: dict[str, Any]) -> str:
    import json

    payload = json.loads(b64.decode(entry["envelope"]["payload"]))
    stream: str = payload["stream"]
    return stream
