"""Offline audit of a bundle: no database, no network, no trust in the server.

What is checked, in order of the log:

1. every entry line: its index is the next one; its leaf bytes carry that index and
   exactly the canonical bytes of its envelope; the payload is canonical JSON for this
   ledger; every signature verifies (Ed25519 over DSSE PAE) — spread over every core;
2. every stream's version sequence and prev-hash chain;
3. every signing key against the key history replayed from the bundle itself (the
   actor's key, valid at that log position), and the organization rules;
4. the Merkle tree: the root at every checkpoint's size equals the checkpoint's root;
5. every checkpoint's signature against the pinned log key (never a key from the bundle);
6. consistency with a trusted checkpoint kept from before: a bundle shorter than it
   (rolled back or truncated) or with another root at its size (a fork) fails.

The result names the first failing index and what failed.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import b64, merkle
from .admission import Head, _check_chain
from .bundle import BUNDLE_FORMAT
from .canonical import canonical_bytes
from .checkpoint import CheckpointError, Verifier, make_vkey, open_checkpoint, parse_vkey
from .envelope import decode_envelope, pae
from .errors import LedgerError
from .keys import key_id as compute_key_id
from .keys import public_key_from_raw
from .leaf import decode_leaf, from_micros
from .registry import ORG_KEY_ADDED, ORG_REGISTERED, Registry, check_org_statement
from .statement import Statement, event_hash, format_time, parse_statement

__all__ = ["AuditReport", "Failure", "verify_bundle"]

CHUNK = 500


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
    agreements: dict[str, str] = field(default_factory=dict)
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
# return, per range, what the sequential checks need and nothing more. A first pass
# (also parallel) finds where each entry line starts, every checkpoint line and every
# public key the bundle introduces; the second pass verifies entries in chunks of
# CHUNK lines. CHUNK is a power of two, so a full chunk is one aligned subtree of the
# log's Merkle tree: the worker hashes it up to its root and the main process merges
# that one hash instead of 1,024 leaves.

CHUNK = 1024
_CHUNK_LEVEL = CHUNK.bit_length() - 1
_SCAN_PARTS_PER_WORKER = 4


class _Entry(msgspec.Struct):
    """An entry line as exported; ``envelope`` kept as the raw bytes of the line."""

    index: int
    leaf: str
    envelope: msgspec.Raw


_entry_decoder = msgspec.json.Decoder(_Entry)

# (stream, version, prev, event hash, actor, key, type, co-signing key ids,
#  recorded_at_us, statement) -- the statement only for org streams or when folding.
_Row = tuple[str, int, str | None, str, str, str, str, tuple[str, ...], int, Statement | None]


class _Chunk(NamedTuple):
    first: int                 # index of the first entry
    leaf_hashes: bytes         # 32 bytes per row
    subtree_root: bytes | None  # when the chunk is a full aligned subtree
    rows: list[_Row]
    failure: Failure | None    # the first failure after ``rows``


class _ScanPart(NamedTuple):
    entry_offsets: list[int]   # byte offset of each entry line, in order
    checkpoints: list[bytes]   # checkpoint lines
    pubkeys: dict[str, bytes]  # key id -> raw key, from org registrations and key adds


@dataclass(frozen=True, slots=True)
class _Context:
    path: Path
    origin: str = ""
    pubkeys: dict[str, bytes] = field(default_factory=dict)
    statements: bool = False   # ship every statement (the caller folds them)


_ctx: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _ctx
    _ctx = ctx


def _lines(path: Path, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) of every line that starts in [start, end).

    ``start`` may fall inside a line, which then belongs to the range before. The
    range is read in one piece (finishing its last line) and split in memory.
    """
    base = max(start - 1, 0)
    with path.open("rb") as fh:
        fh.seek(base)
        data = fh.read(end - base)
        if data and not data.endswith(b"\n"):
            data += fh.readline()
    pieces = data.split(b"\n")
    if data.endswith(b"\n"):
        pieces.pop()                  # nothing after the last newline
    pos = base
    if start > 0:                     # the end of a line that began before ``start``
        pos += len(pieces[0]) + 1
        pieces = pieces[1:]
    for piece in pieces:
        yield pos, piece
        pos += len(piece) + 1


def _scan_part(start: int, end: int) -> _ScanPart:
    assert _ctx is not None
    offsets: list[int] = []
    checkpoints: list[bytes] = []
    pubkeys: dict[str, bytes] = {}
    for pos, line in _lines(_ctx.path, start, end):
        if line.startswith(b'{"checkpoint"'):
            checkpoints.append(line)
        else:
            offsets.append(pos)
            _scan_keys(line, pubkeys)
    return _ScanPart(offsets, checkpoints, pubkeys)


def _check_part(first: int, start: int, end: int) -> _Chunk:
    assert _ctx is not None
    hashes: list[bytes] = []
    rows: list[_Row] = []
    failure: Failure | None = None
    expected = first
    for _pos, line in _lines(_ctx.path, start, end):
        if line.startswith(b'{"checkpoint"'):
            continue
        checked = _check_line(line, expected, _ctx)
        if isinstance(checked, Failure):
            failure = checked
            break
        leaf_hash, row = checked
        hashes.append(leaf_hash)
        rows.append(row)
        expected += 1
    root = merkle.perfect_root(hashes) if failure is None and len(hashes) == CHUNK else None
    return _Chunk(first, b"".join(hashes), root, rows, failure)


_key_objects: dict[bytes, Ed25519PublicKey] = {}


def _verify_with(kid: str, signature: bytes, message: bytes, ctx: _Context) -> bool:
    """Verify with the key ``kid`` introduced in the bundle, each key loaded once per
    process. Raises ``_UnknownKey`` for a key the bundle never introduced."""
    raw = ctx.pubkeys.get(kid)
    if raw is None:
        raise _UnknownKey(kid)
    key = _key_objects.get(raw)
    if key is None:
        key = _key_objects[raw] = public_key_from_raw(raw)
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


class _UnknownKey(Exception):
    pass


def _check_line(line: bytes, expected: int, ctx: _Context) -> tuple[bytes, _Row] | Failure:
    index: int | None = None
    try:
        try:
            entry = _entry_decoder.decode(line)
        except msgspec.ValidationError:
            found = msgspec.json.decode(line)
            index = found.get("index") if isinstance(found, dict) else None
            if not isinstance(index, int):
                return Failure(None, "entry-malformed", "entry line has no integer index")
            raise
        index = entry.index
        if index != expected:
            return Failure(expected, "entry-missing",
                           f"expected entry {expected}, found entry {index}")
        leaf = b64.decode(entry.leaf)
        leaf_index, recorded_us, leaf_envelope = decode_leaf(leaf)
        if leaf_index != index:
            return Failure(index, "leaf-index", f"leaf carries index {leaf_index}")
        # Our exporter writes the envelope's canonical bytes verbatim; other writers
        # may space it differently: then it must re-encode to the leaf's bytes.
        if bytes(entry.envelope) != leaf_envelope and canonical_bytes(
                msgspec.json.decode(entry.envelope)) != leaf_envelope:
            return Failure(index, "leaf-envelope",
                           "the leaf bytes do not hold this entry's envelope")
        env, payload = decode_envelope(leaf_envelope)
        st = parse_statement(payload)
        if st.ledger != ctx.origin:
            return Failure(index, "wrong-ledger", f"statement is for ledger {st.ledger!r}")
        message = pae(env.payloadType, payload)
        signed_by_actor = False
        cosigners: list[str] = []
        for s in env.signatures:
            if not _verify_with(s.keyid, b64.decode(s.sig), message, ctx):
                return Failure(index, "signature-invalid",
                               f"signature by key {s.keyid} does not verify")
            if s.keyid == st.key:
                signed_by_actor = True
            else:
                cosigners.append(s.keyid)
        if not signed_by_actor:
            return Failure(index, "signature-missing", "no signature by the statement's key")
        keep = st if ctx.statements or st.stream.startswith("org/") else None
        return merkle.hash_leaf(leaf), (
            st.stream, st.version, st.prev, event_hash(payload), st.actor, st.key, st.type,
            tuple(cosigners), recorded_us, keep)
    except _UnknownKey as exc:
        return Failure(index, "key-unknown", f"signature by unknown key {exc}")
    except LedgerError as exc:
        return Failure(index, exc.code, exc.detail)
    except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
        return Failure(index, "entry-malformed", f"{type(exc).__name__}: {exc}")


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


def _b64_needles(text: str) -> tuple[bytes, ...]:
    """Base64 fragments that any base64 text containing ``text`` must contain, one per
    alignment of ``text`` in the encoded bytes (so a cheap substring test can skip lines
    that cannot hold it without decoding them)."""
    raw = text.encode()
    needles = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        start = (offset * 4 + 2) // 3 + 1          # skip chars mixing in the padding bytes
        end = (len(raw) + offset) // 3 * 4 - 1      # and the partial last group
        needles.append(encoded[start:end])
    return tuple(needles)


_KEY_EVENT_NEEDLES = _b64_needles('"type":"organization.')


def _scan_keys(line: bytes, pubkeys: dict[str, bytes]) -> None:
    if not any(needle in line for needle in _KEY_EVENT_NEEDLES):
        return
    try:
        obj = msgspec.json.decode(line)
        payload = b64.decode(obj["envelope"]["payload"])
        st = msgspec.json.decode(payload)
        if (isinstance(st, dict) and st.get("type") in (ORG_REGISTERED, ORG_KEY_ADDED)
                and str(st.get("stream", "")).startswith("org/")):
            raw = b64.decode(st["data"]["public_key"])
            if len(raw) == 32:
                pubkeys[compute_key_id(raw)] = raw
    except (KeyError, TypeError, ValueError, msgspec.DecodeError):
        return  # the main pass reports malformed entries with their index


def _split(path: Path, begin: int, parts: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    step = max((size - begin) // max(parts, 1), 1)
    bounds = [*list(range(begin, size, step)), size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]


@dataclass(slots=True)
class _Replay:
    """The sequential state: stream heads, key history, tree, agreement folds."""

    checkpoints: dict[int, bytes]
    report: AuditReport
    origin: str
    fold: Callable[[Statement, int, str, str], None] | None
    heads: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    last_recorded: int = 0
    sizes: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sizes = sorted(self.checkpoints)

    def apply(self, chunk: _Chunk) -> None:
        """Check a chunk's entries in log order, then merge its leaves into the tree."""
        if chunk.first != self.tree.size:
            raise _Stop(Failure(self.tree.size, "entry-missing",
                                f"expected entry {self.tree.size}, found entry {chunk.first}"))
        n = len(chunk.rows)
        after = chunk.first + n
        # A checkpoint strictly inside the chunk needs the root there: leaf by leaf.
        lo = bisect.bisect_right(self.sizes, chunk.first)
        interior = lo < len(self.sizes) and self.sizes[lo] < after
        whole = chunk.subtree_root is not None and not interior
        index = chunk.first
        hashes = chunk.leaf_hashes
        for k, row in enumerate(chunk.rows):
            self._check_row(index, row)
            if not whole:
                self.tree.append(hashes[32 * k:32 * k + 32])
                self._check_root(index)
            index += 1
        if whole:
            assert chunk.subtree_root is not None
            self.tree.append_subtree(_CHUNK_LEVEL, chunk.subtree_root)
            self._check_root(index - 1)
        self.report.entries_verified += n
        self.report.signatures_verified += n + sum(len(row[7]) for row in chunk.rows)
        if chunk.failure is not None:
            raise _Stop(chunk.failure)

    def _check_root(self, index: int) -> None:
        want = self.checkpoints.get(self.tree.size)
        if want is not None and self.tree.root() != want:
            raise _Stop(Failure(index, "checkpoint-root",
                                f"the tree of size {self.tree.size} does not have the "
                                "root the log signed"))

    def _check_row(self, index: int, row: _Row) -> None:
        stream, version, prev, ehash, actor, key, _type, cosigners, recorded_us, st = row
        if recorded_us < self.last_recorded:
            raise _Stop(Failure(index, "recorded-at-order",
                                "recorded_at goes backwards in the log"))
        self.last_recorded = recorded_us
        head = self.heads.get(stream, (0, None))
        # The common case in a few comparisons; anything else (org streams, a fold, a
        # broken link or key) takes the full checks, which also word the failure.
        record = self.registry.keys.get(key)
        if (st is None and version == head[0] + 1 and prev == head[1] and record is not None
                and record.org_id == actor and record.valid_at(index) and not cosigners):
            self.heads[stream] = (version, ehash)
            return
        self._full_checks(index, row, head)

    def _full_checks(self, index: int, row: _Row, head: tuple[int, str | None]) -> None:
        stream, version, prev, ehash, actor, key, type_, cosigners, recorded_us, st = row
        if st is None:  # enough of the statement for the checks below
            st = Statement(ledger=self.origin, stream=stream, version=version, prev=prev,
                           type=type_, data={}, actor=actor, key=key, issued_at="")
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
        self.registry.apply(st, index)
        self.heads[stream] = (version, ehash)
        if self.fold is not None:
            try:
                self.fold(st, index, ehash, format_us(recorded_us))
            except LedgerError as exc:
                raise _Stop(Failure(index, exc.code, exc.diagnostics())) from None


def format_us(us: int) -> str:
    return format_time(from_micros(us))


def verify_bundle(
    path: Path,
    log_key: str,
    *,
    trusted_checkpoint: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    fold: Callable[[Statement, int, str, str], None] | None = None,
) -> AuditReport:
    """Verify a bundle file against the pinned log key ``log_key`` (a vkey string).

    ``trusted_checkpoint`` is a signed note the auditor kept from before. ``fold`` is
    called for each verified entry (statement, index, event hash, recorded_at) so the
    caller can replay domain rules. Never raises for a bad bundle: the report says.
    """
    started = time.monotonic()
    report = AuditReport()
    try:
        verifier = parse_vkey(log_key)
    except CheckpointError as exc:
        report.failure = Failure(None, "log-key-invalid", f"--log-key: {exc}")
        return report
    try:
        _verify(path, verifier, report, trusted_checkpoint, workers, progress, fold)
    except _Stop as stop:
        report.failure = stop.failure
    report.elapsed = time.monotonic() - started
    return report


class _InProcess:
    """The worker functions run here, for ``workers=1`` (same code, no pool)."""

    def __init__(self, ctx: _Context) -> None:
        _init_worker(ctx)

    def map(self, fn: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
        return map(fn, *iterables)

    def __enter__(self) -> _InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        _init_worker(None)  # type: ignore[arg-type]


class _Pool(ProcessPoolExecutor):
    """A process pool that drops the work still queued when the audit stops early."""

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


def _pool(nworkers: int, ctx: _Context) -> _Pool | _InProcess:
    if nworkers <= 1:
        return _InProcess(ctx)
    return _Pool(max_workers=nworkers, initializer=_init_worker, initargs=(ctx,))


def _verify(path: Path, verifier: Verifier, report: AuditReport,
            trusted: str | None, workers: int | None,
            progress: Callable[[int, int], None] | None,
            fold: Callable[[Statement, int, str, str], None] | None) -> None:
    header, begin = _read_header(path)
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    # Pass 1: entry offsets, checkpoints, public keys.
    ranges = _split(path, begin, nworkers * _SCAN_PARTS_PER_WORKER)
    with _pool(nworkers, _Context(path)) as pool:
        parts = list(pool.map(_scan_part, [a for a, _ in ranges], [b for _, b in ranges]))
    offsets = [o for part in parts for o in part.entry_offsets]
    pubkeys = {k: v for part in parts for k, v in part.pubkeys.items()}
    checkpoints: dict[int, bytes] = {}
    for part in parts:
        for line in part.checkpoints:
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
    replay = _Replay(checkpoints, report, origin, fold)
    total = declared if isinstance(declared, int) else len(offsets)
    # Pass 2: chunks of CHUNK entries, verified in parallel, applied in order.
    firsts = list(range(0, len(offsets), CHUNK))
    starts = [offsets[i] for i in firsts]
    ends = [*starts[1:], path.stat().st_size]
    ctx = _Context(path, origin, pubkeys, statements=fold is not None)
    with _pool(nworkers, ctx) as pool:
        for chunk in pool.map(_check_part, firsts, starts, ends):
            replay.apply(chunk)
            if progress is not None:
                progress(replay.tree.size, total)
    size = replay.tree.size
    report.size = size
    report.root_hash = replay.tree.root().hex()
    report.streams = len(replay.heads)
    report.organizations = len({k.org_id for k in replay.registry.keys.values()})
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
