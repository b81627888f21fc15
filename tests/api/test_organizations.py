"""GET /v1/organizations/{id}: profile folded from the org stream, keys with ranges."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Request, get
from litestar.params import FromPath

from ledger import b64
from ledger.api.auth import principal_of, require_org_reader
from ledger.keys import generate_private_key, key_id, raw_public_key
from tests.api.conftest import assert_problem, body, token_for
from tests.helpers import hash_of, org

pytestmark = pytest.mark.pg


async def test_profile_and_keys_with_validity_ranges(client):
    acme = org("centre-arts")
    other = org("lieu-b")
    k2 = generate_private_key()
    reg = acme.registration("Centre d'arts", region="Lille", website="https://a.example.org")
    add = acme.key_addition(2, hash_of(reg), k2, label="backup")
    update = acme.event("org/centre-arts", 3, hash_of(add), "organization.profile_updated",
                        {"name": "Centre d'arts de Lille", "profile": {"region": "Lyon",
                                                                       "website": None}})
    revoke = acme.key_revocation(4, hash_of(update), acme.key_id, reason="compromised")
    r = await client.post("/v1/events",
                          json=body(other.registration("B"), reg, add, update, revoke))
    assert r.status_code == 201, r.text
    own = token_for(client, "org", "centre-arts")
    r = await client.get("/v1/organizations/centre-arts", headers=own)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "centre-arts"
    assert doc["name"] == "Centre d'arts de Lille"
    assert doc["profile"] == {"region": "Lyon"}
    assert (doc["registered_at"], doc["version"], doc["head_hash"]) == (1, 4, hash_of(revoke))
    first, second = doc["keys"]
    assert first == {"key_id": acme.key_id, "public_key": b64.encode(raw_public_key(acme.key)),
                     "added_at": 1, "revoked_at": 4, "label": None,
                     "revocation_reason": "compromised"}
    assert second == {"key_id": key_id(k2), "public_key": b64.encode(raw_public_key(k2)),
                      "added_at": 3, "revoked_at": None, "label": "backup",
                      "revocation_reason": None}


async def test_the_register_of_organizations_is_public(client, auditor):
    await client.post("/v1/events", json=body(org("centre-arts").registration("A"),
                                              org("lieu-b").registration("B")))
    for headers in (auditor, token_for(client, "trust", "witness"),
                    token_for(client, "org", "centre-arts")):
        r = await client.get("/v1/organizations/lieu-b", headers=headers)
        assert r.status_code == 200 and r.json()["name"] == "B"
    r = await client.get("/v1/organizations/lieu-b")  # no token: the register is public
    assert r.status_code == 200 and r.json()["name"] == "B"


@get("/test/orgs/{org_id:str}/private", guards=[require_org_reader("org_id")])
async def _org_private(request: Request[Any, Any, Any], org_id: FromPath[str]) -> dict[str, str]:
    return {"org": org_id, "reader": principal_of(request).subject}


@pytest.fixture
def app(app):
    app.register(_org_private)
    return app


async def test_org_reader_guard_admits_the_org_itself_and_auditors(client, auditor):
    own = token_for(client, "org", "centre-arts")
    r = await client.get("/test/orgs/centre-arts/private", headers=own)
    assert r.json() == {"org": "centre-arts", "reader": "centre-arts"}
    assert (await client.get("/test/orgs/lieu-b/private", headers=auditor)).status_code == 200
    assert_problem(await client.get("/test/orgs/lieu-b/private", headers=own), 403, "forbidden")
    assert_problem(await client.get("/test/orgs/lieu-b/private"), 401, "token-missing")


async def test_unknown_organization_is_404_and_bad_id_400(client, auditor):
    r = await client.get("/v1/organizations/nobody", headers=auditor)
    assert_problem(r, 404, "not-found", field="org_id")
    r = await client.get("/v1/organizations/Not_An_Id", headers=auditor)
    assert_problem(r, 400, "request-invalid", field="org_id")
