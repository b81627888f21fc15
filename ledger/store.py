"""The PostgreSQL event store: one global, gapless, append-only log of signed events.

Appends go through a *sequencer*: concurrent ``append`` calls are queued, and one task
writes each group of queued batches in a single transaction that holds an advisory
lock from its first statement to its commit. Positions are assigned under that lock, so
they are gapless and in commit order; several server processes on one database
serialize on the same lock. Each batch stays all-or-nothing on its own: a batch the
rules refuse is answered with its error and left out of the group, the others commit.

The expensive part — decoding, canonical checks and Ed25519 verification — runs before
the lock (``admission.prepare``); only the cheap checks that depend on the current
heads and key history run under it (``admission.admit``).

SQL lives here and in ``ledger/migrations``; driver errors are translated at this seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import asyncpg

from . import b64, merkle
from .admission import (
    Admitted,
    Candidate,
    Head,
    Limits,
    Receipt,
    RegistrationGate,
    SignatureJob,
    admit,
    bad_signature_error,
    first_bad_signature,
    introduced_keys,
    prepare_unverified,
)
from .db import DATABASE_DOWN, connection_usable
from .envelope import Envelope, Opened, decode_envelope
from .errors import BatchTooLarge, LedgerError, Unavailable
from .keys import key_id as compute_key_id
from .lru import LRU
from .reads.events import NODES_SQL as _NODES_SQL  # noqa: F401 (the plan tests read it)
from .reads.events import StoredEvent, fetch_nodes
from .reads.follower import NOTIFY_CHANNEL
from .reads.reads import Reads
from .registry import ORG_KEY_ADDED, ORG_KEY_REVOKED, ORG_REGISTERED, KeyRecord, Registry
from .tokens import admit_registration

__all__ = ["LOG_LOCK", "NOTIFY_CHANNEL", "PostgresStore", "StoredEvent", "fetch_nodes"]

LOG_LOCK = 0x4C454447_00000002  # "LEDG" + 2: held from first statement to commit

Validator = Callable[[list[Candidate]], Awaitable[None]]
DEFAULT_LIMITS = Limits()
_log = logging.getLogger("ledger.store")

#: What a client is told when the database is not there (the driver's own words go to
#: the server's log, never to the client).
UNAVAILABLE_DETAIL = "the database cannot be reached; retry later"

_GATHER_TURNS = 16  # at most this many turns of the event loop to gather a group
PARALLEL_VERIFY_MIN = 32  # signatures; below this, verifying inline is faster


@dataclass(slots=True)
class _Request:
    candidates: list[Candidate]
    future: asyncio.Future[list[Receipt]]
    registration: RegistrationGate | None = None


# Every statement under the lock probes indexes with a handful of values from arrays.
# The planner cannot see an array's length and the tables start empty, so a plan made
# early (and cached with the prepared statement) may scan a whole table with a hash
# join: harmless on a new log, ruinous on a large one, and all writers wait under the
# lock. Scans and hash or merge joins are therefore off for the sequencer's
# transactions (SET LOCAL: they end with it), in the same round trip as BEGIN.
_BEGIN_LOCKED = (
    "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; "
    f"SET LOCAL enable_mergejoin = off; SELECT pg_advisory_xact_lock({LOG_LOCK})"
)

_CONTEXT_SQL = """
WITH last AS (
    SELECT position, recorded_at_us FROM events ORDER BY position DESC LIMIT 1
), heads AS (
    -- one backward index probe per stream: O(log n), whatever the stream's length
    SELECT s.stream, h.version, h.event_hash
    FROM unnest($1::text[]) AS s(stream)
    CROSS JOIN LATERAL (
        SELECT version, event_hash FROM events e
        WHERE e.stream = s.stream ORDER BY version DESC LIMIT 1
    ) h
), existing AS (
    SELECT position, recorded_at_us, stream, version, event_hash
    FROM events WHERE event_hash = ANY($2::bytea[])
), ks AS (
    SELECT k.key_id, k.org_id, k.public_key, k.added_at, r.revoked_at
    FROM keys k LEFT JOIN key_revocations r USING (key_id)
    WHERE k.key_id = ANY($3::text[]) OR k.org_id = ANY($4::text[])
)
SELECT
    (SELECT position FROM last) AS last_position,
    (SELECT recorded_at_us FROM last) AS last_recorded_us,
    (SELECT coalesce(array_agg(row(stream, version, event_hash)), '{}') FROM heads) AS heads,
    (SELECT coalesce(array_agg(row(position, recorded_at_us, stream, version, event_hash)),
             '{}') FROM existing) AS existing,
    (SELECT coalesce(array_agg(row(key_id, org_id, public_key, added_at, revoked_at)),
             '{}') FROM ks) AS keys
"""

_INSERT_ALL = """
WITH ev AS (
    INSERT INTO events (position, recorded_at_us, recorded_at, stream, version, event_hash,
                        prev_hash, type, actor, key_id, issued_at, payload, envelope,
                        statement, leaf_hash)
    SELECT u.position, u.recorded_at_us,
           to_timestamp(u.recorded_at_us::double precision / 1000000),
           u.stream, u.version, u.event_hash, u.prev_hash, u.type, u.actor, u.key_id,
           u.issued_at::timestamptz, u.payload, u.envelope,
           convert_from(u.payload, 'UTF8')::jsonb, u.leaf_hash
    FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::bytea[],
                $6::bytea[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[],
                $12::bytea[], $13::bytea[])
         AS u(position, recorded_at_us, stream, version, event_hash, prev_hash, type,
              actor, key_id, issued_at, payload, envelope, leaf_hash)
), nodes AS (
    INSERT INTO merkle_nodes (level, idx, hash)
    SELECT * FROM unnest($14::smallint[], $15::bigint[], $16::bytea[])
), new_keys AS (
    INSERT INTO keys (key_id, org_id, public_key, added_at)
    SELECT * FROM unnest($17::text[], $18::text[], $19::bytea[], $20::bigint[])
), revoked AS (
    INSERT INTO key_revocations (key_id, revoked_at)
    SELECT * FROM unnest($21::text[], $22::bigint[])
)
SELECT pg_notify($23, $24)
"""


class PostgresStore:
    """The event store over an asyncpg pool. See the module docstring for the design.

    ``validator(candidates)`` runs before the lock (e.g. the agreement rules, see
    ``ledger.validation``) and refuses by raising a LedgerError.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        ledger_id: str,
        limits: Limits = DEFAULT_LIMITS,
        max_batch: int = 500,
        clock: Callable[[], float] = time.time,
        validator: Validator | None = None,
        max_public_keys: int = 16_384,
    ) -> None:
        self.pool = pool
        self._reads = Reads(pool)
        self.validator = validator
        self.ledger_id = ledger_id
        self.limits = limits
        self.max_batch = max_batch
        self.clock = clock
        # Signing keys by id (they never change; the least recently used go beyond
        # ``max_public_keys``, and are read again when a signature needs them).
        self._public_keys: LRU[str, bytes] = LRU(max_public_keys)
        self._queue: asyncio.Queue[_Request] | None = None
        self._sequencer: asyncio.Task[None] | None = None
        self._tree: merkle.CompactRange | None = None
        self._conn: asyncpg.Connection | None = None
        self.on_commit: list[Callable[[int], None]] = []
        self._verify_threads = os.cpu_count() or 2
        self._verifiers = ThreadPoolExecutor(max_workers=self._verify_threads,
                                             thread_name_prefix="ledger-verify")

    # --- lifecycle -----------------------------------------------------------------

    async def close(self) -> None:
        """Stop the sequencer; pending appends fail with Unavailable."""
        self._verifiers.shutdown(wait=False, cancel_futures=True)
        if self._sequencer is not None:
            self._sequencer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sequencer
            self._sequencer = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await self.pool.release(conn)
        if self._queue is not None:
            while not self._queue.empty():
                req = self._queue.get_nowait()
                if not req.future.done():
                    req.future.set_exception(Unavailable("the ledger is shutting down"))

    def _ensure_sequencer(self) -> asyncio.Queue[_Request]:
        if self._queue is None:
            self._queue = asyncio.Queue()
        if self._sequencer is None or self._sequencer.done():
            self._sequencer = asyncio.get_running_loop().create_task(
                self._run_sequencer(self._queue), name="ledger-sequencer"
            )
        return self._queue

    # --- appending -------------------------------------------------------------------

    async def append(self, envelopes: Sequence[bytes | dict[str, Any] | Envelope], *,
                     registration: RegistrationGate | None = None) -> list[Receipt]:
        """Append a batch of signed envelopes, all or nothing; one receipt per envelope.

        Re-submitting envelopes already stored returns their original receipts.
        Raises a LedgerError naming the event (``index``) and field at fault.
        ``registration`` is the request's admission policy for new organizations
        (None: no token asked, as for the ledger's own tools and tests).
        """
        if not envelopes:
            return []
        if len(envelopes) > self.max_batch:
            raise BatchTooLarge(
                f"{len(envelopes)} events in one batch, limit {self.max_batch}"
            )
        now_us = int(self.clock() * 1_000_000)
        decoded: list[Opened] = []
        for i, raw in enumerate(envelopes):
            try:
                decoded.append(Opened(*decode_envelope(raw)))
            except LedgerError as exc:
                raise exc.at(i) from None
        wanted = {s.keyid for opened in decoded for s in opened.envelope.signatures}
        known = await self._load_public_keys(wanted)
        # Ed25519 verification releases the GIL: only that part runs on worker threads,
        # so it overlaps with the event loop's work and uses every core, while the
        # Python-heavy decoding stays on the loop (threads holding the GIL would stall
        # the database round trips).
        candidates, jobs = prepare_unverified(
            decoded, ledger_id=self.ledger_id, now_us=now_us,
            public_key=known.get, limits=self.limits, defer_skew=True)
        bad = await self._check_signatures(jobs)
        if bad is not None:
            raise bad_signature_error(bad)
        if self.validator is not None:
            await self.validator(candidates)
        queue = self._ensure_sequencer()
        future: asyncio.Future[list[Receipt]] = asyncio.get_running_loop().create_future()
        await queue.put(_Request(candidates, future, registration))
        receipts = await future
        if self.validator is not None:
            committed = getattr(self.validator, "committed", None)
            if committed is not None:
                committed(candidates, receipts)
        return receipts

    async def _sequencer_connection(self) -> asyncpg.Connection:
        """The sequencer's own connection, held across groups (no pool round trips).

        A connection the server closed (or that the pool detached) is dropped and
        replaced, so the sequencer recovers by itself once the database is back.
        """
        conn = self._conn
        if conn is not None:
            if connection_usable(conn):
                return conn
            self._conn = None
            with contextlib.suppress(Exception):
                await self.pool.release(conn)
        self._conn = await self.pool.acquire()
        return self._conn

    async def _drop_sequencer_connection(self, conn: asyncpg.Connection) -> None:
        """After a failed group: roll back and hand the connection back to the pool,
        which resets or replaces it."""
        self._conn = None
        with contextlib.suppress(Exception):
            if connection_usable(conn):
                await conn.execute("ROLLBACK")
        with contextlib.suppress(Exception):
            await self.pool.release(conn)

    async def _check_signatures(self, jobs: list[SignatureJob]) -> SignatureJob | None:
        """First failing signature check, or None. Small batches verify inline (a
        thread hop costs more than it saves); large ones split across threads."""
        if len(jobs) < PARALLEL_VERIFY_MIN:
            return first_bad_signature(jobs)
        loop = asyncio.get_running_loop()
        n = self._verify_threads
        parts = [jobs[i::n] for i in range(n)]
        found = await asyncio.gather(*[
            loop.run_in_executor(self._verifiers, first_bad_signature, part)
            for part in parts])
        bad = [job for job in found if job is not None]
        return min(bad, key=lambda j: j.index) if bad else None

    async def _load_public_keys(self, wanted: set[str]) -> dict[str, bytes]:
        """The public keys of ``wanted`` that exist (from the cache, else the database).
        Returned, not only cached: the bounded cache may drop them before they are used."""
        known = {k: key for k in wanted if (key := self._public_keys.get(k)) is not None}
        missing = [k for k in wanted if k not in known]
        if not missing:
            return known
        try:
            rows = await self.pool.fetch(
                "SELECT key_id, public_key FROM keys WHERE key_id = ANY($1::text[])", missing
            )
        except DATABASE_DOWN as exc:
            _log.warning("key lookup failed, database unreachable: %s", exc)
            raise Unavailable(UNAVAILABLE_DETAIL) from exc
        for r in rows:
            known[r["key_id"]] = raw = bytes(r["public_key"])
            self._public_keys.put(r["key_id"], raw)
        return known

    async def _run_sequencer(self, queue: asyncio.Queue[_Request]) -> None:
        while True:
            first = await queue.get()
            # Let appends already on their way join: while the queue grows from one turn
            # of the event loop to the next, wait another turn (a group costs the same
            # few round trips and one WAL flush whatever its size; without this, a
            # burst of requests splits into a group of one and a group of the rest).
            for _ in range(_GATHER_TURNS):
                waiting = queue.qsize()
                await asyncio.sleep(0)
                if queue.qsize() == waiting:
                    break
            group = [first]
            size = len(first.candidates)
            while not queue.empty() and size < 2000:
                nxt = queue.get_nowait()
                group.append(nxt)
                size += len(nxt.candidates)
            try:
                results = await self._commit_group(group)
            except asyncio.CancelledError:
                for req in group:
                    if not req.future.done():
                        req.future.set_exception(Unavailable("the ledger is shutting down"))
                raise
            except LedgerError as exc:
                for req in group:
                    if not req.future.done():
                        req.future.set_exception(exc)
                continue
            except DATABASE_DOWN as exc:
                self._tree = None
                _log.warning("append failed, database unreachable: %s", exc)
                for req in group:
                    if not req.future.done():
                        req.future.set_exception(Unavailable(UNAVAILABLE_DETAIL))
                continue
            except Exception as exc:  # a bug or an unexpected database error
                self._tree = None
                if len(group) > 1:
                    # One request's data may be what the database refused: commit each
                    # request on its own so only that one fails.
                    _log.warning("group of %d failed (%s); retrying one by one",
                                 len(group), exc)
                    for req in group:
                        await self._commit_alone(req)
                    continue
                _log.exception("append failed")
                for req in group:
                    if not req.future.done():
                        req.future.set_exception(exc)
                continue
            for req, outcome in zip(group, results, strict=True):
                if req.future.done():
                    continue
                if isinstance(outcome, BaseException):
                    req.future.set_exception(outcome)
                else:
                    req.future.set_result(outcome)

    async def _commit_alone(self, req: _Request) -> None:
        try:
            [outcome] = await self._commit_group([req])
        except asyncio.CancelledError:
            if not req.future.done():
                req.future.set_exception(Unavailable("the ledger is shutting down"))
            raise
        except DATABASE_DOWN as exc:
            self._tree = None
            _log.warning("append failed, database unreachable: %s", exc)
            outcome = Unavailable(UNAVAILABLE_DETAIL)
        except Exception as exc:
            self._tree = None
            _log.exception("append failed")
            outcome = exc
        if req.future.done():
            return
        if isinstance(outcome, BaseException):
            req.future.set_exception(outcome)
        else:
            req.future.set_result(outcome)

    async def _commit_group(self, group: list[_Request]) -> list[list[Receipt] | BaseException]:
        streams = sorted({c.statement.stream for r in group for c in r.candidates})
        hashes = [bytes.fromhex(c.event_hash) for r in group for c in r.candidates]
        org_statements = [c.statement for r in group for c in r.candidates
                          if c.statement.stream_kind == "org"]
        # Every key the rules may need: signers, keys named by revocations, and keys a
        # registration or addition introduces (a public key is never registered twice).
        kids = sorted({k for r in group for c in r.candidates for k in c.signer_keys}
                      | {str(st.data.get("key_id", "")) for st in org_statements}
                      | set(introduced_keys(org_statements)))
        orgs = sorted({c.statement.stream_key for r in group for c in r.candidates
                       if c.statement.stream_kind == "org"})
        # BEGIN and the lock in one round trip; the context query that follows
        # takes its snapshot after the lock is held, so it sees every commit that
        # came before ours.
        conn = await self._sequencer_connection()
        try:
            await conn.execute(_BEGIN_LOCKED)
            results, last_position = await self._decide_and_write(
                conn, group, streams, hashes, kids, orgs)
            await conn.execute("COMMIT")
        except BaseException:
            self._tree = None
            await self._drop_sequencer_connection(conn)
            raise
        if last_position is not None:
            for callback in self.on_commit:
                callback(last_position + 1)
        return results

    async def _decide_and_write(
        self, conn: asyncpg.Connection, group: list[_Request], streams: list[str],
        hashes: list[bytes], kids: list[str], orgs: list[str],
    ) -> tuple[list[list[Receipt] | BaseException], int | None]:
        ctx = await conn.fetchrow(_CONTEXT_SQL, streams, hashes, kids, orgs)
        next_position = 0 if ctx["last_position"] is None else ctx["last_position"] + 1
        now_us = max(int(self.clock() * 1_000_000), ctx["last_recorded_us"] or 0)
        heads = {s: Head(v, bytes(h).hex()) for s, v, h in ctx["heads"]}
        existing = {
            bytes(h).hex(): Receipt(p, s, v, bytes(h).hex(), t)
            for p, t, s, v, h in ctx["existing"]
        }
        registry = Registry({
            kid: KeyRecord(kid, org, bytes(pk), added, revoked)
            for kid, org, pk, added, revoked in ctx["keys"]
        })
        admitted_all: list[Admitted] = []
        results: list[list[Receipt] | BaseException] = []
        for req in group:
            has_org = any(c.statement.stream_kind == "org" for c in req.candidates)
            trial = copy.deepcopy(registry) if has_org else registry
            try:
                placed = admit(req.candidates, heads=heads, registry=trial,
                               existing=existing, next_position=next_position,
                               recorded_at_us=now_us)
                await admit_registration(conn, req.registration, placed)
            except LedgerError as exc:
                results.append(exc)
                continue
            registry = trial
            receipts = []
            for item in placed:
                if isinstance(item, Receipt):
                    receipts.append(item)
                    continue
                st = item.candidate.statement
                heads[st.stream] = Head(st.version, item.candidate.event_hash)
                receipt = Receipt(item.position, st.stream, st.version,
                                  item.candidate.event_hash, now_us)
                existing[item.candidate.event_hash] = receipt
                receipts.append(receipt)
                admitted_all.append(item)
                next_position += 1
            results.append(receipts)
        if not admitted_all:
            return results, None
        await self._write(conn, admitted_all, registry)
        return results, next_position - 1

    async def _write(self, conn: asyncpg.Connection, items: list[Admitted],
                     registry: Registry) -> None:
        """Insert the entries, their Merkle nodes and key changes in one statement."""
        first = items[0].position
        tree = await self._tree_at(conn, first)
        leaf_hashes = [merkle.hash_leaf(it.leaf) for it in items]
        nodes = tree.extend(leaf_hashes)
        cols: list[list[Any]] = [[] for _ in range(13)]
        keys: list[list[Any]] = [[], [], [], []]
        revocations: list[list[Any]] = [[], []]
        for it, lh in zip(items, leaf_hashes, strict=True):
            c, st = it.candidate, it.candidate.statement
            row = (it.position, it.recorded_at_us, st.stream, st.version,
                   bytes.fromhex(c.event_hash),
                   bytes.fromhex(st.prev) if st.prev else None,
                   st.type, st.actor, st.key, st.issued_at, c.payload, c.envelope_bytes, lh)
            for col, value in zip(cols, row, strict=True):
                col.append(value)
            if st.stream_kind != "org":
                continue
            if st.type in (ORG_REGISTERED, ORG_KEY_ADDED):
                raw = b64.decode(st.data["public_key"])
                rec = registry.keys[compute_key_id(raw)]
                keys[0].append(rec.key_id)
                keys[1].append(rec.org_id)
                keys[2].append(raw)
                keys[3].append(rec.added_at)
            elif st.type == ORG_KEY_REVOKED:
                revocations[0].append(st.data["key_id"])
                revocations[1].append(it.position)
        await conn.execute(
            _INSERT_ALL, *cols,
            [n.level for n in nodes], [n.index for n in nodes], [n.hash for n in nodes],
            *keys, *revocations, NOTIFY_CHANNEL, str(items[-1].position))
        for kid, raw in zip(keys[0], keys[2], strict=True):
            self._public_keys.put(kid, raw)
        self._tree = tree

    async def _tree_at(self, conn: asyncpg.Connection, size: int) -> merkle.CompactRange:
        """The compact range of the first ``size`` leaves (cached, else from nodes)."""
        if self._tree is not None and self._tree.size == size:
            return merkle.CompactRange(size, self._tree.frontier)
        ids = merkle.frontier_nodes(size)
        hashes = await fetch_nodes(conn, ids)
        return merkle.CompactRange(size, [hashes[(n.level, n.index)] for n in ids])

    # --- reading (the read layer's queries, over this store's pool) ----------------

    @property
    def reads(self) -> Reads:
        """The read layer over this store's pool (follows ``pool`` if it is replaced)."""
        if self._reads.pool is not self.pool:
            self._reads = Reads(self.pool)
        return self._reads

    async def size(self) -> int:
        """Number of entries in the log."""
        return await self.reads.size()

    async def head(self, stream: str) -> Head:
        """The stream's current version and head hash (version 0 if empty)."""
        return await self.reads.head(stream)

    async def read_stream(self, stream: str, *, after_version: int = 0,
                          limit: int = 10_000) -> list[StoredEvent]:
        """Events of ``stream`` with version > ``after_version``, in order."""
        return await self.reads.read_stream(stream, after_version=after_version, limit=limit)

    async def read_whole_stream(self, stream: str, *, after_version: int = 0,
                                page: int = 1000) -> list[StoredEvent]:
        """Every event of ``stream`` after ``after_version``, read ``page`` at a time."""
        return await self.reads.read_whole_stream(stream, after_version=after_version,
                                                  page=page)

    async def read_log(self, start: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Log entries with position >= ``start``, in order, at most ``limit``."""
        return await self.reads.read_log(start, limit)

    async def entry(self, position: int) -> StoredEvent:
        """The entry at ``position``; raises NotFound."""
        return await self.reads.entry(position)

    async def keys_of(self, org_id: str) -> list[KeyRecord]:
        """Every key an organization ever held, with its validity range."""
        return await self.reads.keys_of(org_id)

    # --- Merkle tree -----------------------------------------------------------------

    async def root(self, size: int) -> bytes:
        """The Merkle root of the first ``size`` entries."""
        return await self.reads.root(size)

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return await self.reads.inclusion_proof(index, size)

    async def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""
        return await self.reads.consistency_proof(size1, size2)
