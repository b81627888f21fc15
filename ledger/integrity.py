"""Start-up checks that the database still holds history as the ledger wrote it.

The signed envelope is the one source of truth. The ``events`` table also keeps
columns derived from it (the payload bytes, the statement as JSON, its stream, type,
actor, key, times and hashes) because reads, projections and queries use them; a
database superuser can change such a column without touching the envelope, and what
reads it would then serve words nobody signed. ``verify_derived_columns`` recomputes
every derived column from the envelope and refuses on the first difference, naming
its position.

The history tables are append-only only while their protections hold: the
``*_no_rewrite`` / ``*_no_truncate`` triggers (``ENABLE ALWAYS``, calling the
function that refuses) and the runtime role's grants (``SELECT, INSERT`` only).
``verify_protections`` refuses when any of them is missing, disabled or widened; it
is one catalogue query, cheap enough for every ``/readyz``.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from .db import APP_ROLE
from .envelope import decode_envelope
from .errors import HistoryMismatch, LedgerError, VerificationFailed
from .waits import share_loop

__all__ = ["HISTORY_TABLES", "DerivedColumnForged", "HistoryUnprotected", "verify_derived_columns",
           "verify_protections"]

HISTORY_TABLES: Final = ("events", "keys", "key_revocations", "merkle_nodes", "checkpoints",
                         "ledger_meta")
_REFUSING_FUNCTION: Final = "ledger_refuse_rewrite"
_FORBIDDEN: Final = ("UPDATE", "DELETE", "TRUNCATE")


class HistoryUnprotected(VerificationFailed):
    """A protection of history (trigger, grant) is missing or disabled."""

    code = "history-unprotected"
    title = "A protection of the ledger's history is missing or disabled"


class DerivedColumnForged(HistoryMismatch):
    """A stored column disagrees with the signed envelope it is derived from."""

    code = "history-column-forged"
    title = "A stored column disagrees with the signed envelope it derives from"


async def verify_protections(conn: asyncpg.Connection) -> None:
    """Raise HistoryUnprotected unless every history table has both of its refusing
    triggers, enabled ALWAYS, and the runtime role may not UPDATE, DELETE or TRUNCATE."""
    rows = await conn.fetch(
        "SELECT t.name, g.tgname, g.tgenabled, p.proname "
        "FROM unnest($1::text[]) AS t(name) "
        "LEFT JOIN pg_trigger g ON g.tgrelid = to_regclass(t.name) AND NOT g.tgisinternal "
        "LEFT JOIN pg_proc p ON p.oid = g.tgfoid", list(HISTORY_TABLES))
    triggers = {(r["tgname"], r["tgenabled"], r["proname"]) for r in rows}
    for table in HISTORY_TABLES:
        for name in (f"{table}_no_rewrite", f"{table}_no_truncate"):
            found = [t for t in triggers if t[0] == name]
            if not found:
                raise HistoryUnprotected(f"the trigger {name} on {table} is missing")
            _, enabled, function = found[0]
            if enabled != b"A":
                raise HistoryUnprotected(
                    f"the trigger {name} on {table} is not enabled ALWAYS "
                    f"(run: ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name})")
            if function != _REFUSING_FUNCTION:
                raise HistoryUnprotected(
                    f"the trigger {name} on {table} calls {function}, "
                    f"not {_REFUSING_FUNCTION}")
    body = await conn.fetchval(
        "SELECT prosrc FROM pg_proc WHERE proname = $1", _REFUSING_FUNCTION)
    if body is None or "RAISE EXCEPTION" not in body.upper():
        raise HistoryUnprotected(f"the function {_REFUSING_FUNCTION} no longer refuses")
    granted = await conn.fetch(
        "SELECT t.name, p.priv FROM unnest($1::text[]) AS t(name), "
        "unnest($2::text[]) AS p(priv) "
        "WHERE to_regclass(t.name) IS NOT NULL "
        "AND has_table_privilege($3, to_regclass(t.name), p.priv)",
        list(HISTORY_TABLES), list(_FORBIDDEN), APP_ROLE)
    if granted:
        r = granted[0]
        raise HistoryUnprotected(f"the role {APP_ROLE} may {r['priv']} {r['name']}")


# Every column the store derives from the statement, recomputed from the stored
# payload (itself checked against the envelope first).
_DERIVED_SQL: Final = """
SELECT e.position FROM events e,
       LATERAL (SELECT convert_from(e.payload, 'UTF8')::jsonb AS s) j
WHERE e.position >= $1 AND (
      e.statement IS DISTINCT FROM j.s
   OR e.stream IS DISTINCT FROM j.s->>'stream'
   OR e.version IS DISTINCT FROM (j.s->>'version')::integer
   OR e.type IS DISTINCT FROM j.s->>'type'
   OR e.actor IS DISTINCT FROM j.s->>'actor'
   OR e.key_id IS DISTINCT FROM j.s->>'key'
   OR e.issued_at IS DISTINCT FROM (j.s->>'issued_at')::timestamptz
   OR e.prev_hash IS DISTINCT FROM decode(j.s->>'prev', 'hex')
   OR e.event_hash IS DISTINCT FROM sha256(e.payload))
ORDER BY e.position LIMIT 1
"""


async def verify_derived_columns(conn: asyncpg.Connection, *, start: int = 0) -> None:
    """Raise DerivedColumnForged naming the first entry (from ``start``) whose payload
    column is not its envelope's payload, or whose other derived columns are not
    those of that payload."""
    cursor = conn.cursor("SELECT position, envelope, payload FROM events "
                         "WHERE position >= $1 ORDER BY position", start, prefetch=2000)
    async for row in cursor:
        position = row["position"]
        await share_loop(position)  # a long check (in the background) shares the loop
        try:
            _, signed = decode_envelope(bytes(row["envelope"]))
        except LedgerError:
            raise DerivedColumnForged(f"entry {position}: the stored envelope does not "
                                      "decode", index=position) from None
        if bytes(row["payload"]) != signed:
            raise DerivedColumnForged(
                f"entry {position}: the stored payload is not the one its envelope signs "
                "(changed in the database)", index=position)
    try:
        position = await conn.fetchval(_DERIVED_SQL, start)
    except (asyncpg.DataError, asyncpg.PostgresSyntaxError) as exc:  # not JSON, bad cast
        raise DerivedColumnForged(f"a stored statement does not read back: {exc}") from None
    if position is not None:
        raise DerivedColumnForged(
            f"entry {position}: a stored column is not what its signed payload says "
            "(changed in the database)", index=position)
