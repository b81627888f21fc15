"""Admission of organizations over HTTP, on a real PostgreSQL: registering needs the
operator's single-use registration token, used in the transaction that writes the
registration; a refused registration writes nothing (#14, point 3).

These tests run the app with registration closed (the default); the other API tests
open it (``tests/api/conftest.TEST_CONFIG``) to register their organizations freely.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ledger.api.app import ApiConfig, create_app
from ledger.runtime import Ledger
from ledger.tokens import create_token, list_tokens, revoke_token
from tests.api.conftest import assert_problem, body, in_app, settings_for
from tests.helpers import hash_of, org

pytestmark = pytest.mark.pg

CLOSED = ApiConfig(max_body_bytes=256 * 1024, max_events=20, writes_per_key_per_second=1000)


@pytest.fixture
def app(database: str, tmp_path: Path) -> Litestar:
    return create_app(settings_for(tmp_path, database), dsn=database, config=CLOSED,
                      background=False)


@pytest_asyncio.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app) as c:
        yield c


async def _new_token(ledger: Ledger, kind: str, subject: str) -> str:
    async with ledger.pool.acquire() as conn:
        token, _ = await create_token(conn, kind, subject)
    return token


def token(client: AsyncTestClient[Litestar], kind: str = "registration",
          subject: str = "pour le Centre d'arts") -> str:
    return in_app(client, _new_token, kind, subject)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def _size(ledger: Ledger) -> int:
    return await ledger.store.size()


async def _uses(ledger: Ledger) -> int:
    count: int = await ledger.pool.fetchval("SELECT count(*) FROM registration_token_uses")
    return count


def size(client: AsyncTestClient[Litestar]) -> int:
    return in_app(client, _size)


async def test_a_registration_without_a_token_is_refused_and_nothing_written(client):
    r = await client.post("/v1/events", json=body(org("centre-arts").registration("A")))
    assert_problem(r, 401, "registration-token-required", index=0)
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert size(client) == 0
    r = await client.get("/v1/organizations/centre-arts")
    assert r.status_code == 404


async def test_a_flood_of_throwaway_registrations_writes_nothing(client):
    """The report: 200 organizations registered in 0.8 s by an unauthenticated client."""
    for i in range(200):
        r = await client.post("/v1/events", json=body(org(f"jetable-{i}").registration("x")))
        assert r.status_code == 401, r.text
    assert size(client) == 0


async def test_a_token_admits_one_registration_once(client):
    admission = token(client)
    first = org("centre-arts").registration("Centre d'arts")
    r = await client.post("/v1/events", json=body(first), headers=bearer(admission))
    assert r.status_code == 201, r.text
    receipt = r.json()["receipts"][0]
    assert in_app(client, _uses) == 1

    # Another organization with the same token: refused, nothing written.
    r = await client.post("/v1/events", json=body(org("lieu-b").registration("B")),
                          headers=bearer(admission))
    assert_problem(r, 403, "registration-token-used", index=0)
    assert size(client) == 1

    # A retry of the same registration returns the original receipt, with the used
    # token or without any.
    for headers in (bearer(admission), {}):
        r = await client.post("/v1/events", json=body(first), headers=headers)
        assert r.status_code == 201, r.text
        assert r.json()["receipts"] == [receipt]
    assert size(client) == 1 and in_app(client, _uses) == 1
    [record] = in_app(client, _listed)
    assert record.kind == "registration" and record.used_at is not None


async def _listed(ledger: Ledger) -> list:  # type: ignore[type-arg]
    async with ledger.pool.acquire() as conn:
        return await list_tokens(conn)


async def test_unknown_revoked_and_reading_tokens_do_not_admit(client):
    async def revoked(ledger: Ledger) -> str:
        async with ledger.pool.acquire() as conn:
            value, record = await create_token(conn, "registration", "révoqué")
            await revoke_token(conn, record.id)
        return value

    candidates = [
        "ml_" + "A" * 43,  # well formed, unknown
        "pas-un-jeton",  # malformed
        in_app(client, revoked),
        token(client, "auditor", "vérificatrice"),
        token(client, "trust", "fiducie"),
        token(client, "org", "centre-arts"),
    ]
    for value in candidates:
        r = await client.post("/v1/events", json=body(org("centre-arts").registration("A")),
                              headers=bearer(value))
        assert_problem(r, 401, "registration-token-invalid", index=0)
    assert size(client) == 0 and in_app(client, _uses) == 0


async def test_two_registrations_in_one_batch_need_two_requests(client):
    admission = token(client)
    a, b = org("centre-arts").registration("A"), org("lieu-b").registration("B")
    r = await client.post("/v1/events", json=body(a, b), headers=bearer(admission))
    assert_problem(r, 401, "registration-token-required", index=1)
    assert size(client) == 0 and in_app(client, _uses) == 0
    # the token was not used up by the refused batch
    r = await client.post("/v1/events", json=body(a), headers=bearer(admission))
    assert r.status_code == 201, r.text


async def test_a_refused_registration_does_not_use_the_token(client):
    """The token is used in the registration's transaction: a registration the rules
    refuse (its key is already registered) leaves the token unused."""
    admission, other = token(client), token(client)
    acme = org("centre-arts")
    r = await client.post("/v1/events", json=body(acme.registration("A")),
                          headers=bearer(admission))
    assert r.status_code == 201, r.text
    twin = org("jumeau")
    twin.key = acme.key
    r = await client.post("/v1/events", json=body(twin.registration("B")),
                          headers=bearer(other))
    assert r.status_code == 422, r.text
    assert in_app(client, _uses) == 1
    r = await client.post("/v1/events", json=body(org("lieu-b").registration("B")),
                          headers=bearer(other))
    assert r.status_code == 201, r.text


async def test_events_after_the_registration_need_no_token(client):
    acme = org("centre-arts")
    reg = acme.registration("A")
    r = await client.post("/v1/events", json=body(reg), headers=bearer(token(client)))
    assert r.status_code == 201, r.text
    update = acme.event("org/centre-arts", 2, hash_of(reg), "organization.profile_updated",
                        {"profile": {"region": "Capitale-Nationale"}})
    r = await client.post("/v1/events", json=body(update))
    assert r.status_code == 201, r.text


async def test_concurrent_registrations_with_one_token_admit_exactly_one(client):
    admission = token(client)
    orgs = [org(f"course-{i}") for i in range(6)]
    answers = await asyncio.gather(*[
        client.post("/v1/events", json=body(o.registration("x")), headers=bearer(admission))
        for o in orgs])
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [403] * 5, [a.text for a in answers]
    assert size(client) == 1 and in_app(client, _uses) == 1


async def test_the_runtime_cannot_forge_a_token_use(client, database):
    """Token rows change only through the ledger's functions; no role may rewrite them."""
    admission = token(client)
    r = await client.post("/v1/events", json=body(org("centre-arts").registration("A")),
                          headers=bearer(admission))
    assert r.status_code == 201
    conn = await asyncpg.connect(database)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute("DELETE FROM registration_token_uses")
        assert await conn.fetchval("SELECT count(*) FROM registration_token_uses") == 1
    finally:
        await conn.close()


# --- the organization profile --------------------------------------------------------

FULL_PROFILE = {"website": "https://centre-arts.example.org", "region": "Capitale-Nationale",
                "legal_form": "OBNL", "registry_number": "1170000000", "sector": "culture",
                "description": "Arts visuels et médiation.\nDepuis 1987."}


async def test_a_profile_holding_a_person_is_refused_and_the_token_kept(client):
    """The report: a profile with a person's name, e-mail and health status, now public
    and impossible to remove."""
    admission = token(client)
    reg = org("centre-arts").registration(
        "Centre d'arts", contact="Marie Tremblay", email="marie@example.org",
        sante="en arrêt maladie")
    r = await client.post("/v1/events", json=body(reg), headers=bearer(admission))
    doc = assert_problem(r, 400, "organization-profile-invalid", index=0)
    assert doc["field"] in ("data.profile.contact", "data.profile.email",
                            "data.profile.sante")
    assert size(client) == 0 and in_app(client, _uses) == 0
    reg = org("centre-arts").registration("Centre d'arts", **FULL_PROFILE)
    r = await client.post("/v1/events", json=body(reg), headers=bearer(admission))
    assert r.status_code == 201, r.text
    r = await client.get("/v1/organizations/centre-arts")
    assert r.json()["profile"] == FULL_PROFILE


@pytest.mark.parametrize(("profile", "field"), [
    ({"description": "x" * 2001}, "data.profile.description"),
    ({"website": "javascript:alert(1)"}, "data.profile.website"),
    ({"region": "Capitale\nNationale"}, "data.profile.region"),
    ({"sector": ""}, "data.profile.sector"),
    ({"registry_number": "<b>1</b>"}, "data.profile.registry_number"),
    ({"region": {"nested": "object"}}, "data.profile.region"),
])
async def test_profile_members_are_bounded(client, profile, field):
    reg = org("centre-arts").registration("Centre d'arts", **profile)
    r = await client.post("/v1/events", json=body(reg), headers=bearer(token(client)))
    assert_problem(r, 400, "organization-profile-invalid", index=0, field=field)
    assert size(client) == 0


async def test_a_profile_update_is_held_to_the_same_schema(client):
    acme = org("centre-arts")
    reg = acme.registration("Centre d'arts", region="Capitale-Nationale")
    r = await client.post("/v1/events", json=body(reg), headers=bearer(token(client)))
    assert r.status_code == 201, r.text
    for data, field in [({"profile": {"telephone": "418-555-0100"}}, "data.profile.telephone"),
                        ({"name": "x" * 201}, "data.name"),
                        ({"name": "Nom\n# Titre"}, "data.name")]:
        update = acme.event("org/centre-arts", 2, hash_of(reg), "organization.profile_updated",
                            data)
        r = await client.post("/v1/events", json=body(update))
        assert_problem(r, 400, "organization-profile-invalid", index=0, field=field)
    update = acme.event("org/centre-arts", 2, hash_of(reg), "organization.profile_updated",
                        {"profile": {"region": None, "sector": "culture"}})
    r = await client.post("/v1/events", json=body(update))
    assert r.status_code == 201, r.text
    assert (await client.get("/v1/organizations/centre-arts")).json()["profile"] == \
        {"sector": "culture"}


def test_docs_list_every_profile_member():
    from pathlib import Path

    from ledger.profile import OrganizationProfile

    doc = (Path(__file__).resolve().parents[2] / "docs" / "EVENTS.md").read_text("utf-8")
    section = doc.split("## Organizations")[1].split("\n## ")[0]
    listed = set(re.findall(r"^\| `([a-z_-]+)` \|", section, flags=re.MULTILINE))
    problems = {"registration-token-required", "registration-token-invalid",
                "registration-token-used", "organization-profile-invalid"}
    assert listed == set(OrganizationProfile.__struct_fields__) | problems


async def test_a_registration_token_reads_nothing(client):
    headers = bearer(token(client))
    r = await client.get("/v1/log/entries", headers=headers)
    assert_problem(r, 403, "forbidden")
    r = await client.get("/v1/organizations/centre-arts/commitments", headers=headers)
    assert_problem(r, 403, "forbidden")
