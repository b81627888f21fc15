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
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from . import b64, merkle
from .admission import Head, _check_chain
from .bundle import BUNDLE_FORMAT
from .canonical import canonical_bytes
from .checkpoint import CheckpointError, Verifier, make_vkey, open_checkpoint, parse_vkey
from .envelope import decode_envelope, pae
from .errors import LedgerError
from .keys import key_id as compute_key_id
from .keys import verify_signature
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


# --- per-entry work, run in worker processes -------------------------------------

# (index, leaf_hash, statement, event_hash, signer key ids, recorded_at_us)
_Checked = tuple[int, bytes, Statement, str, tuple[str, ...], int]
_Result = _Checked | Failure


def _check_line(line: bytes, origin: str, pubkeys: dict[str, bytes]) -> _Result:
    index: int | None = None
    try:
        obj = msgspec.json.decode(line)
        index = obj.get("index")
        if not isinstance(index, int):
            return Failure(None, "entry-malformed", "entry line has no integer index")
        leaf = b64.decode(obj["leaf"])
        leaf_index, recorded_us, leaf_envelope = decode_leaf(leaf)
        if leaf_index != index:
            return Failure(index, "leaf-index", f"leaf carries index {leaf_index}")
        # Our exporter embeds the envelope's canonical bytes verbatim as the last
        # member: compare bytes directly; other writers fall back to re-encoding.
        marker = line.rfind(b',"envelope":')
        verbatim = marker >= 0 and line[marker + 12:].rstrip(b"\r\n")[:-1] == leaf_envelope
        if not verbatim and canonical_bytes(obj["envelope"]) != leaf_envelope:
            return Failure(index, "leaf-envelope",
                           "the leaf bytes do not hold this entry's envelope")
        env, payload = decode_envelope(leaf_envelope)
        st = parse_statement(payload)
        if st.ledger != origin:
            return Failure(index, "wrong-ledger", f"statement is for ledger {st.ledger!r}")
        message = pae(env.payloadType, payload)
        signers = []
        for s in env.signatures:
            raw = pubkeys.get(s.keyid)
            if raw is None:
                return Failure(index, "key-unknown", f"signature by unknown key {s.keyid}")
            if not verify_signature(raw, b64.decode(s.sig), message):
                return Failure(index, "signature-invalid",
                               f"signature by key {s.keyid} does not verify")
            signers.append(s.keyid)
        if st.key not in signers:
            return Failure(index, "signature-missing", "no signature by the statement's key")
        return (index, merkle.hash_leaf(leaf), st, event_hash(payload), tuple(signers),
                recorded_us)
    except LedgerError as exc:
        return Failure(index, exc.code, exc.detail)
    except (KeyError, TypeError, ValueError, msgspec.DecodeError) as exc:
        return Failure(index, "entry-malformed", f"{type(exc).__name__}: {exc}")


def _check_chunk(lines: list[bytes], origin: str, pubkeys: dict[str, bytes]) -> list[_Result]:
    return [_check_line(line, origin, pubkeys) for line in lines]


# --- the sequential part ------------------------------------------------------------


def _scan(path: Path, verifier: Verifier, report: AuditReport
          ) -> tuple[dict[str, Any], dict[int, bytes], dict[str, bytes]]:
    """First pass: header, checkpoints (verified) and every public key introduced."""
    checkpoints: dict[int, bytes] = {}
    pubkeys: dict[str, bytes] = {}
    header: dict[str, Any] | None = None
    with path.open("rb") as fh:
        for n, line in enumerate(fh):
            if n == 0:
                try:
                    header = msgspec.json.decode(line)
                except msgspec.DecodeError as exc:
                    raise _Stop(Failure(None, "bundle-header",
                                        f"unreadable header: {exc}")) from None
                if not isinstance(header, dict) or header.get("format") != BUNDLE_FORMAT:
                    raise _Stop(Failure(None, "bundle-header",
                                        f"not a {BUNDLE_FORMAT} bundle"))
                continue
            if line.startswith(b'{"checkpoint"'):
                _scan_checkpoint(line, verifier, checkpoints, report)
                continue
            _scan_keys(line, pubkeys)
    if header is None:
        raise _Stop(Failure(None, "bundle-header", "empty bundle"))
    return header, checkpoints, pubkeys


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


def _entry_chunks(path: Path) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    with path.open("rb") as fh:
        next(fh, None)
        for line in fh:
            if line.startswith(b'{"checkpoint"'):
                continue
            chunk.append(line)
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


@dataclass(slots=True)
class _Replay:
    """The sequential state: stream heads, key history, tree, agreement folds."""

    checkpoints: dict[int, bytes]
    report: AuditReport
    fold: Callable[[Statement, int, str, str], None] | None
    heads: dict[str, Head] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    tree: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    last_recorded: int = 0

    def apply(self, result: _Result) -> None:
        if isinstance(result, Failure):
            raise _Stop(result)
        index, leaf_hash, st, ehash, signers, recorded_us = result
        if index != self.tree.size:
            raise _Stop(Failure(self.tree.size, "entry-missing",
                                f"expected entry {self.tree.size}, found entry {index}"))
        if recorded_us < self.last_recorded:
            raise _Stop(Failure(index, "recorded-at-order",
                                "recorded_at goes backwards in the log"))
        self.last_recorded = recorded_us
        try:
            _check_chain(st, self.heads.get(st.stream, Head(0, None)))
            self.registry.signer_key(st, index)
            for kid in signers:
                if kid != st.key and self.registry.lookup(kid, index) is None:
                    raise LedgerError(f"co-signing key {kid} not valid here")
            if st.stream_kind == "org":
                check_org_statement(st, self.registry, index)
        except LedgerError as exc:
            raise _Stop(Failure(index, exc.code, exc.detail)) from None
        self.registry.apply(st, index)
        self.heads[st.stream] = Head(st.version, ehash)
        self.tree.append(leaf_hash)
        self.report.entries_verified += 1
        self.report.signatures_verified += len(signers)
        want = self.checkpoints.get(self.tree.size)
        if want is not None and self.tree.root() != want:
            raise _Stop(Failure(index, "checkpoint-root",
                                f"the tree of size {self.tree.size} does not have the "
                                "root the log signed"))
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


def _verify(path: Path, verifier: Verifier, report: AuditReport,
            trusted: str | None, workers: int | None,
            progress: Callable[[int, int], None] | None,
            fold: Callable[[Statement, int, str, str], None] | None) -> None:
    header, checkpoints, pubkeys = _scan(path, verifier, report)
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
    replay = _Replay(checkpoints, report, fold)
    total = declared if isinstance(declared, int) else 0
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    if nworkers <= 1:
        for chunk in _entry_chunks(path):
            for result in _check_chunk(chunk, origin, pubkeys):
                replay.apply(result)
            if progress is not None:
                progress(replay.tree.size, total)
    else:
        with ProcessPoolExecutor(max_workers=nworkers) as pool:
            pending: list[Future[list[_Result]]] = []
            chunks = _entry_chunks(path)
            exhausted = False
            while True:
                while not exhausted and len(pending) < nworkers * 3:
                    nxt = next(chunks, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending.append(pool.submit(_check_chunk, nxt, origin, pubkeys))
                if not pending:
                    break
                for result in pending.pop(0).result():
                    replay.apply(result)
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
