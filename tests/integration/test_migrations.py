"""Migrations: applied once, recorded, safe to run twice and from two processes at once."""

from __future__ import annotations

import asyncio
import sys

import asyncpg
import pytest

from ledger.db import applied_migrations, migrations, upgrade
from tests.conftest import with_database

pytestmark = pytest.mark.pg


async def test_upgrade_twice_is_a_no_op(database):
    assert await upgrade(database) == []  # the fixture already upgraded it
    conn = await asyncpg.connect(database)
    try:
        assert await applied_migrations(conn) == [m.version for m in migrations()]
    finally:
        await conn.close()


async def test_two_processes_upgrade_a_fresh_database_at_once(pg_admin_dsn):
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute('CREATE DATABASE "ledger_mig_race"')
    await admin.close()
    dsn = with_database(pg_admin_dsn, "ledger_mig_race")
    code = ("import asyncio, sys; from ledger.db import upgrade; "
            "print(len(asyncio.run(upgrade(sys.argv[1]))))")
    try:
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, dsn, stdout=asyncio.subprocess.PIPE)
            for _ in range(2)]
        outs = [int((await p.communicate())[0]) for p in procs]
        assert all(p.returncode == 0 for p in procs)
        assert sorted(outs) == [0, len(migrations())]  # one applied all, the other none
        conn = await asyncpg.connect(dsn)
        try:
            assert await applied_migrations(conn) == [m.version for m in migrations()]
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(pg_admin_dsn)
        await admin.execute('DROP DATABASE IF EXISTS "ledger_mig_race"')
        await admin.close()
