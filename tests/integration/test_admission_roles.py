"""The server's database login is not the migration login, and never a superuser
(#14, point 5): ``RESET ROLE`` gives nothing back, the tokens tables are written only
through the ledger's functions."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from ledger.roles import runtime_login, runtime_role_name, with_login
from ledger.runtime import open_ledger
from ledger.tokens import create_token, revoke_token
from tests.api.conftest import settings_for

pytestmark = pytest.mark.pg


async def test_the_runtime_pool_is_no_superuser_even_after_reset_role(database, tmp_path):
    async with open_ledger(settings_for(tmp_path, database), database,
                           background=False) as ledger:
        async with ledger.pool.acquire() as conn:
            for sql in ("SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
                        "SELECT rolsuper FROM pg_roles WHERE rolname = session_user"):
                assert await conn.fetchval(sql) is False
            await conn.execute("RESET ROLE")
            assert await conn.fetchval(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is False
            assert await conn.fetchval(
                "SELECT rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls "
                "FROM pg_roles WHERE rolname = current_user") is False
            await conn.execute("SET ROLE ledger_writer")
        # the stream listener's connections log in the same way
        assert await _session_user(ledger.dsn) == runtime_role_name(_name(database))


def _name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def _session_user(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        user: str = await conn.fetchval("SELECT session_user")
        return user
    finally:
        await conn.close()


@pytest.mark.parametrize("sql", [
    "UPDATE tokens SET subject = 'forged'",
    "DELETE FROM tokens",
    "INSERT INTO tokens (id, token_hash, prefix, kind, subject) "
    "VALUES ('0123456789ab', sha256('x'), 'ml_x', 'auditor', 'forged')",
    "INSERT INTO token_revocations (token_id) SELECT id FROM tokens",
    "INSERT INTO registration_token_uses (token_id, org_id, event_hash) "
    "SELECT id, 'x', sha256('x') FROM tokens",
    "UPDATE events SET payload = payload",
    "ALTER TABLE events DISABLE TRIGGER events_no_rewrite",
    "ALTER TABLE tokens DISABLE TRIGGER tokens_no_rewrite",
    "SELECT * FROM ledger_runtime_login",
])
async def test_the_runtime_login_cannot_write_tokens_nor_disable_protections(
        database, tmp_path, sql):
    async with open_ledger(settings_for(tmp_path, database), database,
                           background=False) as ledger, ledger.pool.acquire() as conn:
        await create_token(conn, "auditor", "vérificatrice")  # through the function
        await conn.execute("RESET ROLE")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(sql)
        await conn.execute("SET ROLE ledger_writer")


async def test_tokens_are_still_issued_and_revoked_through_the_functions(database, tmp_path):
    async with open_ledger(settings_for(tmp_path, database), database,
                           background=False) as ledger, ledger.pool.acquire() as conn:
        _, record = await create_token(conn, "registration", "pour un organisme")
        revoked, now = await revoke_token(conn, record.id)
        assert now and revoked.revoked_at is not None
        again, now = await revoke_token(conn, record.id)
        assert not now and again.revoked_at == revoked.revoked_at


async def test_starts_and_concurrent_starts_find_the_same_role(database, tmp_path):
    dsns = await asyncio.gather(*[runtime_login(database) for _ in range(3)])
    assert len(set(dsns)) == 1
    assert await runtime_login(database) == dsns[0]  # a restart: same login
    assert await _session_user(dsns[0]) == runtime_role_name(_name(database))


async def test_a_superuser_runtime_login_is_warned_about_loudly(database, caplog):
    with caplog.at_level(logging.WARNING, logger="ledger.roles"):
        dsn = await runtime_login(database, explicit=database)  # the admin: a superuser
    assert dsn == database
    assert any("SUPERUSER" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ledger.roles"):
        await runtime_login(database)
    assert not any("SUPERUSER" in r.getMessage() for r in caplog.records)


def test_with_login_replaces_the_user_and_password_only():
    assert with_login("postgresql://postgres:@/db?host=/tmp/s&user=x", "rt", "p/w") == \
        "postgresql://rt:p%2Fw@/db?host=%2Ftmp%2Fs"
    assert with_login("postgresql://a:b@h:5432/db", "rt", "pw") == "postgresql://rt:pw@h:5432/db"
    with pytest.raises(ValueError):
        with_login("host=h dbname=db", "rt", "pw")


def test_role_names_are_per_database_and_valid():
    a, b = runtime_role_name("ledger_a"), runtime_role_name("ledger_b")
    assert a != b and len(a) <= 63 and a.startswith("ledger_rt_")


_ = Path  # settings_for takes a Path (tmp_path)
