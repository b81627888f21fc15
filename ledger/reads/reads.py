"""The read layer: every query the server answers from, over one pool.

Why one object: HTTP handlers, the stream hub and the provenance answers read through a
``Reads`` built on a pool; which pool (the primary or a streaming replica) is chosen per
read by ``routing.ReadRouter``. Writes never go through here (``ledger.store``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import msgspec

from .. import merkle
from ..admission import Head
from ..db import applied_migrations
from ..envelope import signed_payload
from ..errors import NotFound
from ..integrity import DerivedColumnForged, HistoryUnprotected, verify_protections
from ..leaf import from_micros
from ..orghistory import OrgHistory, fold
from ..provenance.records import CheckpointInfo, Entry
from ..registry import KeyRecord
from ..statement import Statement, format_time
from .events import EVENT_COLUMNS, StoredEvent, contiguous, fetch_nodes, fetch_some_nodes, row_event

__all__ = ["AgreementRow", "CheckpointRow", "ProvenanceContext", "Reads", "RegisterRow"]


@dataclass(frozen=True, slots=True)
class AgreementRow:
    """One agreement of the projections' list (read model ``agreements``)."""

    agreement_id: str
    title: str
    status: str
    public: bool
    terms_version: int
    last_version: int


@dataclass(frozen=True, slots=True)
class RegisterRow:
    """One agreement of the register page: the list's row, with its current stage,
    the terms version in force, whether newer terms await ratification, and its parties."""

    agreement_id: str
    title: str
    status: str
    public: bool
    terms_version: int
    last_version: int
    current_stage: str | None
    in_force_version: int | None
    terms_pending: bool
    parties: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A signed checkpoint and when it was signed (RFC 3339)."""

    size: int
    root_hash: bytes
    note: str
    signed_at: str


@dataclass(frozen=True, slots=True)
class ProvenanceContext:
    """The latest checkpoint (None before the first) and the head version of each of
    the organization streams asked for (missing when the stream is empty)."""

    checkpoint: CheckpointInfo | None
    heads: dict[str, int]


_ENTRY_COLUMNS = ("e.position, e.recorded_at_us, e.stream, e.version, e.event_hash, "
                  "e.envelope, e.leaf_hash, e.actor")
_decode = msgspec.json.Decoder(Statement)


def _entry(r: asyncpg.Record) -> Entry:
    st = _decode.decode(signed_payload(bytes(r["envelope"])))  # never the payload column
    if st.stream != r["stream"] or st.version != r["version"] or st.actor != r["actor"]:
        raise DerivedColumnForged(
            f"entry {r['position']}: its stored columns are not what its signed "
            "statement says (changed in the database)", index=r["position"])
    return Entry(r["position"], format_time(from_micros(r["recorded_at_us"])), r["stream"],
                 r["version"], bytes(r["event_hash"]).hex(), st.type, st.data, st.actor,
                 st.key, st.issued_at, bytes(r["leaf_hash"]))


_PROVENANCE_CONTEXT_SQL = """
SELECT cp.size, cp.root_hash, cp.note,
       (SELECT coalesce(array_agg(row(h.stream, h.version)), '{}')
        FROM unnest($1::text[]) AS s(stream)
        CROSS JOIN LATERAL (SELECT e.stream, e.version FROM events e
                            WHERE e.stream = s.stream ORDER BY e.version DESC LIMIT 1) h
       ) AS heads
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (SELECT size, root_hash, note FROM checkpoints
                   ORDER BY size DESC LIMIT 1) cp ON true
"""

# Who sees which agreement in a list ($5 public only, $6 a party's own and the public
# ones): one clause for the API's list and the register page alike.
_AGREEMENTS_WHERE = """
WHERE ($1::text IS NULL OR a.agreement_id > $1)
  AND ($2::text IS NULL OR a.status = $2)
  AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM agreement_parties p
        WHERE p.agreement_id = a.agreement_id AND p.org = $3))
  AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM agreement_commitments c
        WHERE c.agreement_id = a.agreement_id AND c.category = $4))
  AND (NOT $5 OR a.public)
  AND ($6::text IS NULL OR a.public OR EXISTS (SELECT 1 FROM agreement_parties p
        WHERE p.agreement_id = a.agreement_id AND p.org = $6))
"""

_AGREEMENTS_SQL = f"""
SELECT a.agreement_id, a.title, a.status, a.public, a.terms_version, a.last_version
FROM agreements a {_AGREEMENTS_WHERE}
ORDER BY a.agreement_id LIMIT $7
"""

# The register page's rows: the list's, with the stage, the force and the parties, and
# a search of the title or id ($8, a substring).
_REGISTER_SQL = f"""
SELECT a.agreement_id, a.title, a.status, a.public, a.terms_version, a.last_version,
       a.current_stage, a.in_force_version, a.terms_pending,
       ARRAY(SELECT p.org FROM agreement_parties p WHERE p.agreement_id = a.agreement_id
             AND p.status = 'party' ORDER BY p.org) AS parties
FROM agreements a {_AGREEMENTS_WHERE}
  AND ($8::text IS NULL OR strpos(lower(a.title), lower($8)) > 0
       OR strpos(a.agreement_id, lower($8)) > 0)
ORDER BY a.agreement_id LIMIT $7
"""

_COMMITMENT_STREAMS_SQL = """
SELECT DISTINCT e.stream FROM events e
WHERE e.type IN ('commitment.offered', 'commitment.amended')
  AND ($1::text IS NULL OR e.statement->'data'->>'category' = $1)
  AND ($2::text IS NULL OR e.stream IN (
        SELECT a.stream FROM events a
        WHERE a.actor = $2 AND a.stream LIKE 'agreement/%'))
  AND ($3::text IS NULL OR e.stream > $3)
ORDER BY e.stream LIMIT $4
"""


class Reads:
    """Every read query, over ``pool`` (the primary's, or a replica's)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # --- the log and its streams -------------------------------------------------------

    async def size(self) -> int:
        """Number of entries in the log."""
        last = await self.pool.fetchval("SELECT max(position) FROM events")
        return 0 if last is None else int(last) + 1

    async def head(self, stream: str) -> Head:
        """The stream's current version and head hash (version 0 if empty)."""
        row = await self.pool.fetchrow(
            "SELECT version, event_hash FROM events WHERE stream = $1 "
            "ORDER BY version DESC LIMIT 1", stream)
        if row is None:
            return Head(0, None)
        return Head(row["version"], bytes(row["event_hash"]).hex())

    async def read_stream(self, stream: str, *, after_version: int = 0,
                          limit: int = 10_000, until_version: int | None = None,
                          ) -> list[StoredEvent]:
        """Events of ``stream`` with version > ``after_version`` (and <= ``until_version``
        when given), in order."""
        rows = await self.pool.fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE stream = $1 AND version > $2 "
            "AND ($4::integer IS NULL OR version <= $4) "
            "ORDER BY version LIMIT $3", stream, after_version, limit, until_version)
        events = [row_event(r) for r in rows]
        contiguous(stream, after_version, events)
        return events

    async def read_whole_stream(self, stream: str, *, after_version: int = 0,
                                page: int = 1000, until_version: int | None = None,
                                ) -> list[StoredEvent]:
        """Every event of ``stream`` after ``after_version`` (up to ``until_version``
        when given), read ``page`` at a time."""
        events: list[StoredEvent] = []
        while True:
            batch = await self.read_stream(stream, after_version=after_version + len(events),
                                           limit=page, until_version=until_version)
            events.extend(batch)
            if len(batch) < page:
                return events

    async def version_recorded_by(self, stream: str, recorded_at_us: int) -> int:
        """The version of ``stream`` as of log time ``recorded_at_us`` (0 if none yet)."""
        version: int | None = await self.pool.fetchval(
            "SELECT version FROM events WHERE stream = $1 AND recorded_at_us <= $2 "
            "ORDER BY version DESC LIMIT 1", stream, recorded_at_us)
        return 0 if version is None else version

    async def version_at(self, stream: str, position: int) -> int:
        """The version of ``stream`` as of log position ``position`` (0 if none yet)."""
        version: int = await self.pool.fetchval(
            "SELECT coalesce(max(version), 0) FROM events WHERE stream = $1 "
            "AND position <= $2", stream, position)
        return version

    async def read_log(self, start: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Log entries with position >= ``start``, in order, at most ``limit``."""
        rows = await self.pool.fetch(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position >= $1 "
            "ORDER BY position LIMIT $2", start, limit)
        return [row_event(r) for r in rows]

    async def entry(self, position: int) -> StoredEvent:
        """The entry at ``position``; raises NotFound."""
        row = await self.pool.fetchrow(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE position = $1", position)
        if row is None:
            raise NotFound(f"no log entry at position {position}", field="position")
        return row_event(row)

    async def keys_of(self, org_id: str) -> list[KeyRecord]:
        """Every key an organization ever held, with its validity range."""
        rows = await self.pool.fetch(
            "SELECT k.key_id, k.org_id, k.public_key, k.added_at, r.revoked_at "
            "FROM keys k LEFT JOIN key_revocations r USING (key_id) "
            "WHERE k.org_id = $1 ORDER BY k.added_at", org_id)
        return [KeyRecord(r["key_id"], r["org_id"], bytes(r["public_key"]), r["added_at"],
                          r["revoked_at"]) for r in rows]

    async def agreement_streams_of(self, org_id: str) -> list[str]:
        """The agreement streams in which ``org_id`` signed at least one event."""
        rows = await self.pool.fetch(
            "SELECT DISTINCT stream FROM events WHERE actor = $1 "
            "AND stream LIKE 'agreement/%' ORDER BY stream", org_id)
        return [r["stream"] for r in rows]

    # --- the Merkle tree ---------------------------------------------------------------

    async def root(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        ids = merkle.frontier_nodes(size)
        hashes = await fetch_nodes(self.pool, ids)
        return merkle.root_from_nodes(size, lambda lv, ix: hashes[(lv, ix)])

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return await self._proof(merkle.inclusion_proof_nodes(index, size))

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""
        return await self._proof(merkle.consistency_proof_nodes(size1, size2))

    async def _proof(self, specs: list[merkle.NodeSpec]) -> list[bytes]:
        hashes = await fetch_nodes(self.pool, merkle.spec_node_ids(specs))
        return merkle.build_proof(specs, lambda lv, ix: hashes[(lv, ix)])

    async def inclusion_proofs(self, positions: Sequence[int], size: int
                               ) -> dict[int, list[bytes]]:
        """The inclusion proof of each of ``positions`` in the tree of ``size``, all
        nodes fetched in one query; a position whose nodes are missing is left out."""
        specs = {p: merkle.inclusion_proof_nodes(p, size) for p in positions}
        ids = merkle.spec_node_ids(s for spec in specs.values() for s in spec)
        found: dict[int, list[bytes]] = {}
        # no node at all (a tree of one leaf): each proof is the empty path
        nodes = await fetch_some_nodes(self.pool, ids) if ids else {}
        for p, spec in specs.items():
            try:
                found[p] = merkle.build_proof(spec, lambda lv, ix: nodes[(lv, ix)])
            except KeyError:
                continue
        return found

    # --- operations --------------------------------------------------------------------

    async def probe(self) -> tuple[list[int], int, str | None]:
        """The migrations applied, the log size, and what protection of history is
        missing or disabled (None when all hold), on one connection."""
        async with self.pool.acquire() as conn:
            applied = await applied_migrations(conn)
            last = await conn.fetchval("SELECT max(position) FROM events")
            try:
                await verify_protections(conn)
                unprotected = None
            except HistoryUnprotected as exc:
                unprotected = exc.detail
        return applied, 0 if last is None else int(last) + 1, unprotected

    async def revoked_tokens(self, token_ids: Sequence[str]) -> set[str]:
        """Those of ``token_ids`` that were revoked."""
        rows = await self.pool.fetch("SELECT token_id FROM token_revocations "
                                     "WHERE token_id = ANY($1::text[])", list(token_ids))
        return {r["token_id"] for r in rows}

    # --- the agreements' read model ----------------------------------------------------

    async def agreements(self, *, after: str | None, status: str | None, party: str | None,
                         category: str | None, public_only: bool, visible_to: str | None,
                         limit: int) -> list[AgreementRow]:
        """A page of the agreements list (projections), ordered by id after ``after``."""
        rows = await self.pool.fetch(_AGREEMENTS_SQL, after, status, party, category,
                                     public_only, visible_to, limit)
        return [AgreementRow(r["agreement_id"], r["title"], r["status"], r["public"],
                             r["terms_version"], r["last_version"]) for r in rows]

    async def register(self, *, after: str | None, status: str | None, party: str | None,
                       category: str | None, search: str | None, public_only: bool,
                       visible_to: str | None, limit: int) -> list[RegisterRow]:
        """A page of the register (same visibility as :meth:`agreements`)."""
        rows = await self.pool.fetch(_REGISTER_SQL, after, status, party, category,
                                     public_only, visible_to, limit, search or None)
        return [RegisterRow(r["agreement_id"], r["title"], r["status"], r["public"],
                            r["terms_version"], r["last_version"], r["current_stage"],
                            r["in_force_version"], r["terms_pending"], tuple(r["parties"]))
                for r in rows]

    async def organization_ids(self, limit: int = 500) -> list[str]:
        """The registered organizations' ids, in order (the register is public)."""
        rows = await self.pool.fetch(
            "SELECT substr(stream, 5) AS org FROM events WHERE stream LIKE 'org/%' "
            "AND version = 1 ORDER BY stream LIMIT $1", limit)
        return [r["org"] for r in rows]

    async def checkpoints(self, limit: int = 50) -> list[CheckpointRow]:
        """The latest signed checkpoints, newest first."""
        rows = await self.pool.fetch(
            "SELECT size, root_hash, note, signed_at FROM checkpoints "
            "ORDER BY size DESC LIMIT $1", limit)
        return [CheckpointRow(r["size"], bytes(r["root_hash"]), r["note"],
                              format_time(r["signed_at"])) for r in rows]

    # --- provenance --------------------------------------------------------------------

    async def entries(self, stream: str) -> list[Entry]:
        """Every entry of ``stream`` as provenance sees it, in order."""
        rows = await self.pool.fetch(f"SELECT {_ENTRY_COLUMNS} FROM events e "
                                     "WHERE stream = $1 ORDER BY version", stream)
        entries = [_entry(r) for r in rows]
        for expected, entry in enumerate(entries, 1):
            if entry.version != expected:
                raise DerivedColumnForged(
                    f"{stream}: version {expected} is missing from the stored stream (an "
                    "entry's columns were changed in the database)", index=entry.position)
        return entries

    async def entries_of(self, streams: Sequence[str]) -> dict[str, list[Entry]]:
        """Every entry of each of ``streams``, in order, in one query."""
        rows = await self.pool.fetch(f"SELECT {_ENTRY_COLUMNS} FROM events e "
                                     "WHERE stream = ANY($1::text[]) "
                                     "ORDER BY stream, version", list(streams))
        out: dict[str, list[Entry]] = {s: [] for s in streams}
        for r in rows:
            out[r["stream"]].append(_entry(r))
        return out

    async def entries_after(self, after: Sequence[tuple[str, int]]) -> list[Entry]:
        """For each ``(stream, version)``, the stream's entries after that version."""
        rows = await self.pool.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM events e "
            "JOIN unnest($1::text[], $2::int[]) AS w(stream, after) "
            "ON e.stream = w.stream AND e.version > w.after ORDER BY e.stream, e.version",
            [s for s, _ in after], [v for _, v in after])
        return [_entry(r) for r in rows]

    async def entries_by(self, actor: str, lo: datetime | None, hi: datetime | None,
                         limit: int) -> list[Entry]:
        """What ``actor`` signed, recorded between ``lo`` and ``hi`` (inclusive)."""
        rows = await self.pool.fetch(
            f"SELECT {_ENTRY_COLUMNS} FROM events e WHERE actor = $1 "
            "AND ($2::timestamptz IS NULL OR recorded_at >= $2) "
            "AND ($3::timestamptz IS NULL OR recorded_at <= $3) "
            "ORDER BY position LIMIT $4", actor, lo, hi, limit)
        return [_entry(r) for r in rows]

    async def organization(self, org_id: str) -> OrgHistory | None:
        """The organization's history folded from its stream (None if unregistered)."""
        entries = await self.entries(f"org/{org_id}")
        return fold(org_id, entries) if entries else None

    async def has_stream(self, stream: str) -> bool:
        """Whether ``stream`` holds at least one event."""
        found = await self.pool.fetchval("SELECT 1 FROM events WHERE stream = $1 LIMIT 1",
                                         stream)
        return found is not None

    async def provenance_context(self, org_streams: Sequence[str]) -> ProvenanceContext:
        """The latest checkpoint and the heads of ``org_streams``, in one query."""
        row = await self.pool.fetchrow(_PROVENANCE_CONTEXT_SQL, list(org_streams))
        checkpoint = None
        if row["size"] is not None:
            checkpoint = CheckpointInfo(row["size"], bytes(row["root_hash"]), row["note"])
        return ProvenanceContext(checkpoint, {s: v for s, v in row["heads"]})

    async def commitment_streams(self, *, category: str | None, org: str | None,
                                 after: str | None, limit: int) -> list[str]:
        """Agreement streams with a commitment of ``category`` in which ``org`` signed,
        after the stream ``after``, at most ``limit``."""
        rows = await self.pool.fetch(_COMMITMENT_STREAMS_SQL, category, org, after, limit)
        return [r["stream"] for r in rows]
