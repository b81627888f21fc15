"""Bearer tokens: the ``ledger token`` commands, storage of hashes only, revocation."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json

import asyncpg
import pytest

from ledger.cli import token as token_cli
from ledger.tokens import create_token, revoke_token
from tests.api.conftest import assert_problem, in_app

pytestmark = pytest.mark.pg


@pytest.fixture
def cli(database, tmp_path, monkeypatch, capsys):
    """Run ``ledger token ...`` in-process against the test database; (status, output)."""
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("LEDGER_HOME", str(tmp_path))
    parser = argparse.ArgumentParser(prog="ledger")
    token_cli.register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> tuple[int, str]:
        args = parser.parse_args(["token", *argv])
        status = args.handler(args)
        return status, capsys.readouterr().out

    return run


def _stored(dsn: str) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetch("SELECT * FROM tokens")
        finally:
            await conn.close()

    return asyncio.run(go())


def test_create_list_and_revoke(cli, database):
    status, out = cli("create", "--auditor", "Cour des comptes", "--json")
    assert status == 0
    created = json.loads(out)
    token = created["token"]
    assert token.startswith("ml_") and len(token) == 46
    assert (created["kind"], created["subject"], created["revoked_at"]) == (
        "auditor", "Cour des comptes", None)
    [row] = _stored(database)
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in {str(v) for v in row.values()}
    assert row["prefix"] == token[:10]

    status, out = cli("create", "--org", "centre-arts")
    assert status == 0 and out.startswith("ml_")
    status, out = cli("list", "--json")
    listed = json.loads(out)["tokens"]
    assert [t["kind"] for t in listed] == ["auditor", "org"]
    assert all("token" not in t for t in listed)

    status, out = cli("revoke", token[:12], "--json")
    assert status == 0 and json.loads(out)["revoked_now"] is True
    status, out = cli("revoke", created["id"], "--json")
    assert status == 0 and json.loads(out)["revoked_now"] is False
    status, out = cli("list")
    assert status == 0 and created["id"] in out and "Cour des comptes" in out


def test_revoke_by_whole_token_and_errors(cli):
    _, out = cli("create", "--trust", "witness", "--json")
    token = json.loads(out)["token"]
    status, out = cli("revoke", token)
    assert status == 0 and out.startswith("revoked ")
    status, out = cli("create", "--org", "Not An Id", "--json")
    assert status == 1 and json.loads(out)["error"]["code"] == "token-error"
    status, out = cli("revoke", "ml_zzzzzzzz", "--json")
    assert status == 1 and "no token matches" in json.loads(out)["error"]["detail"]
    status, out = cli("revoke", "nonsense", "--json")
    assert status == 1


async def _create_and_revoke(ledger, kind, subject):
    async with ledger.pool.acquire() as conn:
        token, record = await create_token(conn, kind, subject)
        return token, record.id


async def _revoke(ledger, ref):
    async with ledger.pool.acquire() as conn:
        return await revoke_token(conn, ref)


async def test_a_revoked_token_is_refused(client):
    token, token_id = in_app(client, _create_and_revoke, "auditor", "a")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/log/checkpoint", headers=headers)).status_code == 200
    in_app(client, _revoke, token_id)
    r = await client.get("/v1/log/checkpoint", headers=headers)
    doc = assert_problem(r, 401, "token-invalid")
    assert "revoked" in doc["detail"]
