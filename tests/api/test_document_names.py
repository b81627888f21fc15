"""GET /v1/agreements/{id}/document names organizations by their registered name (with
their id), as the register holds it now; an id without a registered name stays an id."""

from __future__ import annotations

import pytest

from tests.api.conftest import Agreement, body
from tests.helpers import org

pytestmark = pytest.mark.pg


async def test_the_document_names_organizations(client, auditor):
    acme = org("centre-arts")
    r = await client.post("/v1/events", json=body(acme.registration("Centre des arts *du* Nord")))
    assert r.status_code == 201, r.text
    r = await client.post("/v1/events", json=body(Agreement(acme).next()))
    assert r.status_code == 201, r.text
    for lang, drafted, milestone in (("fr", "Rédigée par", "Entente rédigée par"),
                                     ("en", "Drafted by", "Agreement drafted by")):
        r = await client.get("/v1/agreements/a1/document", params={"lang": lang},
                             headers=auditor)
        assert r.status_code == 200, r.text
        assert f"| {drafted} | Centre des arts \\*du\\* Nord (centre-arts), " in r.text
        assert f"{milestone} Centre des arts \\*du\\* Nord (centre-arts)" in r.text
