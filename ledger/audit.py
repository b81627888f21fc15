"""Offline audit of a bundle: no database, no network, no trust in the server.

What is checked, in order of the log:

1. every entry line: its index is the next one; its leaf bytes carry that index and
   exactly the canonical bytes of its envelope; the payload is canonical JSON for this
   ledger; every signature verifies (Ed25519 over DSSE PAE) — spread over every core,
   with the keys the bundle introduced before it;
2. every stream's version sequence and prev-hash chain;
3. every signing key against the key history replayed from the bundle itself (the
   actor's key, valid at that log position), and the organization rules;
4. the Merkle tree: the root at every checkpoint's size equals the checkpoint's root;
5. every checkpoint's signature against the pinned log key (never a key from the bundle);
6. consistency with a trusted checkpoint kept from before: a bundle shorter than it
   (rolled back or truncated) or with another root at its size (a fork) fails;
7. optionally, rules replayed over the verified entries (the agreement rules: see
   ``Replay``), partitioned by the stream they fold, every core folding its share.

The result names the first failing index and what failed.
"""

from __future__ import annotations

import binascii
import bisect
import collections
import contextlib
import gc
import heapq
import itertools
import mmap
import os
import struct
import time
from array import array
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import b64, merkle
from .admission import Head, _check_chain
from .bundle import BUNDLE_FORMAT
from .canonical import canonical_bytes
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    Verifier,
    make_vkey,
    open_checkpoint,
    parse_vkey,
)
from .envelope import decode_canonical, decode_envelope_signed, pae
from .errors import LedgerError, Rejected
from .keys import key_id as compute_key_id
from .keys import public_key_from_raw
from .leaf import LEAF_HEADER_SIZE, decode_leaf
from .registry import ORG_KEY_ADDED, ORG_REGISTERED, Registry, check_org_statement
from .statement import Statement, event_hash, parse_statement

__all__ = ["AuditReport", "Failure", "Replay", "verify_bundle"]


class Replay(Protocol):
    """Rules replayed over a verified bundle, one partition at a time.

    ``route`` names the partition a verified statement belongs to (None: not replayed),
    or raises ``Rejected`` for one no partition may hold; every statement of a partition
    then reaches ``apply``, in log order, on the same instance, as its payload bytes
    (``parse_statement`` accepted them: canonical, well-formed) with its log index and
    ``recorded_at`` (microseconds since the epoch). Partitions are
    independent (an agreement's rules see that agreement's events only), so they are
    folded in parallel, each in one worker process; an instance sees some partitions of
    the bundle, none of them twice. ``state_hashes`` gives each partition's final state
    hash (hex) once its statements are applied.
    """

    def route(self, statement: Statement) -> str | None: ...

    def apply(self, key: str, payload: bytes, index: int, recorded_us: int) -> None: ...

    def state_hashes(self) -> dict[str, str]: ...

@dataclass(frozen=True, slots=True)
class Failure:
    index: int | None
    code: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "code": self.code, "detail": self.detail}


@dataclass(slots=True)
class AuditReport:
    origin: str = ""
    size: int = 0
    entries_verified: int = 0
    signatures_verified: int = 0
    checkpoints_verified: int = 0
    streams: int = 0
    organizations: int = 0
    root_hash: str = ""
    trusted_checkpoint: dict[str, Any] | None = None
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)
    agreements: dict[str, str] = field(default_factory=dict)  # by key, from a Replay
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "origin": self.origin,
            "size": self.size,
            "entries_verified": self.entries_verified,
            "signatures_verified": self.signatures_verified,
            "checkpoints_verified": self.checkpoints_verified,
            "streams": self.streams,
            "organizations": self.organizations,
            "root_hash": self.root_hash,
            "trusted_checkpoint": self.trusted_checkpoint,
            "failure": None if self.failure is None else self.failure.to_json(),
            "warnings": self.warnings,
            "agreements": self.agreements,
            "elapsed_seconds": round(self.elapsed, 3),
            "events_per_second": round(self.entries_verified / self.elapsed)
            if self.elapsed > 0 else None,
        }


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


# --- the parallel part: work on byte ranges of the bundle, in worker processes ----------
#
# The main process never reads entry lines: workers get byte ranges of the file and
# return, per range, what the sequential checks need and nothing more. The checkpoints
# are the file's last lines, read first. Then the entries of each range are verified;
# the range's leaves come back hashed up into the few aligned perfect subtrees that
# cover it (cut at every checkpoint size), so the main process merges a handful of
# hashes per range instead of every leaf.
#
# Keys are learned on the way: a worker learns each key an entry introduces
# (registration, key added) as it reads it, and every range is sent with the keys the
# main process learned since shortly before (the first range runs alone: a log usually
# opens with its organizations' registrations). A signature whose key its worker does
# not know yet travels with its row, and the main process verifies it with the key its
# history holds at that position. A key id is the SHA-256 of the key, so wherever a key
# was learned, it is the one key that id names; whether it may sign there is the key
# history's question, answered in the main process.

RANGE_BYTES = 1 << 20
"""Bytes of bundle per task of the verification (about 500 entries of ~2 KB)."""
_AHEAD_PER_WORKER = 4
"""Ranges sent ahead per worker: enough that none waits while the main process works."""


class _Entry(msgspec.Struct):
    """An entry line as exported; ``envelope`` kept as the raw bytes of the line."""

    index: int
    leaf: str
    envelope: msgspec.Raw


_entry_decoder = msgspec.json.Decoder(_Entry)
_LEAF_HEAD = struct.Struct(">QQ")  # index, recorded_at_us (see ledger.leaf)

# The signatures of an entry its worker could not verify, not knowing their keys yet:
# the signed message (DSSE PAE) and each (key id, signature), in the envelope's order.
_Pending = tuple[bytes, list[tuple[str, bytes]]]
# (stream, version, prev, event hash, actor, key, type, co-signing key ids,
#  recorded_at_us, payload, pending) -- the payload only for org streams (the key
# history needs them): its bytes cost a fraction of a pickled Statement, and decode
# again in a microsecond.
_Row = tuple[str, int, str | None, str, str, str, str, tuple[str, ...], int, bytes | None,
             _Pending | None]
# partition -> (index, offset of the entry's line in the file, recorded_at_us) * n:
# where the rules replay finds an entry again, instead of its statement crossing two
# pipes; grouped by partition in the worker, so the main process handles a list per
# partition and range, not a tuple per entry.
_Routed = dict[str, list[int]]
# Rows cross from workers to the main process as MessagePack: half the cost of pickling
# them, decoded straight back into these tuples.
_rows_encoder = msgspec.msgpack.Encoder()
_rows_decoder = msgspec.msgpack.Decoder(list[_Row])
_routed_decoder = msgspec.msgpack.Decoder(_Routed)


class _Chunk(NamedTuple):
    first: int | None          # the index of the range's first entry, if it has one
    rows: bytes                # the entries that passed, in order (``_rows_encoder``)
    segments: list[tuple[int, bytes]]  # (level, root) of the subtrees covering ``rows``
    failure: Failure | None    # the first failure after ``rows``
    routed: bytes              # the entries of ``rows`` a replay folds (``_Routed``)
    pending: _Pending | None   # signatures of the failing entry checked before ``failure``


@dataclass(frozen=True, slots=True)
class _Context:
    path: Path
    origin: str = ""
    replay: Callable[[], Replay] | None = None  # routes statements, when rules replay
    cuts: tuple[int, ...] = ()  # checkpoint sizes: subtrees never straddle one


_ctx: _Context | None = None
_router: Replay | None = None   # this process's instance of ``_ctx.replay``, for routing
_known: dict[str, bytes] = {}   # key id -> raw key: the keys this process has learned


def _init_worker(ctx: _Context) -> None:
    """This process's state for the audit of ``ctx``: kept from task to task of one
    audit (each task brings its own copy of ``ctx``, equal to the last), new for another."""
    global _ctx, _router, _known
    if _ctx != ctx:
        _router = None if ctx is None or ctx.replay is None else ctx.replay()
        _known = {}
    _ctx = ctx


_maps: dict[Path, mmap.mmap] = {}


def _map(path: Path) -> mmap.mmap:
    """The bundle mapped read-only, once per process: ranges are read in place, with
    no copy (reading 200 MB into bytes cost a couple of microseconds per entry)."""
    mapped = _maps.get(path)
    if mapped is None:
        with path.open("rb") as fh:
            mapped = _maps[path] = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    return mapped


def _unmap() -> None:
    """Close this process's maps (views still alive keep theirs until collected)."""
    for mapped in _maps.values():
        with contextlib.suppress(BufferError):
            mapped.close()
    _maps.clear()


def _span(mapped: mmap.mmap, start: int, end: int) -> tuple[int, int]:
    """(lo, hi): the lines that start in [start, end) fill [lo, hi) of the file, whole.
    ``start`` may fall inside a line, which then belongs to the range before."""
    size = len(mapped)
    lo = 0 if start == 0 else mapped.find(b"\n", start - 1, end) + 1
    if lo == 0 and start > 0:
        return size, size             # no line starts in the range
    if end >= size:
        return lo, size
    nl = mapped.find(b"\n", end - 1)
    return lo, size if nl < 0 else nl + 1


def _lines(path: Path, start: int, end: int) -> Iterator[tuple[int, memoryview]]:
    """Every line that starts in [start, end), without its newline, as views of the
    mapped file (no copy per line: at a few hundred thousand lines, copies cost), each
    with its offset in the file."""
    mapped = _map(path)
    pos, hi = _span(mapped, start, end)
    view = memoryview(mapped)
    while pos < hi:
        nl = mapped.find(b"\n", pos, hi)
        stop = hi if nl < 0 else nl
        yield pos, view[pos:stop]
        pos = stop + 1


_CHECKPOINT_LINE = b'{"checkpoint"'


def _tail(path: Path, begin: int) -> tuple[int, list[bytes]]:
    """Where the entries end, and the checkpoint lines after them: the bundle's last
    lines (``docs/PROTOCOL.md`` Part III), read backwards from the end of the file."""
    mapped = _map(path)
    end = len(mapped)
    lines: list[bytes] = []
    while end > begin:
        stop = end - 1 if mapped[end - 1] == 0x0A else end
        start = mapped.rfind(b"\n", begin, stop) + 1 or begin
        line = mapped[start:stop]
        if not line.startswith(_CHECKPOINT_LINE):
            break
        lines.append(line)
        end = start
    return end, lines[::-1]


def _check_part(start: int, end: int) -> _Chunk:
    """A range verified: every entry checked, the leaves hashed into subtrees."""
    assert _ctx is not None
    hashes: list[bytes] = []
    rows: list[_Row] = []
    routed: _Routed = {}
    failure: Failure | None = None
    pending: _Pending | None = None
    first: int | None = None
    for at, line in _lines(_ctx.path, start, end):
        if line[:13] == _CHECKPOINT_LINE:
            failure = Failure(None, "checkpoint-misplaced", "a checkpoint line among the "
                              "entries: checkpoints come after the last entry")
            break
        checked = _check_line(line, None if first is None else first + len(rows), _ctx)
        if isinstance(checked, Failure):
            failure = checked
            break
        if isinstance(checked, _Held):
            failure, pending = checked.failure, checked.pending
            break
        leaf_hash, row, index, route = checked
        if first is None:
            first = index
        hashes.append(leaf_hash)
        rows.append(row)
        if route is not None:
            where = routed.get(route)
            if where is None:
                where = routed[route] = []
            where += (index, at, row[8])
    segments = [] if first is None else _segments(first, hashes, _ctx.cuts)
    return _Chunk(first, _rows_encoder.encode(rows), segments, failure,
                  _rows_encoder.encode(routed), pending)


def _segments(first: int, hashes: list[bytes], cuts: tuple[int, ...]
              ) -> list[tuple[int, bytes]]:
    """The aligned perfect subtrees, largest first, that cover the leaves
    [first, first + len(hashes)) of the log, none straddling a size in ``cuts``."""
    end = first + len(hashes)
    out: list[tuple[int, bytes]] = []
    pos = first
    for bound in [c for c in cuts if first < c < end] + [end]:
        while pos < bound:
            level = (pos & -pos).bit_length() - 1 if pos else (bound - pos).bit_length()
            while (1 << level) > bound - pos:
                level -= 1
            out.append((level, merkle.perfect_root(
                hashes[pos - first:pos - first + (1 << level)])))
            pos += 1 << level
    return out


_key_objects: dict[bytes, Ed25519PublicKey] = {}


def _verify_with(raw: bytes, signature: bytes, message: bytes) -> bool:
    """Verify with the raw public key ``raw``, each key loaded once per process."""
    key = _key_objects.get(raw)
    if key is None:
        key = _key_objects[raw] = public_key_from_raw(raw)
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _introduced(st: Statement) -> tuple[str, bytes] | None:
    """(key id, raw key) of the key an organization's statement introduces
    (registration, key added), if it names one well-formed; the entry's checks say the
    rest."""
    if st.type in (ORG_REGISTERED, ORG_KEY_ADDED) and st.stream.startswith("org/"):
        data = st.data
        text = data.get("public_key") if isinstance(data, dict) else None
        if isinstance(text, str):
            with contextlib.suppress(ValueError):
                raw = b64.decode(text)
                if len(raw) == 32:
                    return compute_key_id(raw), raw
    return None


def _learn(st: Statement) -> None:
    """The key an organization's statement introduces, known from here on in this
    process. Learned before the statement is checked: an id names one key whatever the
    entry's fate, and a registration is signed by its own key."""
    key = _introduced(st)
    if key is not None:
        _known[key[0]] = key[1]


@dataclass(frozen=True, slots=True)
class _Held:
    """An entry's failure, and signatures before it its worker could not verify: the
    main process checks them first (a bad signature there is the entry's first fault)."""

    failure: Failure
    pending: _Pending


def _leaf_of(entry: _Entry) -> tuple[bytes, bytes | None]:
    """The entry's leaf bytes, and the envelope's bytes when the leaf is its 16-byte
    header followed by the line's envelope verbatim (else None).

    Usually it is: then encoding that guess (fast) and finding the entry's base64 text
    proves it, and is cheaper than decoding the text. Otherwise the text is decoded
    (strictly) as usual."""
    text = entry.leaf.encode("ascii", "replace")
    if len(text) > 24:
        envelope = bytes(entry.envelope)
        guess = binascii.a2b_base64(text[:24])[:LEAF_HEADER_SIZE] + envelope
        if binascii.b2a_base64(guess, newline=False) == text:
            return guess, envelope
    return b64.decode(entry.leaf), None


def _check_line(line: memoryview, expected: int | None, ctx: _Context
                ) -> tuple[bytes, _Row, int, str | None] | Failure | _Held:
    index: int | None = None
    try:
        try:
            entry = _entry_decoder.decode(line)
        except msgspec.ValidationError:
            found = msgspec.json.decode(line)
            index = found.get("index") if isinstance(found, dict) else None
            if type(index) is not int:
                return Failure(None, "entry-malformed", "entry line has no integer index")
            raise
        index = entry.index
        if expected is not None and index != expected:
            return Failure(expected, "entry-missing",
                           f"expected entry {expected}, found entry {index}")
        leaf, verbatim = _leaf_of(entry)
        if verbatim is not None:
            leaf_index, recorded_us = _LEAF_HEAD.unpack_from(leaf)
            leaf_envelope = verbatim
        else:
            leaf_index, recorded_us, leaf_envelope = decode_leaf(leaf)
        if leaf_index != index:
            return Failure(index, "leaf-index", f"leaf carries index {leaf_index}")
        # Our exporter writes the envelope's canonical bytes verbatim; other writers
        # may space it differently: then it must re-encode to the leaf's bytes.
        if verbatim is None and leaf_envelope != bytes(entry.envelope) and canonical_bytes(
                msgspec.json.decode(entry.envelope)) != leaf_envelope:
            return Failure(index, "leaf-envelope",
                           "the leaf bytes do not hold this entry's envelope")
        opened = decode_canonical(leaf_envelope)
        if opened is not None:
            payload_type, payload, signatures = opened
        else:  # the reference path decides, and words what is wrong
            env, payload, sigs = decode_envelope_signed(leaf_envelope)
            # The leaf holds the envelope's canonical bytes (checked above when the
            # line spells the envelope otherwise; here, when it repeats the leaf's).
            if verbatim is not None and env.canonical() != leaf_envelope:
                return Failure(index, "leaf-envelope", "the leaf holds its envelope in a "
                               "form that is not canonical JSON")
            payload_type = env.payloadType
            signatures = [(s.keyid, sig) for s, sig in zip(env.signatures, sigs, strict=True)]
        st = parse_statement(payload)
        if st.ledger != ctx.origin:
            return Failure(index, "wrong-ledger", f"statement is for ledger {st.ledger!r}")
        org = st.stream.startswith("org/")
        if org:
            _learn(st)
        message = pae(payload_type, payload)
        signed_by_actor = False
        cosigners: list[str] = []
        unknown: list[tuple[str, bytes]] | None = None
        for kid, sig in signatures:
            raw = _known.get(kid)
            if raw is None:  # introduced where this worker has not read: the main checks it
                if unknown is None:
                    unknown = []
                unknown.append((kid, sig))
            elif not _verify_with(raw, sig, message):
                return _held(Failure(index, "signature-invalid",
                                     f"signature by key {kid} does not verify"),
                             message, unknown)
            if kid == st.key:
                signed_by_actor = True
            else:
                cosigners.append(kid)
        pending = None if unknown is None else (message, unknown)
        if not signed_by_actor:
            return _held(Failure(index, "signature-missing",
                                 "no signature by the statement's key"), message, unknown)
        try:  # where the statement goes, when rules are replayed
            route = None if _router is None else _router.route(st)
        except Rejected as exc:
            return _held(_refused(index, exc), message, unknown)
        return merkle.hash_leaf(leaf), (
            st.stream, st.version, st.prev, event_hash(payload), st.actor, st.key, st.type,
            tuple(cosigners), recorded_us, payload if org else None, pending), index, route
    except LedgerError as exc:
        return Failure(index, exc.code, exc.detail)
    except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
        return Failure(index, "entry-malformed", f"{type(exc).__name__}: {exc}")


def _held(failure: Failure, message: bytes, unknown: list[tuple[str, bytes]] | None
          ) -> Failure | _Held:
    return failure if unknown is None else _Held(failure, (message, unknown))


# --- the sequential part ------------------------------------------------------------


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The header object and the byte offset where entries begin."""
    with path.open("rb") as fh:
        line = fh.readline()
    if not line:
        raise _Stop(Failure(None, "bundle-header", "empty bundle"))
    try:
        header = msgspec.json.decode(line)
    except msgspec.DecodeError as exc:
        raise _Stop(Failure(None, "bundle-header", f"unreadable header: {exc}")) from None
    if not isinstance(header, dict) or header.get("format") != BUNDLE_FORMAT:
        raise _Stop(Failure(None, "bundle-header", f"not a {BUNDLE_FORMAT} bundle"))
    return header, len(line)


def _scan_checkpoint(line: bytes, verifier: Verifier, checkpoints: dict[int, bytes],
                     report: AuditReport) -> None:
    try:
        note = msgspec.json.decode(line)["checkpoint"]
        cp = open_checkpoint(note, verifier)
    except (CheckpointError, KeyError, TypeError, msgspec.DecodeError) as exc:
        raise _Stop(Failure(
            None, "checkpoint-invalid",
            f"a checkpoint does not verify with the pinned log key: {exc}")) from None
    known = checkpoints.get(cp.size)
    if known is not None and known != cp.root_hash:
        raise _Stop(Failure(max(cp.size - 1, 0), "checkpoint-fork",
                            f"two signed checkpoints of size {cp.size} with different roots"))
    checkpoints[cp.size] = cp.root_hash
    report.checkpoints_verified += 1


def _split(begin: int, size: int, parts: int) -> list[tuple[int, int]]:
    step = max((size - begin) // max(parts, 1), 1)
    bounds = [*list(range(begin, size, step)), size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def _check_ranges(begin: int, end: int, nworkers: int) -> list[tuple[int, int]]:
    """The ranges to verify: about ``RANGE_BYTES`` each, but the first a quarter of
    that (it runs alone, see ``_verified``), and the last ``nworkers`` ranges' worth cut
    four times finer, so that the workers finish together (while the last range is
    verified, the other cores wait)."""
    head = min(RANGE_BYTES // 4, (end - begin) // 4)
    tail = min(nworkers * RANGE_BYTES, (end - begin - head) // 2)
    body = _split(begin + head, end - tail,
                  max(nworkers, (end - tail - begin - head) // RANGE_BYTES))
    return _split(begin, begin + head, 1) + body + _split(end - tail, end, nworkers * 4)


@dataclass(slots=True)
class _Sequence:
    """The sequential state: stream heads, key history, tree; where the rules replay
    will find each entry it folds, by partition."""

    checkpoints: dict[int, bytes]
    report: AuditReport
    origin: str
    heads: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    last_recorded: int = 0
    checked: int = 0           # entries [0, checked) passed every check of the log
    learned: list[tuple[str, bytes]] = field(default_factory=list)  # keys, in log order
    # What the report counts, by log index, so that a failure counts the entries before
    # it and no more: where each stream (and each org stream) began, and the entries
    # signed by co-signers too (index, co-signatures).
    opened: list[int] = field(default_factory=list)
    orgs_opened: list[int] = field(default_factory=list)
    cosigned: list[tuple[int, int]] = field(default_factory=list)
    # partition -> (index, line offset, recorded_at_us) * n, in log order
    routes: dict[str, array[int]] = field(default_factory=dict)

    def apply(self, chunk: _Chunk) -> None:
        """Check a range's entries in log order, merging its subtrees as they end."""
        if chunk.first is not None and chunk.first != self.tree.size:
            raise _Stop(Failure(self.tree.size, "entry-missing",
                                f"expected entry {self.tree.size}, found entry {chunk.first}"))
        rows = _rows_decoder.decode(chunk.rows)
        routes = self.routes
        for key, where in _routed_decoder.decode(chunk.routed).items():
            found = routes.get(key)
            if found is None:
                found = routes[key] = array("q")
            found.extend(where)
        index = self.tree.size
        done = 0
        try:
            for level, root in chunk.segments:
                for row in rows[done:done + (1 << level)]:
                    self._check_row(index, row)
                    index += 1
                done += 1 << level
                self.tree.append_subtree(level, root)
                self._check_root(index - 1)
        finally:  # the rows before ``index`` passed, whatever stopped the loop
            self.checked = index
        if chunk.failure is not None:
            failure = chunk.failure
            if failure.index is None:  # a line with no index of its own: where it stands
                failure = Failure(index, failure.code, failure.detail)
            if chunk.pending is not None:  # signatures checked before what failed
                self._verify_pending(index, chunk.pending)
            raise _Stop(failure)

    def _verify_pending(self, index: int, pending: _Pending) -> None:
        """The signatures of entry ``index`` its worker could not verify, with the keys
        the history holds by then (revoked or not yet valid too: validity is checked
        after, with the other checks of the key)."""
        message, signatures = pending
        for kid, sig in signatures:
            record = self.registry.keys.get(kid)
            raw = record.public_key if record is not None else _registered(message, kid)
            if raw is None:
                raise _Stop(Failure(index, "key-unknown",
                                    f"signature by key {kid}, which no earlier entry "
                                    "introduced"))
            if not _verify_with(raw, sig, message):
                raise _Stop(Failure(index, "signature-invalid",
                                    f"signature by key {kid} does not verify"))

    def _check_root(self, index: int) -> None:
        want = self.checkpoints.get(self.tree.size)
        if want is not None and self.tree.root() != want:
            raise _Stop(Failure(index, "checkpoint-root",
                                f"the tree of size {self.tree.size} does not have the "
                                "root the log signed"))

    def _check_row(self, index: int, row: _Row) -> None:
        stream, version, prev, ehash, actor, key, _type, cosigners, recorded_us, _, pending = row
        if pending is not None:
            self._verify_pending(index, pending)
        if recorded_us < self.last_recorded:
            raise _Stop(Failure(index, "recorded-at-order",
                                "recorded_at goes backwards in the log"))
        self.last_recorded = recorded_us
        head = self.heads.get(stream, (0, None))
        # The common case in a few comparisons; anything else (org streams, a broken
        # link or key, co-signers) takes the full checks, which also word the failure.
        record = self.registry.keys.get(key)
        if (version == head[0] + 1 and prev == head[1] and record is not None
                and record.org_id == actor and record.valid_at(index) and not cosigners
                and not stream.startswith("org/")):
            if version == 1:
                self.opened.append(index)
            self.heads[stream] = (version, ehash)
        else:
            self._full_checks(index, row, head)

    def _full_checks(self, index: int, row: _Row, head: tuple[int, str | None]) -> None:
        stream, version, prev, ehash, actor, key, type_, cosigners, _us, payload, _ = row
        # Without the shipped payload, enough of the statement for the checks below.
        st = _statement_decoder.decode(payload) if payload is not None else Statement(
            ledger=self.origin, stream=stream, version=version, prev=prev, type=type_,
            data={}, actor=actor, key=key, issued_at="")
        try:
            _check_chain(st, Head(*head))
            self.registry.signer_key(st, index)
            for kid in cosigners:
                if self.registry.lookup(kid, index) is None:
                    raise LedgerError(f"co-signing key {kid} not valid here")
            if st.stream_kind == "org":
                check_org_statement(st, self.registry, index)
        except LedgerError as exc:
            raise _Stop(Failure(index, exc.code, exc.detail)) from None
        keys = self.registry.keys
        known = len(keys)
        self.registry.apply(st, index)
        if len(keys) > known:  # a key introduced: the next ranges are sent with it
            record = next(reversed(keys.values()))
            self.learned.append((record.key_id, record.public_key))
        if version == 1:
            self.opened.append(index)
            if st.stream_kind == "org":
                self.orgs_opened.append(index)
        if cosigners:
            self.cosigned.append((index, len(cosigners)))
        self.heads[stream] = (version, ehash)

    def count(self, report: AuditReport, before: int | None) -> None:
        """Fill the report's counts with the entries that passed every check: those
        below ``before`` (the first failing index, when one failed) and ``checked``."""
        n = self.checked if before is None else min(self.checked, before)
        report.entries_verified = n
        report.signatures_verified = n + sum(c for i, c in self.cosigned if i < n)
        report.streams = bisect.bisect_left(self.opened, n)
        report.organizations = bisect.bisect_left(self.orgs_opened, n)


_statement_decoder = msgspec.json.Decoder(Statement)


def _registered(message: bytes, kid: str) -> bytes | None:
    """The key ``kid`` when the signed statement is a registration of it: signed by the
    key it registers, before the history holds that key. The statement is the last
    field of the DSSE message (its payload type has no space)."""
    with contextlib.suppress(ValueError, msgspec.DecodeError):
        st = _statement_decoder.decode(message.split(b" ", 4)[-1])
        if st.type == ORG_REGISTERED:
            key = _introduced(st)
            if key is not None and key[0] == kid:
                return key[1]
    return None


# --- the rules replay: partitions folded in parallel, after the log is verified --------


class _PayloadOnly(msgspec.Struct):
    payload: bytes


class _EnvelopeOnly(msgspec.Struct):
    envelope: _PayloadOnly


# An entry line read again for its payload alone: the members the rules need nothing of
# are skipped, base64 is decoded in C. The line was verified by then: these are the
# bytes whose signatures held (the same decoder semantics as ``_entry_decoder``).
_payload_decoder = msgspec.json.Decoder(_EnvelopeOnly)


def _refused(index: int, exc: LedgerError) -> Failure:
    """A refusal by the rules as a failure: a rule's own code is what an auditor
    looks up."""
    return Failure(index, exc.rule if isinstance(exc, Rejected) else exc.code,
                   exc.diagnostics())


def _earlier(a: Failure | None, b: Failure | None) -> Failure | None:
    """The refusal at the lower index (refusals always have one)."""
    if a is None or b is None:
        return a or b
    return b if (b.index or 0) < (a.index or 0) else a


class _Folded(NamedTuple):
    hashes: dict[str, str]     # partition -> final state hash
    failure: Failure | None    # the first refusal among these partitions, if any
    entries: int               # statements applied


_REPLAY_TASKS_PER_WORKER = 32   # the work is spread finely: workers finish together


def _replay_in(ctx: _Context, limit: int, work: list[tuple[str, bytes]]) -> _Folded:
    """Fold the partitions in ``work`` (each: its key, and its packed ``routes``) over
    the entries below ``limit``, each partition up to its first refusal."""
    gc.disable()
    _init_worker(ctx)
    assert ctx.replay is not None
    replay = ctx.replay()
    mapped = _map(ctx.path)
    view = memoryview(mapped)
    first: Failure | None = None
    applied = 0
    for key, packed in work:
        where = array("q")
        where.frombytes(packed)
        numbers = iter(where)
        for index, at, recorded_us in zip(numbers, numbers, numbers, strict=True):
            if index >= limit:
                break
            end = mapped.find(b"\n", at)
            try:
                payload = _payload_decoder.decode(
                    view[at:end if end >= 0 else len(mapped)]).envelope.payload
                replay.apply(key, payload, index, recorded_us)
            except LedgerError as exc:
                first = _earlier(first, _refused(index, exc))
                break
            except (msgspec.DecodeError, ValueError) as exc:  # the file changed under us
                first = _earlier(first, Failure(index, "bundle-unreadable",
                                                f"entry {index} reads otherwise now: {exc}"))
                break
            applied += 1
    del view
    return _Folded(replay.state_hashes(), first, applied)


def _partitions(routes: dict[str, array[int]], bins: int) -> list[list[tuple[str, bytes]]]:
    """The partitions in ``bins`` groups of about equal work (largest first, each into
    the lightest group so far), packed for a worker."""
    loads = [(0, n) for n in range(bins)]      # a heap: the lightest group first
    groups: list[list[tuple[str, bytes]]] = [[] for _ in range(bins)]
    for key in sorted(routes, key=lambda k: (-len(routes[k]), k)):
        load, n = loads[0]
        heapq.heapreplace(loads, (load + len(routes[key]), n))
        groups[n].append((key, routes[key].tobytes()))
    return [g for g in groups if g]


def _replay_all(pool: _Pool | _InProcess, ctx: _Context, sequence: _Sequence,
                nworkers: int, progress: Callable[[str, int, int], None] | None
                ) -> _Folded:
    """Every partition folded, spread over the pool; the first refusal of all."""
    total = sum(len(where) // 3 for where in sequence.routes.values())
    groups = _partitions(sequence.routes, nworkers * _REPLAY_TASKS_PER_WORKER)
    hashes: dict[str, str] = {}
    first: Failure | None = None
    done = 0
    for folded in pool.map(_replay_in, itertools.repeat(ctx), itertools.repeat(
            sequence.checked), groups):
        hashes.update(folded.hashes)
        first = _earlier(first, folded.failure)
        done += folded.entries
        if progress is not None:
            progress("rules", done, total)
    return _Folded(dict(sorted(hashes.items())), first, done)


def verify_bundle(
    path: Path,
    log_key: str,
    *,
    trusted_checkpoint: str | None = None,
    workers: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    replay: Callable[[], Replay] | None = None,
) -> AuditReport:
    """Verify a bundle file against the pinned log key ``log_key`` (a vkey string).

    ``trusted_checkpoint`` is a signed note the auditor kept from before. ``replay``
    makes the rules to replay over the verified entries (e.g. ``AgreementReplay``;
    picklable: each worker makes its own); their final state hashes land in
    ``report.agreements`` when everything holds. ``progress(phase, done, total)`` is
    called as the work goes: phase ``"verify"`` (entries), then ``"rules"``
    (statements folded). Never raises for a bad bundle: the report says.
    """
    started = time.monotonic()
    report = AuditReport()
    try:
        verifier = parse_vkey(log_key)
    except CheckpointError as exc:
        report.failure = Failure(None, "log-key-invalid", f"--log-key: {exc}")
        return report
    try:
        _verify(path, verifier, report, trusted_checkpoint, workers, progress, replay)
    except _Stop as stop:
        report.failure = stop.failure
        report.agreements = {}  # no final state to speak of
    except BrokenProcessPool:
        # The bundle is read in place (mapped): a file truncated under a worker kills it.
        report.failure = Failure(None, "bundle-unreadable",
                                 "a worker process died reading the bundle; was the file "
                                 "changed while it was being verified?")
    report.elapsed = time.monotonic() - started
    return report


class _InProcess:
    """The worker functions run here, for ``workers=1`` (same code, no pool)."""

    def map(self, fn: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
        return map(fn, *iterables)

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        _init_worker(None)  # type: ignore[arg-type]
        _unmap()


class _Pool(ProcessPoolExecutor):
    """A process pool that drops the work still queued when the audit stops early."""

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


def _pool(nworkers: int) -> _Pool | _InProcess:
    """One pool for the log and the rules: its processes map the bundle once and stay
    warm."""
    return _InProcess() if nworkers <= 1 else _Pool(max_workers=nworkers)


def _check_in(ctx: _Context, start: int, end: int, keys: dict[str, bytes]) -> _Chunk:
    # No cycles are made here: the cyclic collector only costs time (a few percent).
    # In a worker it stays off until the pool ends; in the main process (one worker)
    # the caller turns it back on.
    gc.disable()
    _init_worker(ctx)
    _known.update(keys)
    return _check_part(start, end)


def _verified(pool: _Pool | _InProcess, ctx: _Context, ranges: list[tuple[int, int]],
              sequence: _Sequence, nworkers: int) -> Generator[_Chunk, None, None]:
    """The ranges' chunks, in log order, the main process applying each (and so
    learning its keys) before it asks for the next.

    A few ranges per worker are in flight at any time; each is sent with the keys the
    main process learned since the range sent twice a window earlier (a worker takes
    about every ``nworkers``-th range: it has the older ones already). The first range
    runs alone: the keys a log opens with are then known to every later range."""
    if isinstance(pool, _InProcess):  # one process: it learns every key itself
        for start, end in ranges:
            yield _check_in(ctx, start, end, {})
        return
    window = nworkers * _AHEAD_PER_WORKER
    marks: list[int] = []          # len(sequence.learned) as each range was sent
    futures: collections.deque[Future[_Chunk]] = collections.deque()
    todo = iter(ranges)
    try:
        for n, (start, end) in enumerate(todo):
            since = marks[n - 2 * window] if n >= 2 * window else 0
            marks.append(len(sequence.learned))
            futures.append(pool.submit(_check_in, ctx, start, end,
                                       dict(sequence.learned[since:])))
            if n == 0 or len(futures) >= window:
                yield futures.popleft().result()
        while futures:
            yield futures.popleft().result()
    finally:  # stopped early: the ranges not started are dropped
        for future in futures:
            future.cancel()


def _verify(path: Path, verifier: Verifier, report: AuditReport,
            trusted: str | None, workers: int | None,
            progress: Callable[[str, int, int], None] | None,
            replay: Callable[[], Replay] | None) -> None:
    header, begin = _read_header(path)
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    try:
        with _pool(nworkers) as pool:
            _verify_with_pool(pool, path, header, begin, nworkers, verifier, report,
                              trusted, progress, replay)
    finally:
        _unmap()  # the main process maps the bundle too (its tail, one worker's ranges)


def _verify_with_pool(pool: _Pool | _InProcess, path: Path, header: dict[str, Any],
                      begin: int, nworkers: int, verifier: Verifier, report: AuditReport,
                      trusted: str | None, progress: Callable[[str, int, int], None] | None,
                      replay: Callable[[], Replay] | None) -> None:
    # The checkpoints: the last lines.
    entries_end, checkpoint_lines = _tail(path, begin)
    checkpoints: dict[int, bytes] = {}
    for line in checkpoint_lines:
        _scan_checkpoint(line, verifier, checkpoints, report)
    origin = str(header.get("origin", ""))
    report.origin = origin
    if origin != verifier.name:
        raise _Stop(Failure(None, "origin-mismatch",
                            f"bundle origin {origin!r} is not the pinned key's {verifier.name!r}"))
    if header.get("vkey") != make_vkey_str(verifier):
        report.warnings.append("the bundle's header names another log key; it was ignored "
                               "and the pinned key used")
    declared = header.get("size")
    trusted_cp = None
    if trusted is not None:
        try:
            trusted_cp = open_checkpoint(trusted, verifier)
        except CheckpointError as exc:
            raise _Stop(Failure(None, "trusted-checkpoint-invalid", str(exc))) from None
        report.trusted_checkpoint = {"size": trusted_cp.size,
                                     "root_hash": trusted_cp.root_hash.hex()}
        known = checkpoints.get(trusted_cp.size)
        if known is not None and known != trusted_cp.root_hash:
            raise _Stop(Failure(max(trusted_cp.size - 1, 0), "fork",
                                f"the bundle's checkpoint of size {trusted_cp.size} has "
                                "another root than the trusted checkpoint: a fork"))
        checkpoints = {**checkpoints, trusted_cp.size: trusted_cp.root_hash}
    sequence = _Sequence(checkpoints, report, origin)
    try:
        _run(pool, path, begin, entries_end, nworkers, sequence, checkpoints, declared,
             trusted_cp, report, progress, replay)
    except _Stop as stop:
        sequence.count(report, stop.failure.index)
        # out of what the header announces (the bundle was not read to its end)
        report.size = declared if isinstance(declared, int) else sequence.tree.size
        raise
    sequence.count(report, None)


def _run(pool: _Pool | _InProcess, path: Path, begin: int, entries_end: int,
         nworkers: int, sequence: _Sequence, checkpoints: dict[int, bytes],
         declared: object, trusted_cp: Checkpoint | None, report: AuditReport,
         progress: Callable[[str, int, int], None] | None,
         replay: Callable[[], Replay] | None) -> None:
    total = declared if isinstance(declared, int) else 0
    # The log: ranges verified in parallel, applied in order.
    ranges = _check_ranges(begin, entries_end, nworkers)
    ctx = _Context(path, sequence.origin, replay, cuts=tuple(sorted(checkpoints)))
    # The cyclic collector is paused meanwhile: these passes make no cycles, and its
    # full collections would walk every row, route and agreement state kept so far.
    collecting = gc.isenabled()
    gc.disable()
    stopped: Failure | None = None
    try:
        chunks = _verified(pool, ctx, ranges, sequence, nworkers)
        try:
            for chunk in chunks:
                sequence.apply(chunk)
                if progress is not None:
                    progress("verify", sequence.tree.size, total)
        except _Stop as stop:
            stopped = stop.failure
            chunks.close()  # the ranges not yet verified are dropped
        # Then the rules, over the entries that passed every check of the log (below
        # ``sequence.checked``). So a rule's refusal, if any, is at an index before the
        # log's first failure: the first failing index is named, whichever pass found it.
        if replay is not None:
            folded = _replay_all(pool, ctx, sequence, nworkers, progress)
            stopped = folded.failure or stopped
            report.agreements = folded.hashes
    finally:
        if collecting:
            gc.enable()
    if stopped is not None:
        raise _Stop(stopped)
    size = sequence.tree.size
    report.size = size
    report.root_hash = sequence.tree.root().hex()
    if isinstance(declared, int) and declared != size:
        raise _Stop(Failure(size, "bundle-size",
                            f"the header announces {declared} entries, the bundle has {size}"))
    beyond = [s for s in checkpoints if s > size]
    if trusted_cp is not None and trusted_cp.size > size:
        raise _Stop(Failure(size, "rollback",
                            f"the trusted checkpoint covers {trusted_cp.size} entries; this "
                            f"bundle has only {size}: the log was truncated or rolled back"))
    if beyond:
        raise _Stop(Failure(size, "checkpoint-beyond",
                            f"a signed checkpoint of size {max(beyond)} is beyond the "
                            f"bundle's {size} entries"))
    covered = max(checkpoints) if checkpoints else -1
    if covered < size:
        report.warnings.append(
            f"{size - max(covered, 0)} entries after the last checkpoint are not covered by a "
            "signature of the log")


def make_vkey_str(verifier: Verifier) -> str:
    return make_vkey(verifier.name, verifier.public_key)
