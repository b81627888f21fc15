"""The read-model tables in the migration are the ones ``projections.sql`` writes: same
columns in the same order, same keys; the application role may rewrite them, and
nothing makes them append-only."""

from __future__ import annotations

import asyncpg
import pytest

from ledger.projections import sql

pytestmark = pytest.mark.pg


async def test_tables_match_the_migration(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        for t in sql.READ_MODELS:
            columns = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 "
                "ORDER BY ordinal_position", t.name)
            assert tuple(r[0] for r in columns) == t.columns, t.name
            key = await conn.fetch(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_index i "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indrelid = $1::regclass AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)", t.name)
            assert tuple((r[0], r[1]) for r in key) == t.key, t.name
    finally:
        await conn.close()


async def test_read_models_are_rewritable_by_the_app_role(database: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        for t in (*sql.READ_MODELS, sql.Table("projection_checkpoint", (), ())):
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                assert await conn.fetchval("SELECT has_table_privilege('ledger_writer', $1, $2)",
                                           t.name, privilege), (t.name, privilege)
            triggers = await conn.fetchval(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass "
                "AND NOT tgisinternal", t.name)
            assert triggers == 0, t.name
            persistence = await conn.fetchval(
                "SELECT relpersistence::text FROM pg_class WHERE oid = $1::regclass", t.name)
            assert persistence == "p", t.name  # logged: replicated to standbys (0007)
        for view in ("agreement_history", "org_commitments", "org_declared_totals"):
            assert await conn.fetchval("SELECT has_table_privilege('ledger_writer', $1, "
                                       "'SELECT')", view)
        assert await conn.fetchval("SELECT has_table_privilege('ledger_writer', 'events', "
                                   "'UPDATE')") is False  # history stays append-only
    finally:
        await conn.close()
