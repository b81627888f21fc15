"""The database itself refuses to rewrite history.

Two layers, each shown on every history table:

* the application role (``ledger_writer``, which ``connect_pool`` switches to) holds only
  SELECT and INSERT: UPDATE, DELETE and TRUNCATE fail with "permission denied";
* triggers, ENABLE ALWAYS, refuse UPDATE, DELETE and TRUNCATE for everyone else too, the
  owner and superusers included, also under ``session_replication_role = replica``.

Known limit, shown at the end: the table owner (or a superuser) can still
``ALTER TABLE ... DISABLE TRIGGER`` and then rewrite; the database cannot stop its own
owner. What follows is caught by the audit (hash chain, Merkle proofs), not here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from ledger import b64
from ledger.db import connect_pool
from ledger.keys import raw_public_key
from ledger.signer import Signer
from ledger.store import PostgresStore
from tests.helpers import Chain, hash_of, org

pytestmark = pytest.mark.pg

TABLES = ("events", "keys", "key_revocations", "merkle_nodes", "checkpoints")

# One real modification per table (not a no-op SET col = col).
UPDATES = {
    "events": "UPDATE events SET actor = 'mallory'",
    "keys": "UPDATE keys SET org_id = 'mallory'",
    "key_revocations": "UPDATE key_revocations SET revoked_at = revoked_at + 1",
    "merkle_nodes": "UPDATE merkle_nodes SET hash = sha256(hash)",
    "checkpoints": "UPDATE checkpoints SET note = 'forged'",
}


def statements(table: str) -> dict[str, str]:
    return {
        "UPDATE": UPDATES[table],
        "DELETE": f"DELETE FROM {table}",
        # CASCADE so that keys (referenced by key_revocations) reaches its own trigger
        "TRUNCATE": f"TRUNCATE {table} CASCADE",
    }


CASES = [(t, op) for t in TABLES for op in ("UPDATE", "DELETE", "TRUNCATE")]


async def fill(store: PostgresStore, database: str) -> None:
    """A row in every history table: registration, key rotation, an event, a checkpoint."""
    a1 = org("org-a")
    a2 = org("org-a")
    reg = a1.registration("Org A")
    await store.append([reg])
    stream = Chain(a1, "org/org-a", 1, hash_of(reg))
    await store.append([stream.next("organization.key_added",
                                    {"public_key": _b64_public(a2)})])
    await store.append([stream.next("organization.key_revoked",
                                    {"key_id": a1.key_id, "reason": "rotation"},
                                    signer=a2)])
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            "INSERT INTO checkpoints (size, root_hash, note) VALUES ($1, $2, $3)",
            await store.size(), await store.root(await store.size()), "checkpoint note")
    finally:
        await conn.close()


def _b64_public(signer: Signer) -> str:
    return b64.encode(raw_public_key(signer.key))


async def contents(conn: asyncpg.Connection) -> dict[str, list[asyncpg.Record]]:
    out = {}
    for t in TABLES:
        out[t] = await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")
    return out


@pytest_asyncio.fixture
async def filled(store: PostgresStore, database: str) -> AsyncIterator[PostgresStore]:
    await fill(store, database)
    yield store


@pytest_asyncio.fixture
async def owner(database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database)
    try:
        yield conn
    finally:
        await conn.close()


async def test_every_history_table_has_rows(filled, owner):
    rows = await contents(owner)
    assert all(rows[t] for t in TABLES), {t: len(r) for t, r in rows.items()}


async def test_triggers_are_enabled_always(database, owner):
    rows = await owner.fetch(
        "SELECT c.relname, t.tgname, t.tgenabled::text AS tgenabled FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal")
    found = {(r["relname"], r["tgname"]): r["tgenabled"] for r in rows}
    for t in TABLES:
        assert found[(t, f"{t}_no_rewrite")] == "A"
        assert found[(t, f"{t}_no_truncate")] == "A"


# --- the application role --------------------------------------------------------


async def test_application_role_cannot_rewrite(filled, owner):
    before = await contents(owner)
    async with filled.pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_user") == "ledger_writer"
        for table, op in CASES:
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") > 0  # it can read
            with pytest.raises(asyncpg.InsufficientPrivilegeError) as info:
                await conn.execute(statements(table)[op])
            assert f"permission denied for table {table}" in str(info.value), (table, op)
    assert await contents(owner) == before


async def test_application_role_can_insert(filled):
    # the privilege it does hold, so the refusals above are about rewriting only
    async with filled.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO checkpoints (size, root_hash, note) VALUES (0, $1, 'empty')",
            bytes(32))
        assert await conn.fetchval("SELECT count(*) FROM checkpoints") == 2


async def test_application_role_cannot_disable_triggers_or_replica_mode(filled):
    async with filled.pool.acquire() as conn:
        for t in TABLES:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="owner"):
                await conn.execute(f"ALTER TABLE {t} DISABLE TRIGGER {t}_no_rewrite")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")


async def test_pool_connections_keep_the_role_after_release(database):
    pool = await connect_pool(database, min_size=1, max_size=1)
    try:
        for _ in range(3):  # the same connection, reset by the pool between uses
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT current_user") == "ledger_writer"
    finally:
        await pool.close()


# --- the owner / superuser -------------------------------------------------------


async def assert_trigger_refuses(conn: asyncpg.Connection, table: str, op: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as info:
        await conn.execute(statements(table)[op])
    message = str(info.value)
    assert "append-only" in message, (table, op, message)
    assert f"{op} on {table} refused" in message, (table, op, message)


async def test_superuser_is_refused_by_the_trigger(filled, owner):
    assert await owner.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    before = await contents(owner)
    for table, op in CASES:
        await assert_trigger_refuses(owner, table, op)
    assert await contents(owner) == before


async def test_superuser_is_refused_in_replica_mode(filled, owner):
    await owner.execute("SET session_replication_role = replica")
    assert await owner.fetchval("SHOW session_replication_role") == "replica"
    before = await contents(owner)
    for table, op in CASES:
        await assert_trigger_refuses(owner, table, op)
    assert await owner.fetchval("SHOW session_replication_role") == "replica"
    assert await contents(owner) == before


async def test_superuser_after_reset_role_is_refused(filled, owner):
    # an application connection that escapes its role still meets the triggers
    async with filled.pool.acquire() as conn:
        await conn.execute("RESET ROLE")
        try:
            assert await conn.fetchval("SELECT current_user") != "ledger_writer"
            for t in TABLES:
                await assert_trigger_refuses(conn, t, "DELETE")
        finally:
            await conn.execute("SET ROLE ledger_writer")


async def test_known_limit_owner_can_disable_the_trigger(filled, owner):
    """Documented limit: the owner can switch the trigger off. Rolled back here."""
    before = await contents(owner)
    tx = owner.transaction()
    await tx.start()
    try:
        await owner.execute("ALTER TABLE checkpoints DISABLE TRIGGER checkpoints_no_rewrite")
        status = await owner.execute(UPDATES["checkpoints"])
        assert status == "UPDATE 1"
        assert await owner.fetchval("SELECT note FROM checkpoints") == "forged"
        await owner.execute("ALTER TABLE events DISABLE TRIGGER events_no_rewrite")
        assert await owner.execute(UPDATES["events"]) == "UPDATE 3"
        # the truncate trigger is a separate one and still holds
        await assert_trigger_refuses(owner, "events", "TRUNCATE")
    finally:
        await tx.rollback()
    # rolled back: history and triggers are as they were
    assert await contents(owner) == before
    await assert_trigger_refuses(owner, "checkpoints", "UPDATE")
