"""The transparency log: signed checkpoints over the store's Merkle tree.

The log operator has its own Ed25519 key (never in an event). The ledger signs a
C2SP checkpoint after appends, at most every ``interval`` seconds, and stores every
checkpoint append-only. It never signs a smaller tree, nor a different root for a
size it signed before. At start-up ``verify_recent`` checks the entries after the last
checkpoint against it (time independent of the log's length); ``verify_history``
recomputes the whole tree from the stored entries (the server runs it in the
background) and, if it disagrees with the nodes or with the last checkpoint, the log
becomes ``suspect`` and signs nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from . import merkle
from .admission import verify_candidate_signatures
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    make_vkey,
    open_checkpoint,
    parse_vkey,
    sign_checkpoint,
)
from .envelope import decode_envelope
from .errors import HistoryMismatch, LedgerError, NotFound
from .keys import (
    Ed25519PrivateKey,
    generate_private_key,
    load_private_key,
    raw_public_key,
    save_private_key,
)
from .leaf import encode_leaf
from .registry import KeyRecord, Registry
from .signed_head import read_signed_head, record_signed_head, refusal
from .statement import event_hash, parse_statement
from .store import LOG_LOCK, PostgresStore, fetch_nodes
from .waits import share_loop, wait_event

__all__ = ["HistoryMismatch", "LogKeyMismatch", "SignedCheckpoint", "TransparencyLog",
           "ledger_log_key", "load_or_create_log_key", "recorded_log_key", "rotate_log_key"]

_log = logging.getLogger("ledger.log")


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str


class LogKeyMismatch(LedgerError):
    """The log key file is missing or is not the key this ledger signs with."""

    code = "log-key-mismatch"
    title = "The log key is not this ledger's"


# ledger_meta rows naming the log's vkey: ``log_key/000001`` at first start, one more
# per rotation; the highest is the key in use. ledger_meta is append-only.
_LOG_KEY_PREFIX = "log_key/"
_ROTATE_HINT = ("restore the key file, or start a new key with `ledger log rotate-key` "
                "(docs/DEPLOYMENT.md)")


async def recorded_log_key(conn: asyncpg.Connection) -> tuple[int, str] | None:
    """(rotation number, vkey) of the log key this ledger signs with, or None."""
    row = await conn.fetchrow(
        "SELECT name, value FROM ledger_meta WHERE name LIKE $1 ORDER BY name DESC LIMIT 1",
        _LOG_KEY_PREFIX + "%")
    if row is None:
        return None
    return int(row["name"][len(_LOG_KEY_PREFIX):]), str(row["value"])


async def _record_log_key(conn: asyncpg.Connection, number: int, vkey: str) -> None:
    await conn.execute(
        "INSERT INTO ledger_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        f"{_LOG_KEY_PREFIX}{number:06d}", vkey)


async def ledger_log_key(conn: asyncpg.Connection, path: Path, origin: str) -> Ed25519PrivateKey:
    """The log key of this ledger, from ``path``; refuses any other (LogKeyMismatch).

    At first start the key is made (if the file is missing) and its vkey recorded. A
    ledger that recorded none (made before keys were recorded) takes the file's key
    only if it verifies the last signed checkpoint. Afterwards the file must hold the
    recorded key: a missing file is never replaced by a new key here (only
    ``rotate_log_key`` does that, on the operator's explicit command).
    """
    recorded = await recorded_log_key(conn)
    if recorded is not None:
        if not path.exists():
            raise LogKeyMismatch(f"the log key file {path} is missing; this ledger signs "
                                 f"with {recorded[1]}: {_ROTATE_HINT}")
        key = load_private_key(path)
        if make_vkey(origin, raw_public_key(key)) != recorded[1]:
            raise LogKeyMismatch(f"the log key in {path} is not this ledger's "
                                 f"({recorded[1]}): {_ROTATE_HINT}")
        return key
    last = await conn.fetchval("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
    if last is not None:
        if not path.exists():
            raise LogKeyMismatch(f"the log key file {path} is missing and this ledger has "
                                 f"signed checkpoints: {_ROTATE_HINT}")
        key = load_private_key(path)
        try:
            open_checkpoint(last, parse_vkey(make_vkey(origin, raw_public_key(key))))
        except CheckpointError:
            raise LogKeyMismatch(f"the log key in {path} did not sign this ledger's "
                                 f"checkpoints: {_ROTATE_HINT}") from None
    else:
        key = load_or_create_log_key(path)
    await _record_log_key(conn, 1, make_vkey(origin, raw_public_key(key)))
    return await ledger_log_key(conn, path, origin)  # as recorded (two first starts race)


async def rotate_log_key(conn: asyncpg.Connection, path: Path,
                         origin: str) -> tuple[str, Path | None]:
    """Make a new log key at ``path`` and record it as this ledger's; the previous file
    (if any) is kept beside it as ``<name>.retired-<UTC time>``. Returns (new vkey,
    where the previous file went)."""
    recorded = await recorded_log_key(conn)
    number = 1 if recorded is None else recorded[0] + 1
    kept: Path | None = None
    if path.exists():
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        kept = path.with_name(f"{path.name}.retired-{stamp}")
        path.rename(kept)
    key = generate_private_key()
    vkey = make_vkey(origin, raw_public_key(key))
    try:
        save_private_key(key, path)
        await _record_log_key(conn, number, vkey)
    except BaseException:
        path.unlink(missing_ok=True)
        if kept is not None:
            kept.rename(path)
        raise
    _log.warning("rotated the log key: %s (rotation %d)", vkey, number)
    return vkey, kept


def load_or_create_log_key(path: Path) -> Ed25519PrivateKey:
    """Load the log operator's key, generating it (mode 0600) on first start."""
    if path.exists():
        return load_private_key(path)
    key = generate_private_key()
    save_private_key(key, path)
    _log.info("generated the log key at %s", path)
    return key


class TransparencyLog:
    """Checkpoints and history checks over a ``PostgresStore``."""

    def __init__(self, store: PostgresStore, key: Ed25519PrivateKey, *,
                 interval: float = 1.0, signed_head: Path | None = None,
                 record_every: float = 5.0) -> None:
        self.store = store
        #: The checkpointer also runs this often without a commit of its own, so that
        #: a process that does not append (another host's record) records the newest
        #: checkpoint the others signed within seconds.
        self.record_every = max(record_every, interval)
        #: The file remembering the newest checkpoint signed (``ledger.signed_head``),
        #: outside the database: None only where no promotion can happen (tests, tools).
        self.signed_head = signed_head
        self.key = key
        self.origin = store.ledger_id
        self.interval = interval
        self.vkey = make_vkey(self.origin, raw_public_key(key))
        self._signing = asyncio.Lock()  # one signing at a time (see distrust)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Why this process must sign no more checkpoints (the background history check
        #: found the stored history forged), or None. Never cleared in a process.
        self.suspect: str | None = None
        store.on_commit.append(lambda _size: self._wake.set())

    # --- checkpoints -----------------------------------------------------------------

    async def latest(self) -> SignedCheckpoint | None:
        row = await self.store.pool.fetchrow(
            "SELECT size, root_hash, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        if row is None:
            return None
        return SignedCheckpoint(row["size"], bytes(row["root_hash"]), row["note"])

    async def checkpoints(self) -> list[SignedCheckpoint]:
        rows = await self.store.pool.fetch(
            "SELECT size, root_hash, note FROM checkpoints ORDER BY size")
        return [SignedCheckpoint(r["size"], bytes(r["root_hash"]), r["note"]) for r in rows]

    async def checkpoint(self) -> SignedCheckpoint:
        """Sign and store a checkpoint of the current tree (or return the latest if the
        tree has not grown). Holds the log lock so the size and root are consistent.

        Refuses (HistoryMismatch) while ``suspect`` is set: a ledger never signs over a
        history found forged. Refuses, and becomes suspect, when the tree does not
        extend the newest checkpoint recorded in ``signed_head`` (a promotion or a
        restore lost entries the ledger signed: the ``checkpoints`` table lost them
        too)."""
        async with self._signing:
            return await self._checkpoint()

    async def distrust(self, reason: str) -> None:
        """Sign nothing more in this process (``suspect``), and return once no signing
        that began before is still in flight: whoever learns of the distrust after this
        sees no checkpoint signed after it."""
        self.suspect = reason
        async with self._signing:
            pass

    async def _checkpoint(self) -> SignedCheckpoint:
        if self.suspect is not None:
            raise HistoryMismatch(f"refusing to sign a checkpoint: {self.suspect}")
        async with self.store.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOG_LOCK)
            last = await conn.fetchrow(
                "SELECT size, root_hash, note FROM checkpoints ORDER BY size DESC LIMIT 1")
            size_row = await conn.fetchval("SELECT max(position) FROM events")
            size = 0 if size_row is None else size_row + 1
            root = await _root(conn, size)
            known = await self._check_signed_head(conn, size)
            signed: SignedCheckpoint | None = None
            if last is not None:
                if size < last["size"]:
                    raise HistoryMismatch(
                        f"the log has {size} entries but a checkpoint of size "
                        f"{last['size']} was signed; refusing to sign a smaller tree")
                if size == last["size"]:
                    if bytes(last["root_hash"]) != root:
                        raise HistoryMismatch(
                            f"the root at size {size} differs from the signed checkpoint")
                    signed = SignedCheckpoint(size, root, last["note"])
            if signed is None:
                note = sign_checkpoint(Checkpoint(self.origin, size, root), self.key)
                await conn.execute(
                    "INSERT INTO checkpoints (size, root_hash, note) VALUES ($1, $2, $3)",
                    size, root, note)
                signed = SignedCheckpoint(size, root, note)
        # Recorded once committed: with a synchronous standby the commit returns only
        # when the standby holds the checkpoint, so the record never names a tree a
        # promoted standby lacks. A newer one signed by another process (another host
        # with its own record) is recorded here as well, when this one sees it.
        if self.signed_head is not None and (known is None or known.size < signed.size):
            await asyncio.to_thread(record_signed_head, self.signed_head, signed.note,
                                    self.origin)
        return signed

    async def _check_signed_head(self, conn: asyncpg.Connection, size: int) -> Checkpoint | None:
        """The recorded newest signed checkpoint, after checking that the database's
        tree of ``size`` extends it; HistoryMismatch (and ``suspect``) if it does not."""
        if self.signed_head is None:
            return None
        known = read_signed_head(self.signed_head, self.origin)
        if known is None:
            return None
        at = await _root(conn, known.size) if known.size <= size else None
        reason = refusal(known, size, at)
        if reason is not None:
            self.suspect = reason
            raise HistoryMismatch(reason, index=size if size < known.size else None)
        return known


    async def verify_history(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Recompute every leaf hash from the stored entries, the tree from them, and
        compare with the stored nodes and with the last signed checkpoint.

        Reads the whole log (time grows with it): the server runs it in the background
        (``ledger.history_check``), after ``verify_recent`` let it start. Returns the log
        size. Raises HistoryMismatch naming the first index at fault.
        """
        last = await self.latest()
        tree = merkle.CompactRange()
        async with self.store.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            size = await _size(conn)

            def after_leaf() -> None:
                if last is not None and tree.size == last.size and tree.root() != last.root_hash:
                    raise HistoryMismatch(
                        f"the tree of size {last.size} does not match the last signed "
                        "checkpoint", index=last.size - 1)
                if progress is not None and tree.size % 10_000 == 0:
                    progress(tree.size, size)

            await _check_leaves(conn, tree, after_leaf)
            if last is not None and size < last.size:
                raise HistoryMismatch(
                    f"the log has {size} entries, fewer than the signed checkpoint's "
                    f"{last.size}", index=size)
            stored_root = await _root(conn, size) if size else merkle.EMPTY_ROOT
            if stored_root != tree.root():
                raise HistoryMismatch("the stored tree nodes do not match the entries")
            await self._verify_tail(conn, 0 if last is None else last.size)
        if progress is not None:
            progress(size, size)
        return size

    async def verify_recent(self) -> int:
        """The start-up check, in time independent of the log's length: only the
        entries after the last signed checkpoint, O(those + log n).

        The stored frontier nodes of the last checkpoint's size must hash to its signed
        root (so they are authentic); the tree is rebuilt from them and every later
        entry's leaf, recomputed from the entry, and must end at the stored nodes' root
        for the current size (what the next checkpoint would sign); the later entries
        are re-admitted (``_verify_tail``); the tree must extend the newest checkpoint
        recorded outside the database (``signed_head``). What the checkpoint covers is bound by its
        signature; that the stored entries still agree with it is for ``verify_history``
        (in the background). Returns the log size; raises HistoryMismatch.
        """
        last = await self.latest()
        async with self.store.pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            size = await _size(conn)
            start = 0 if last is None else last.size
            if size < start:
                raise HistoryMismatch(
                    f"the log has {size} entries, fewer than the signed checkpoint's "
                    f"{start}", index=size)
            tree = merkle.CompactRange()
            if last is not None and start:
                ids = merkle.frontier_nodes(start)
                try:
                    found = await fetch_nodes(conn, ids)
                except NotFound:
                    raise HistoryMismatch(f"tree nodes for the signed size {start} are "
                                          "missing", index=start - 1) from None
                if merkle.root_from_nodes(start, lambda lv, ix: found[(lv, ix)]) \
                        != last.root_hash:
                    raise HistoryMismatch(
                        f"the stored tree nodes of size {start} do not hash to the last "
                        "signed checkpoint's root", index=start - 1)
                tree = merkle.CompactRange(start, [found[(n.level, n.index)] for n in ids])
            await _check_leaves(conn, tree)
            if tree.root() != await _root(conn, size):
                raise HistoryMismatch(
                    f"the stored tree nodes of size {size} do not match the entries after "
                    f"the last checkpoint ({start})", index=start)
            # The database agrees with itself; does it hold what this ledger signed?
            await self._check_signed_head(conn, size)
            await self._verify_tail(conn, start)
        return size

    async def _verify_tail(self, conn: asyncpg.Connection, start: int) -> None:
        """Re-admit the entries no checkpoint covers yet: canonical payload for this
        ledger, stream chain, key valid at the position, signatures. What a checkpoint
        covers is bound by the tree; what it does not must stand on its own before the
        log signs over it."""
        keys = await conn.fetch(
            "SELECT k.key_id, k.org_id, k.public_key, k.added_at, r.revoked_at "
            "FROM keys k LEFT JOIN key_revocations r USING (key_id)")
        registry = Registry({r["key_id"]: KeyRecord(r["key_id"], r["org_id"],
                                                    bytes(r["public_key"]), r["added_at"],
                                                    r["revoked_at"]) for r in keys})

        def public_key(kid: str) -> bytes | None:
            record = registry.keys.get(kid)
            return None if record is None else record.public_key

        # A cursor (in the caller's transaction): the tail is read a page at a time, so
        # a long one (a checkpointer that could not sign for a while) is not held whole.
        rows = conn.cursor(
            "SELECT e.position, e.envelope, e.event_hash, p.event_hash AS prev_hash "
            "FROM events e LEFT JOIN events p "
            "  ON p.stream = e.stream AND p.version = e.version - 1 "
            "WHERE e.position >= $1 ORDER BY e.position", start, prefetch=1000)
        async for row in rows:
            position = row["position"]
            try:
                env, payload = decode_envelope(bytes(row["envelope"]))
                st = parse_statement(payload)
                if st.ledger != self.origin:
                    raise HistoryMismatch(f"statement for ledger {st.ledger!r}")
                if event_hash(payload) != bytes(row["event_hash"]).hex():
                    raise HistoryMismatch("the stored event hash is not the payload's")
                prev = None if row["prev_hash"] is None else bytes(row["prev_hash"]).hex()
                if st.prev != prev:
                    raise HistoryMismatch("prev does not link to the stream's previous event")
                registry.signer_key(st, position)
                verify_candidate_signatures(env, payload, st, public_key)
            except LedgerError as exc:
                raise HistoryMismatch(
                    f"entry {position}, not yet covered by a checkpoint, does not verify: "
                    f"{exc.detail}", index=position) from None

    # --- background ------------------------------------------------------------------

    def start(self) -> None:
        """Checkpoint in the background after appends, at most every ``interval``, and
        at least every ``record_every`` (recording what other processes signed)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="checkpointer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        self._wake.set()
        while True:
            await wait_event(self._wake, self.record_every)
            self._wake.clear()
            try:
                await self.checkpoint()
            except asyncio.CancelledError:
                raise
            except LedgerError as exc:
                if self.suspect is not None:  # said once: nothing more will be signed
                    _log.error("checkpoint refused: %s; no more checkpoints in this "
                               "process", exc.diagnostics())
                    return
                _log.error("checkpoint refused: %s", exc.diagnostics())
            except Exception as exc:  # database down or anything else: keep the loop alive
                _log.warning("checkpoint failed, will retry: %s", exc)
                self._wake.set()
            await asyncio.sleep(self.interval)


async def _size(conn: asyncpg.Connection) -> int:
    last = await conn.fetchval("SELECT max(position) FROM events")
    return 0 if last is None else int(last) + 1


async def _check_leaves(conn: asyncpg.Connection, tree: merkle.CompactRange,
                        after_leaf: Callable[[], None] | None = None) -> None:
    """From position ``tree.size`` on, recompute each entry's leaf hash from the entry,
    compare it with the stored level-0 node and ``leaf_hash`` column, and append it to
    ``tree`` (then call ``after_leaf``). Positions must follow each other. The one loop
    of both the full and the recent check."""
    cursor = conn.cursor(
        "SELECT e.position, e.recorded_at_us, e.envelope, e.leaf_hash, n.hash "
        "FROM events e LEFT JOIN merkle_nodes n ON n.level = 0 AND n.idx = e.position "
        "WHERE e.position >= $1 ORDER BY e.position", tree.size, prefetch=2000)
    async for row in cursor:
        pos, expected = row["position"], tree.size
        if pos != expected:
            raise HistoryMismatch(f"entry {expected} is missing (next is {pos})",
                                  index=expected)
        leaf = encode_leaf(pos, row["recorded_at_us"], bytes(row["envelope"]))
        lh = merkle.hash_leaf(leaf)
        if row["hash"] is None or bytes(row["hash"]) != lh or bytes(row["leaf_hash"]) != lh:
            raise HistoryMismatch(f"entry {pos}: leaf hash differs from the tree", index=pos)
        tree.append(lh)
        if after_leaf is not None:
            after_leaf()
        await share_loop(pos)  # a long check (in the background) shares the loop


async def _root(conn: asyncpg.Connection, size: int) -> bytes:
    if size == 0:
        return merkle.EMPTY_ROOT
    ids = merkle.frontier_nodes(size)
    try:
        found = await fetch_nodes(conn, ids)
    except NotFound as exc:
        raise HistoryMismatch(f"tree nodes for size {size} are missing") from exc
    return merkle.root_from_nodes(size, lambda lv, ix: found[(lv, ix)])
