"""The statements run under the log lock probe indexes, whatever their cached plan.

The sequencer's statements take arrays of a handful of values; the planner cannot see
their length, and on a new log the tables are tiny, so a plan cached early could scan
a whole table with a hash join and stall every writer once the log is large. The
sequencer's transactions turn scans and hash or merge joins off: here the generic plans
(the ones a prepared statement ends up cached with) are made under exactly those
settings and must contain no sequential scan and no hash or merge join.
"""

from __future__ import annotations

import pytest

from ledger.store import _BEGIN_LOCKED, _CONTEXT_SQL, _NODES_SQL
from tests.helpers import Chain, org

pytestmark = pytest.mark.pg

STATEMENTS = {
    "context": ("text[], bytea[], text[], text[]", _CONTEXT_SQL,
                "'{agreement/plans}', '{}', '{}', '{}'"),
    "nodes": ("smallint[], bigint[]", _NODES_SQL, "'{0,1}', '{3,1}'"),
}


async def _generic_plan(conn, name: str, settings: str) -> str:
    types, sql, args = STATEMENTS[name]
    await conn.execute(settings)
    try:
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE plan_{name}({types}) AS {sql}")
        rows = await conn.fetch(f"EXPLAIN EXECUTE plan_{name}({args})")
        await conn.execute(f"DEALLOCATE plan_{name}")
    finally:
        await conn.execute("ROLLBACK")
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("name", sorted(STATEMENTS))
async def test_locked_statements_never_scan_a_table(store, name: str) -> None:
    a = org("plans")
    await store.append([a.registration("Plans")])
    chain = Chain(a, "agreement/plans")
    for _ in range(20):
        await store.append([chain.next()])
    async with store.pool.acquire() as conn:
        plan = await _generic_plan(conn, name, _BEGIN_LOCKED)
        assert "Seq Scan" not in plan, plan
        assert "Hash Join" not in plan and "Merge Join" not in plan, plan
        # The guard is what makes the difference: without it, this small log's
        # context plan scans the tiny key_revocations table (and would scan more).
        if name == "context":
            unguarded = await _generic_plan(conn, name, "BEGIN")
            assert "Seq Scan" in unguarded, unguarded
