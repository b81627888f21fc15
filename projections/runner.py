"""The projection runner: follows the global log and keeps the read models up to date.

Each ``step`` is one transaction: lock the checkpoint row, read the next page of the log
from the saved position, fold its agreement events into the cached states, write the
rows that changed and the history summaries, save the new position, commit. The rows
and the position commit together, so each event takes effect exactly once whatever
crashes; a runner that starts (or restarts) resumes from the saved position. The lock
makes concurrent runners, and a rebuild, take turns.

The cache: each agreement's ``Tracked`` state, so an event costs one ``evolve`` and not
a refold; at most ``cache_size`` agreements and ``cache_bytes`` of their estimated
memory (least recently used beyond that are dropped; ``ledger.config.Caches``).
A page writes only what its events changed: each event names the entities it touched
(``agreements.touched``: the agreement's row, the commitment and the fulfilment it
records, ...), and only their rows are rewritten (deleted by key, inserted with COPY),
so an event's cost does not grow with its agreement's history.
The cache always stands at the position the runner last committed; if a step fails for
any reason (the database, a cancellation, a bug), the half-applied states are dropped
and reloaded from the events on next touch. An agreement that is not cached is
reloaded by folding its events before the saved position, where its rows stand too.

Run it as a background task (``start``/``stop``: woken by the store's
``pg_notify('ledger_log', ...)``, by ``notify()``, or by polling) or call ``catch_up``.
In a server, the process's one :class:`~ledger.reads.LogFollower` wakes it (``follower``):
the runner then LISTENs on nothing itself and holds a pool connection only for the
leader's lock. Alone (a CLI, a test), it LISTENs on that connection.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any, Final

import asyncpg

from ledger.db import connection_usable
from ledger.envelope import signed_payload
from ledger.lru import LRU, agreement_bytes
from ledger.reads import NOTIFY_CHANNEL, LogFollower
from ledger.snapshot import seal_snapshot
from ledger.waits import wait_event

from . import sql
from .agreements import AGREEMENT, ALL, Entity, empty_rows, entity_rows, scope, touched
from .fold import AGREEMENT_PREFIX, Tracked, apply_fact, decode_fact, fold_fact
from .images import FORMAT, ImageRejected, SealedImage, open_image, seal_image
from .replay import rebuild

__all__ = ["ProjectionRunner"]

_log = logging.getLogger("ledger.projections.runner")

# A page is a range of (gapless) positions: its cost is bounded whatever the plan.
# What is folded is the statement the stored envelope signs (``signed_payload``), never
# the ``payload`` column, a copy that a superuser could change behind the log's back.
_PAGE_SQL: Final = ("SELECT position, recorded_at_us, stream, envelope, event_hash FROM events "
                    "WHERE position >= $1 AND position < $1 + $2 ORDER BY position")
# Each stream's events after a version (its image's, or 0): a nested loop over the
# streams, each one an index range of ``UNIQUE (stream, version)``, whatever the plan.
_RELOAD_SQL: Final = """
SELECT e.position, e.recorded_at_us, e.stream, e.envelope
FROM unnest($1::text[], $2::integer[]) AS k(stream, after)
CROSS JOIN LATERAL (SELECT position, recorded_at_us, stream, envelope FROM events
                    WHERE stream = k.stream AND version > k.after AND position < $3) e
ORDER BY e.position
"""
_IMAGES_SQL: Final = ("SELECT agreement_id, version, position, format, image, seal "
                      "FROM projection_images WHERE agreement_id = ANY($1::text[]) "
                      "AND position < $2")
_SAVE_IMAGES_SQL: Final = """
INSERT INTO projection_images (agreement_id, version, position, format, image, seal)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::integer[], $5::bytea[],
                     $6::bytea[])
ON CONFLICT (agreement_id) DO UPDATE SET version = EXCLUDED.version,
    position = EXCLUDED.position, format = EXCLUDED.format, image = EXCLUDED.image,
    seal = EXCLUDED.seal
"""
# The reads' snapshots of agreement states (``ledger.reads.states``), made here too.
_SAVE_SNAPSHOTS_SQL: Final = """
INSERT INTO agreement_snapshots (stream, version, event_hash, format, state, state_hash, seal)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bytea[], $4::integer[], $5::bytea[],
                     $6::text[], $7::bytea[])
ON CONFLICT DO NOTHING
"""
_DISCARD_IMAGES_SQL: Final = ("DELETE FROM projection_images "
                              "WHERE agreement_id = ANY($1::text[])")
_OFF_LOOP: Final = 200  # a reload folding more events than this runs in a worker thread
_PREFIX_LEN: Final = len(AGREEMENT_PREFIX)
RUNNER_LOCK_CLASS: Final = 0x4C454447  # "LEDG": with hashtext(name), the leading runner's lock
_RELEASE_TIMEOUT: Final = 5.0  # seconds to reset a connection given back to the pool
_STOP_TIMEOUT: Final = 10.0  # seconds ``stop`` waits for the task to end


def _columns(rows: Iterable[tuple[Any, ...]]) -> list[list[Any]]:
    """Rows as columns (the arrays of an ``unnest``)."""
    return [list(c) for c in zip(*rows, strict=True)]


def _fold_rows(states: dict[str, Tracked], rows: Sequence[asyncpg.Record]) -> None:
    """Fold stored agreement events (in log order) onto their agreements' states."""
    for r in rows:
        fact = decode_fact(signed_payload(r["envelope"]), r["position"])
        apply_fact(states[r["stream"][_PREFIX_LEN:]], fact, r["recorded_at_us"])


def tracked_bytes(t: Tracked) -> int:
    """The estimated memory of a folded agreement: its domain state and the read models'
    extras (ratifications, tallies, ...), measured at about 1.4 times the state alone."""
    return agreement_bytes(t.last_version) * 3 // 2


class ProjectionRunner:
    """Keeps the read models of ``pool``'s ledger in step with its log.

    ``page_size``: log entries per transaction. ``cache_size``: agreements kept folded in
    memory, ``cache_bytes`` their estimated memory (least recently used beyond either
    are dropped and refolded when touched); the only cache the runner keeps, so its
    memory is bounded by those between steps (and by the agreements of one page more
    while a step folds it).
    ``poll_interval``: seconds between checks when no notification arrives.
    ``batch_delay``: seconds to wait after a notification before applying, so that
    under a stream of commits one step applies all of them (a step's fixed cost, a
    dozen round trips, is then paid per batch instead of per commit); the read models
    lag the log by about that much more.
    In the background (``start``), one runner per projection and database leads and
    the others stand by (``_lead``).
    ``rebuild_from``: when nothing was applied yet (checkpoint 0, e.g. a new database, or
    after a restore without the read models) and the log holds at least
    this many entries, ``catch_up`` starts with a ``rebuild``, which gives the same rows
    much faster; ``None`` never does.
    ``image_key``: the key sealing the images of folded agreements
    (``projections.images.image_key``); with it, a step stores an agreement's image
    each time it passes ``image_every`` more of its events, and an agreement not held
    is reloaded from its image (what follows it folded), not from its first event.
    None (a runner without the log key: the CLI's) neither reads nor writes images.
    ``snapshot_key``: the key of the reads' snapshots of agreement states
    (``ledger.snapshot.seal_key``); with it, the same steps store a snapshot of the
    agreement's domain state beside its image, so that the reads and the write rules,
    which fold an agreement they do not keep from its newest snapshot, find one for
    every agreement, read or not (otherwise only their own folds make them).
    ``reloaded`` counts the events folded to reload agreements, ``discarded`` the
    images refused (what a test or a metric reads to see the work done).
    """

    def __init__(self, pool: asyncpg.Pool, *, name: str = sql.CHECKPOINT,
                 page_size: int = 1000, cache_size: int = 10_000,
                 cache_bytes: int | None = 32 << 20,
                 poll_interval: float = 1.0, batch_delay: float = 0.2,
                 rebuild_from: int | None = 20_000,
                 follower: LogFollower | None = None,
                 image_key: bytes | None = None, image_every: int = 200,
                 snapshot_key: bytes | None = None) -> None:
        if page_size < 1 or cache_size < 1 or (cache_bytes is not None and cache_bytes < 1):
            raise ValueError(f"page_size {page_size}, cache_size {cache_size} and "
                             f"cache_bytes {cache_bytes} must be >= 1")
        self.pool = pool
        self.name = name
        self.page_size = page_size
        self.cache_size = cache_size
        self.poll_interval = poll_interval
        self.batch_delay = batch_delay
        self.rebuild_from = rebuild_from
        self.follower = follower
        self.cache_bytes = cache_bytes
        self.image_key = image_key if image_every > 0 else None
        self.image_every = image_every
        self.snapshot_key = snapshot_key if image_every > 0 else None
        self.reloaded = 0
        self.discarded = 0
        # Trimmed between steps only (``_trim``): a step uses its page's states.
        self._states: LRU[str, Tracked] = LRU(cache_size, cache_bytes)
        self._position: int | None = None  # where the cache stands (None: unknown)
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- one page at a time ----------------------------------------------------------

    @property
    def position(self) -> int | None:
        """The next log position to apply, as of this runner's last commit."""
        return self._position

    async def catch_up(self) -> int:
        """Apply pages until the end of the log; the number of log entries applied."""
        total = await self._rebuild_if_empty()
        while True:
            n = await self.step()
            if n == 0:
                return total
            total += n

    async def step(self) -> int:
        """Apply the next page of the log in one transaction; log entries applied."""
        try:
            conn = await self.pool.acquire()
            try:
                async with conn.transaction():
                    saved = await sql.lock_checkpoint(conn, self.name)
                    if saved != self._position:  # first step, or another writer moved it
                        self._forget()
                        self._position = saved
                    page = await conn.fetch(_PAGE_SQL, saved, self.page_size)
                    if not page:
                        return 0
                    end = page[-1]["position"] + 1
                    await self._apply(conn, page, saved)
                    await sql.save_checkpoint(conn, end, self.name)
            finally:
                await self._give_back(conn)
        except BaseException:
            self._forget()
            raise
        self._position = end
        self._trim()
        self._progress.set()
        return len(page)

    async def _rebuild_if_empty(self) -> int:
        if self.rebuild_from is None or await sql.load_checkpoint(self.pool, self.name) != 0:
            return 0
        size = await self.pool.fetchval("SELECT coalesce(max(position) + 1, 0) FROM events")
        if size < self.rebuild_from:
            return 0
        self._forget()
        report = await rebuild(self.pool, name=self.name)
        _log.info("projection %s: rebuilt %d log entries in %.2f s", self.name,
                  report.position, report.seconds)
        return report.position

    async def _apply(self, conn: asyncpg.Connection, page: Sequence[asyncpg.Record],
                     saved: int) -> None:
        missing = {r["stream"] for r in page if r["stream"].startswith(AGREEMENT_PREFIX)
                   and r["stream"][_PREFIX_LEN:] not in self._states}
        if missing:
            await self._reload(conn, sorted(missing), saved)
        history: list[tuple[Any, ...]] = []
        changed: dict[str, tuple[Tracked, set[Entity]]] = {}
        versions: dict[str, int] = {}  # of each agreement the page touches, before it
        heads: dict[str, bytes] = {}  # the hash of its last event in the page
        for r in page:
            stream = r["stream"]
            if not stream.startswith(AGREEMENT_PREFIX):
                continue  # org streams and anything else: skipped, position still advances
            aid = stream[_PREFIX_LEN:]
            entry = changed.get(aid)
            if entry is None:
                tracked = self._states.get(aid)
                assert tracked is not None  # reloaded above, and not trimmed within a step
                entry = changed[aid] = (tracked, set())
                versions[aid] = tracked.last_version
            t, entities = entry
            fact = decode_fact(signed_payload(r["envelope"]), r["position"])
            may = touched(fact, t.state)  # asked before: the fold changes the state
            row = fold_fact(t, aid, fact, r["recorded_at_us"])
            entities |= may if row[3] else {AGREEMENT}  # row[3]: the domain applied it
            history.append(row)
            heads[aid] = r["event_hash"]
        await self._write(conn, changed, history)
        await self._save_images(conn, changed, versions, heads)
        for aid, (t, _) in changed.items():
            self._states.reweigh(aid, tracked_bytes(t), trim=False)

    async def _save_images(self, conn: asyncpg.Connection,
                           changed: dict[str, tuple[Tracked, set[Entity]]],
                           versions: dict[str, int],
                           heads: dict[str, bytes] | None = None) -> None:
        """Store the image of each agreement that passed a multiple of ``image_every``
        events in this page, in the step's transaction (so it stands where the rows do),
        and, given the hash of its last event (``heads``), a snapshot of its state."""
        key, every = self.image_key, self.image_every
        if key is None:
            return
        due = [(aid, t) for aid, (t, _) in changed.items()
               if t.last_version // every > versions[aid] // every and t.last_version]
        if not due:
            return
        images = [seal_image(key, aid, t) for aid, t in due]
        await conn.execute(_SAVE_IMAGES_SQL, *_columns(
            (i.agreement_id, i.version, i.position, i.format, i.image, i.seal)
            for i in images))
        if self.snapshot_key is None or heads is None:
            return
        snaps = [seal_snapshot(self.snapshot_key, AGREEMENT_PREFIX + aid, t.last_version,
                               heads[aid].hex(), t.state) for aid, t in due if aid in heads]
        if snaps:
            await conn.execute(_SAVE_SNAPSHOTS_SQL, *_columns(
                (s.stream, s.version, bytes.fromhex(s.event_hash), s.format, s.state,
                 s.state_hash, s.seal) for s in snaps))

    async def _reload(self, conn: asyncpg.Connection, streams: list[str], before: int) -> None:
        """Reload agreements not in the cache as they stand before log position
        ``before`` (where their rows in the tables stand too: they commit together):
        from each one's image when it has a good one, then the events after it."""
        fresh = await self._images(conn, [s[_PREFIX_LEN:] for s in streams], before)
        after = [fresh[s[_PREFIX_LEN:]].last_version for s in streams]
        rows = await conn.fetch(_RELOAD_SQL, streams, after, before)
        if len(rows) > _OFF_LOOP:  # a long fold never holds up the event loop
            await asyncio.to_thread(_fold_rows, fresh, rows)
        else:
            _fold_rows(fresh, rows)
        self.reloaded += len(rows)
        folded = collections.Counter(r["stream"] for r in rows)
        long = {s[_PREFIX_LEN:] for s, n in folded.items() if n >= self.image_every}
        # an agreement refolded at length (no image yet: a rebuild keeps none) gets one
        await self._save_images(conn, {aid: (fresh[aid], set()) for aid in long},
                                dict.fromkeys(long, -1))
        for aid, t in fresh.items():
            self._states.put(aid, t, tracked_bytes(t), trim=False)

    async def _images(self, conn: asyncpg.Connection, aids: list[str],
                      before: int) -> dict[str, Tracked]:
        """The agreements ``aids`` from their good images before ``before``; a fresh
        ``Tracked`` for the others. An image that fails a check is logged and deleted."""
        fresh = {aid: Tracked() for aid in aids}
        key = self.image_key
        if key is None:
            return fresh
        rejected = []
        for r in await conn.fetch(_IMAGES_SQL, aids, before):
            sealed = SealedImage(r["agreement_id"], r["version"], r["position"],
                                 r["format"], bytes(r["image"]), bytes(r["seal"]))
            try:
                fresh[sealed.agreement_id] = open_image(key, sealed)
            except ImageRejected as exc:
                if sealed.format == FORMAT:
                    _log.warning("image of agreement %s at version %d discarded, refolding "
                                 "it from its events: %s", sealed.agreement_id,
                                 sealed.version, exc)
                    self.discarded += 1
                rejected.append(sealed.agreement_id)
        if rejected:
            await conn.execute(_DISCARD_IMAGES_SQL, rejected)
        return fresh

    async def _write(self, conn: asyncpg.Connection,
                     changed: dict[str, tuple[Tracked, set[Entity]]],
                     history: list[tuple[Any, ...]]) -> None:
        """Rewrite the rows of the entities the page touched (deleted by key, inserted
        with COPY) and add the history rows: a few rows per event, whatever the length
        of its agreement. An event that changes who the parties are rewrites its
        agreement (``ALL``)."""
        deletes: dict[tuple[int, int], list[tuple[Any, ...]]] = {}
        inserts = empty_rows()
        for aid, (t, entities) in changed.items():
            for entity in (ALL,) if ALL in entities else entities:
                for table, key in scope(aid, entity):
                    deletes.setdefault((table, len(key)), []).append(key)
                entity_rows(aid, t, entity, inserts)
        for (table, _), keys in sorted(deletes.items()):
            await sql.delete_keys(conn, sql.TABLES[table], keys)
        for table_def, rows in zip(sql.TABLES, inserts, strict=True):
            await sql.copy_rows(conn, table_def, rows)
        await sql.copy_rows(conn, sql.HISTORY, history)

    def _forget(self) -> None:
        """Drop every cached state: they may be ahead of what is committed."""
        self._states.clear()
        self._position = None

    def _trim(self) -> None:
        """Keep at most ``cache_size`` agreements and ``cache_bytes`` folded (the least
        recently used go)."""
        self._states.trim()

    # --- in the background -----------------------------------------------------------

    def notify(self, position: int | None = None) -> None:
        """Wake the background task (e.g. from ``PostgresStore.on_commit``)."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until ``stop``: catch up, then wait for new events."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"projection-{self.name}")

    async def stop(self) -> None:
        """Stop the background task; a step in progress is rolled back.

        Bounded: a task that does not end within ``_STOP_TIMEOUT`` seconds of its
        cancellation is left behind (logged) rather than holding up the shutdown; the
        pool's bounded close then ends its connection."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=_STOP_TIMEOUT)
            if not done:
                _log.warning("projection %s: did not stop within %.0f s", self.name,
                             _STOP_TIMEOUT)
            elif not task.cancelled() and task.exception() is not None:
                _log.error("projection %s: ended with an error", self.name,
                           exc_info=task.exception())

    async def wait_for(self, position: int, timeout: float = 10.0) -> None:
        """Wait until the runner has applied the log up to ``position`` (exclusive).

        Raises ``TimeoutError``. Requires the background task (or someone calling
        ``step``) to be running.
        """
        async with asyncio.timeout(timeout):
            while self._position is None or self._position < position:
                self._progress.clear()
                await self._progress.wait()

    async def _run(self) -> None:
        listener: asyncpg.Connection | None = None
        leading = False
        delay = self.poll_interval
        if self.follower is not None:
            self.follower.subscribe(self.notify)
        try:
            while True:
                if not connection_usable(listener):
                    listener = await self._listen(listener)
                    leading = False
                if not leading:
                    leading = await self._lead(listener)
                    if not leading:  # another process's runner applies: stand by
                        await asyncio.sleep(self.poll_interval)
                        continue
                self._wake.clear()
                try:
                    await self.catch_up()
                    delay = self.poll_interval
                except Exception:  # the database, or a bug: log it, back off, retry
                    _log.exception("projection %s: step failed, retrying in %.1f s",
                                   self.name, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                if await wait_event(self._wake, self.poll_interval) and self.batch_delay > 0:
                    await asyncio.sleep(self.batch_delay)
        finally:
            if self.follower is not None:
                self.follower.unsubscribe(self.notify)
            if listener is not None:
                await self._release(listener)

    async def _lead(self, listener: asyncpg.Connection | None) -> bool:
        """Whether this background runner is the one that applies the log.

        One runner per projection and database leads: the one holding a session
        advisory lock on its listening connection (released with that connection,
        so when its process dies another takes over within ``poll_interval``).
        Several runners stepping in turn would be correct (the checkpoint row is
        locked per step) but wasteful: each finds the checkpoint moved by the others
        and refolds its agreements. Without a listening connection (polling mode),
        every runner steps.
        """
        if listener is None:
            return True
        try:
            return bool(await listener.fetchval(
                "SELECT pg_try_advisory_lock($1, hashtext($2))", RUNNER_LOCK_CLASS,
                self.name))
        except Exception as exc:  # the database went away: the next turn reconnects
            _log.warning("projection %s: cannot take the runner lock: %s", self.name, exc)
            return False

    async def _listen(self, old: asyncpg.Connection | None) -> asyncpg.Connection | None:
        """The connection that holds the leader's lock (and LISTENs on the store's
        channel when no follower wakes the runner), or None (then we poll).

        It is held from the pool for as long as the task runs, so it is taken only when
        the pool still leaves two connections for a step or a rebuild. A cancellation
        at any await here hands the connection back before it propagates: a connection
        kept out of the pool would make ``pool.close()`` wait forever.
        """
        if old is not None:
            await self._release(old)
        if self.pool.get_max_size() < 3:
            return None
        conn: asyncpg.Connection | None = None
        try:
            conn = await self.pool.acquire()
            if self.follower is None:
                await conn.add_listener(NOTIFY_CHANNEL, self._notified)
        except BaseException as exc:
            if conn is not None:
                await self._release(conn)
            if not isinstance(exc, Exception):  # a cancellation: after the release
                raise
            # the database is not there: poll until it is
            _log.warning("projection %s: cannot LISTEN, polling: %s", self.name, exc)
            return None
        return conn

    async def _release(self, conn: asyncpg.Connection) -> None:
        """Stop listening on ``conn`` and hand it back to the pool, whatever happens.

        asyncpg's ``Pool.release`` shields the reset of the connection: a cancellation
        landing during it returns at once while the reset goes on. ``_give_back`` waits
        for the reset (at most ``_RELEASE_TIMEOUT``) before the cancellation goes on, so
        that a stopped runner has given its connections back when ``stop`` returns."""
        try:
            if self.follower is None:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, self._notified)
        finally:
            await self._give_back(conn)

    async def _give_back(self, conn: asyncpg.Connection) -> None:
        """Hand ``conn`` back to the pool; a cancellation waits for its reset (bounded)
        before it goes on (see ``_release``)."""
        release = asyncio.ensure_future(self.pool.release(conn, timeout=_RELEASE_TIMEOUT))
        try:
            await asyncio.shield(release)
        except asyncio.CancelledError:
            await asyncio.wait({release}, timeout=_RELEASE_TIMEOUT)
            raise
        except Exception as exc:  # the pool terminates a connection it cannot reset
            _log.debug("projection %s: a connection was not reset: %s", self.name, exc)
        finally:
            if release.done() and not release.cancelled():
                release.exception()  # retrieved: never "exception was never retrieved"

    def _notified(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        self._wake.set()

