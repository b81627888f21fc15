"""GET /v1/agreements: the list read from the projections, which the app keeps current in
the background; filters, cursor pagination and who sees what."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.conftest import Agreement, assert_problem, body, token_for
from tests.helpers import org

pytestmark = pytest.mark.pg


async def test_list_filters_paginates_and_respects_access(client, auditor):
    a, b = org("centre-arts"), org("lieu-b")
    await client.post("/v1/events", json=body(a.registration("A"), b.registration("B")))
    private = Agreement(a, "prive")
    draft_public = {"agreement_id": "public-1", "title": "Locaux", "purpose": "Partager",
                    "binding": False, "public": True}
    public = Agreement(b, "public-1")
    r = await client.post("/v1/events", json=body(
        private.next(), public.next("agreement.drafted", draft_public)))
    assert r.status_code == 201, r.text

    everything = None
    for _ in range(100):
        everything = (await client.get("/v1/agreements", headers=auditor)).json()
        if len(everything["agreements"]) == 2:
            break
        await asyncio.sleep(0.05)
    assert [x["id"] for x in everything["agreements"]] == ["prive", "public-1"]

    anonymous = (await client.get("/v1/agreements")).json()
    assert [x["id"] for x in anonymous["agreements"]] == ["public-1"]
    mine = (await client.get("/v1/agreements",
                             headers=token_for(client, "org", "centre-arts"))).json()
    assert {x["id"] for x in mine["agreements"]} == {"prive", "public-1"}
    by_party = (await client.get("/v1/agreements", params={"party": "lieu-b"},
                                 headers=auditor)).json()
    assert [x["id"] for x in by_party["agreements"]] == ["public-1"]
    first = (await client.get("/v1/agreements", params={"limit": 1},
                              headers=auditor)).json()
    assert [x["id"] for x in first["agreements"]] == ["prive"] and first["next"] == "prive"
    second = (await client.get("/v1/agreements", params={"limit": 1, "cursor": first["next"]},
                               headers=auditor)).json()
    assert [x["id"] for x in second["agreements"]] == ["public-1"] and second["next"] is None
    assert_problem(await client.get("/v1/agreements", params={"limit": 0}), 400,
                   "request-invalid")
