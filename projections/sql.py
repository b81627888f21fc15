"""The read-model tables as the projection writes them, and the SQL that writes them.

Why here: ``agreements.py`` turns a state into plain row tuples, and this module is the
one place that knows their columns (in the order of ``0003_read_models.sql``; a test
compares the two), their keys, and how rows get in and out of PostgreSQL: COPY for
inserts, one ``DELETE ... USING unnest(...)`` per table for the rows to rewrite, chosen
by their key or its leading columns (an expectation with all its acknowledgements, by
agreement and expectation: the primary key's index finds them). Every read-model table
starts with ``agreement_id``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

__all__ = [
    "CHECKPOINT",
    "HISTORY",
    "READ_MODELS",
    "TABLES",
    "Table",
    "copy_rows",
    "delete_agreements",
    "delete_keys",
    "load_checkpoint",
    "lock_checkpoint",
    "save_checkpoint",
]

#: The projection's name in ``projection_checkpoint``.
CHECKPOINT: Final = "agreements"


@dataclass(frozen=True, slots=True)
class Table:
    """A read-model table: its columns in order; the first ``len(key)`` form its key."""

    name: str
    columns: tuple[str, ...]
    key: tuple[tuple[str, str], ...]  # (column, PostgreSQL type)

    @property
    def key_len(self) -> int:
        return len(self.key)


def _t(name: str, key: str, rest: str) -> Table:
    """``key``: "col:type col:type"; ``rest``: the other columns, space-separated."""
    pairs = tuple((c, t) for c, t in (item.split(":") for item in key.split()))
    return Table(name, tuple(c for c, _ in pairs) + tuple(rest.split()), pairs)


_AID = "agreement_id:text"

AGREEMENTS = _t("agreements", _AID, """
    title purpose binding public status status_reason drafted_by drafted_at current_stage
    party_count terms_version terms_hash terms_pending in_force_version in_force_hash
    in_force_since last_version last_position updated_at""")
PARTIES = _t("agreement_parties", f"{_AID} org:text", """
    status invited_by joined_at porteur porteur_since left_at effective_on
    withdrawal_reason""")
EXPECTATIONS = _t("agreement_expectations", f"{_AID} expectation_id:text", """
    holder text addressed_to addressees revision content_hash stated_at withdrawn
    withdrawal_reason shared acknowledged addressee_count""")
EXPECTATION_ACKS = _t("agreement_expectation_acks",
                      f"{_AID} expectation_id:text org:text", "acknowledged_at addressee")
ROLES = _t("agreement_roles", f"{_AID} role_id:text",
           "name description assignee proposed_by status person reason")
COMMITMENTS = _t("agreement_commitments", f"{_AID} commitment_id:text", """
    provider receiver category description amount unit period_start period_end conditions
    provider_value provider_value_unit fair_value fair_value_unit fair_value_method
    offered_at amendments status withdrawal_reason fulfilments fulfilled confirmed""")
RECEIVERS = _t("agreement_commitment_receivers", f"{_AID} commitment_id:text org:text",
               "receiving value value_unit")
FULFILMENTS = _t("agreement_fulfilments", f"{_AID} fulfilment_id:text", """
    commitment_id provider amount unit period_start period_end note evidence_sha256
    reported_at status confirmed_by contested_by""")
INDICATORS = _t("agreement_indicators", f"{_AID} indicator_id:text", """
    name unit method target defined_by defined_at measures latest_measurement_id
    latest_value latest_period_start latest_period_end latest_evidence_sha256 latest_by
    latest_at""")
STAGES = _t("agreement_stages", f"{_AID} stage:text", """
    ordinal round started_at started_by complete completed_at acknowledged""")
STAGE_ACKS = _t("agreement_stage_acks", f"{_AID} stage:text org:text",
                "acknowledged_at party")
RATIFICATIONS = _t("agreement_ratifications", f"{_AID} org:text terms_version:bigint", """
    state_hash key_id position stream_version ratified_at in_force""")
CONSENTS = _t("agreement_consents", f"{_AID} consent_id:text", """
    org trust_id purpose scope licence expires_on given_at withdrawn_at withdrawal_reason""")

#: The tables that hold one agreement's current state, in the order of ``rows_of``.
TABLES: Final[tuple[Table, ...]] = (
    AGREEMENTS, PARTIES, EXPECTATIONS, EXPECTATION_ACKS, ROLES, COMMITMENTS, RECEIVERS,
    FULFILMENTS, INDICATORS, STAGES, STAGE_ACKS, RATIFICATIONS, CONSENTS,
)

#: The derived half of the audit history (the view ``agreement_history`` adds the rest).
HISTORY: Final = _t("agreement_event_summaries", f"{_AID} stream_version:integer",
                    "position applied terms_version summary")

#: Every read-model table (what a rebuild truncates).
READ_MODELS: Final[tuple[Table, ...]] = (*TABLES, HISTORY)


def _delete_keys_sql(table: Table, width: int) -> str:
    key = table.key[:width]
    cols = [c for c, _ in key]
    arrays = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(key, 1))
    match = " AND ".join(f"t.{c} = k.{c}" for c in cols)
    return (f"DELETE FROM {table.name} AS t USING unnest({arrays}) AS k({', '.join(cols)}) "
            f"WHERE {match}")


_DELETE_KEYS: Final = {(t.name, n): _delete_keys_sql(t, n) for t in TABLES
                       for n in range(1, t.key_len + 1)}


async def delete_keys(conn: asyncpg.Connection, table: Table,
                      keys: Sequence[tuple[Any, ...]]) -> None:
    """Delete the rows of ``table`` whose key starts with one of ``keys`` (tuples of the
    leading key columns, all of the same length: the whole key or a prefix of it)."""
    if keys:
        sql = _DELETE_KEYS[table.name, len(keys[0])]
        await conn.execute(sql, *(list(col) for col in zip(*keys, strict=True)))


async def delete_agreements(conn: asyncpg.Connection, agreement_ids: Sequence[str]) -> None:
    """Delete every current-state row of these agreements (history rows stay)."""
    if agreement_ids:
        ids = list(agreement_ids)
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table.name} WHERE agreement_id = ANY($1::text[])",
                               ids)


async def copy_rows(conn: asyncpg.Connection, table: Table,
                    rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert ``rows`` into ``table`` with COPY (binary)."""
    records = rows if isinstance(rows, list) else list(rows)
    if records:
        await conn.copy_records_to_table(table.name, records=records, columns=table.columns)


async def lock_checkpoint(conn: asyncpg.Connection, name: str = CHECKPOINT) -> int:
    """Lock the projection's checkpoint row for this transaction; its position.

    The lock is what makes runners (and a rebuild) take turns: whoever holds it is the
    only one writing the read models until it commits or rolls back.
    """
    sql = "SELECT position FROM projection_checkpoint WHERE name = $1 FOR UPDATE"
    position = await conn.fetchval(sql, name)
    if position is None:
        await conn.execute("INSERT INTO projection_checkpoint (name, position) "
                           "VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", name)
        position = await conn.fetchval(sql, name)
    return int(position)


async def save_checkpoint(conn: asyncpg.Connection, position: int,
                          name: str = CHECKPOINT) -> None:
    await conn.execute("UPDATE projection_checkpoint SET position = $2 WHERE name = $1",
                       name, position)


async def load_checkpoint(conn: asyncpg.Connection | asyncpg.Pool,
                          name: str = CHECKPOINT) -> int:
    """The saved position (0 if the projection never ran)."""
    position = await conn.fetchval(
        "SELECT position FROM projection_checkpoint WHERE name = $1", name)
    return 0 if position is None else int(position)
