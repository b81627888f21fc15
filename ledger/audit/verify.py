"""``verify_bundle``: the audit from start to end.

The header first, then the checkpoints (the file's last lines, each verified with the
pinned log key), the trusted checkpoint if one is given; then the entries, ranges
verified in parallel (``worker``) and applied in log order (``sequence``); then the rules
replay over the entries that passed (``replay``); last the checks of the whole (the
size the header announced, a rollback, checkpoints beyond the end).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import msgspec

from ..canonical import check_depth
from ..checkpoint import (
    Checkpoint,
    CheckpointError,
    Verifier,
    make_vkey,
    open_checkpoint,
    parse_vkey,
)
from ..errors import TooDeep
from .replay import Folded, Replay, partitions
from .report import AuditReport, Failure, Stop, earlier
from .scan import MappedBundle, check_ranges, read_header
from .sequence import Sequence
from .worker import Context, InProcess, Pool

__all__ = ["verify_bundle"]

Progress = Callable[[str, int, int], None]

_REPLAY_TASKS_PER_WORKER = 32   # the work is spread finely: workers finish together


def verify_bundle(
    path: Path,
    log_key: str,
    *,
    trusted_checkpoint: str | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
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
    except Stop as stop:
        report.failure = stop.failure
        report.agreements = {}  # no final state to speak of
    except BrokenProcessPool:
        # The bundle is read in place (mapped): a file truncated under a worker kills it.
        report.failure = Failure(None, "bundle-unreadable",
                                 "a worker process died reading the bundle; was the file "
                                 "changed while it was being verified?")
    report.elapsed = time.monotonic() - started
    return report


def _checkpoints(lines: list[bytes], verifier: Verifier, report: AuditReport
                 ) -> dict[int, bytes]:
    """Size -> root of every checkpoint line, each verified with the pinned key."""
    checkpoints: dict[int, bytes] = {}
    for line in lines:
        try:
            check_depth(line, "checkpoint line")
            note = msgspec.json.decode(line)["checkpoint"]
            cp = open_checkpoint(note, verifier)
        except (CheckpointError, KeyError, TypeError, msgspec.DecodeError, TooDeep) as exc:
            raise Stop(Failure(
                None, "checkpoint-invalid",
                f"a checkpoint does not verify with the pinned log key: {exc}")) from None
        known = checkpoints.get(cp.size)
        if known is not None and known != cp.root_hash:
            raise Stop(Failure(max(cp.size - 1, 0), "checkpoint-fork",
                               f"two signed checkpoints of size {cp.size} with different "
                               "roots"))
        checkpoints[cp.size] = cp.root_hash
        report.checkpoints_verified += 1
    return checkpoints


def _trusted(text: str, verifier: Verifier, checkpoints: dict[int, bytes],
             report: AuditReport) -> Checkpoint:
    """The auditor's trusted checkpoint, opened and held against the bundle's own."""
    try:
        trusted = open_checkpoint(text, verifier)
    except CheckpointError as exc:
        raise Stop(Failure(None, "trusted-checkpoint-invalid", str(exc))) from None
    report.trusted_checkpoint = {"size": trusted.size, "root_hash": trusted.root_hash.hex()}
    known = checkpoints.get(trusted.size)
    if known is not None and known != trusted.root_hash:
        raise Stop(Failure(max(trusted.size - 1, 0), "fork",
                           f"the bundle's checkpoint of size {trusted.size} has another "
                           "root than the trusted checkpoint: a fork"))
    return trusted


def _verify(path: Path, verifier: Verifier, report: AuditReport, trusted_text: str | None,
            workers: int | None, progress: Progress | None,
            replay: Callable[[], Replay] | None) -> None:
    header, begin = read_header(path)
    declared = header.get("size")
    report.size = declared if isinstance(declared, int) else 0  # until the end is read
    bundle = MappedBundle(path)
    try:
        entries_end, checkpoint_lines = bundle.tail(begin)
    finally:
        bundle.close()
    checkpoints = _checkpoints(checkpoint_lines, verifier, report)
    origin = str(header.get("origin", ""))
    report.origin = origin
    if origin != verifier.name:
        raise Stop(Failure(None, "origin-mismatch",
                           f"bundle origin {origin!r} is not the pinned key's {verifier.name!r}"))
    if header.get("vkey") != make_vkey(verifier.name, verifier.public_key):
        report.warnings.append("the bundle's header names another log key; it was ignored "
                               "and the pinned key used")
    trusted = None
    if trusted_text is not None:
        trusted = _trusted(trusted_text, verifier, checkpoints, report)
        checkpoints = {**checkpoints, trusted.size: trusted.root_hash}
    sequence = Sequence(checkpoints, origin)
    ctx = Context(path, origin, replay, cuts=tuple(sorted(checkpoints)))
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    ranges = check_ranges(begin, entries_end, nworkers)
    try:
        with InProcess(ctx) if nworkers <= 1 else Pool(ctx, nworkers) as runner:
            _run(runner, ranges, nworkers, sequence, report, progress, replay is not None)
        _whole(sequence, declared, checkpoints, trusted, report)
    except Stop as stop:
        sequence.count(report, stop.failure.index)
        if not isinstance(declared, int):  # no size announced: as far as it was read
            report.size = sequence.tree.size
        raise
    sequence.count(report, None)


def _run(runner: InProcess | Pool, ranges: list[tuple[int, int]], nworkers: int,
         sequence: Sequence, report: AuditReport, progress: Progress | None,
         replaying: bool) -> None:
    """The log's ranges verified and applied in order, then the rules replayed."""
    total = report.size
    # The cyclic collector is paused meanwhile: these passes make no cycles, and its
    # full collections would walk every row, route and agreement state kept so far.
    collecting = gc.isenabled()
    gc.disable()
    stopped: Failure | None = None
    try:
        chunks = runner.checked(ranges, sequence.learned)
        try:
            for chunk in chunks:
                sequence.apply(chunk)
                if progress is not None:
                    progress("verify", sequence.tree.size, total)
        except Stop as stop:
            stopped = stop.failure
            chunks.close()  # the ranges not yet verified are dropped
        # Then the rules, over the entries that passed every check of the log (below
        # ``sequence.checked``). So a rule's refusal, if any, is at an index before the
        # log's first failure: the first failing index is named, whichever pass found it.
        if replaying:
            folded = _replay_all(runner, sequence, nworkers, progress)
            stopped = folded.failure or stopped
            report.agreements = folded.hashes
    finally:
        if collecting:
            gc.enable()
    if stopped is not None:
        raise Stop(stopped)


def _replay_all(runner: InProcess | Pool, sequence: Sequence, nworkers: int,
                progress: Progress | None) -> Folded:
    """Every partition folded, spread over the workers; the first refusal of all."""
    total = sum(len(where) // 3 for where in sequence.routes.values())
    groups = partitions(sequence.routes, nworkers * _REPLAY_TASKS_PER_WORKER)
    hashes: dict[str, str] = {}
    first: Failure | None = None
    done = 0
    for folded in runner.folded(sequence.checked, groups):
        hashes.update(folded.hashes)
        first = earlier(first, folded.failure)
        done += folded.entries
        if progress is not None:
            progress("rules", done, total)
    return Folded(dict(sorted(hashes.items())), first, done)


def _whole(sequence: Sequence, declared: object, checkpoints: dict[int, bytes],
           trusted: Checkpoint | None, report: AuditReport) -> None:
    """The checks of the bundle as a whole, once every entry holds."""
    size = sequence.tree.size
    report.size = size
    report.root_hash = sequence.tree.root().hex()
    if isinstance(declared, int) and declared != size:
        report.size = declared  # out of what the header announces, as on any failure
        raise Stop(Failure(size, "bundle-size",
                           f"the header announces {declared} entries, the bundle has {size}"))
    beyond = [s for s in checkpoints if s > size]
    if trusted is not None and trusted.size > size:
        raise Stop(Failure(size, "rollback",
                           f"the trusted checkpoint covers {trusted.size} entries; this "
                           f"bundle has only {size}: the log was truncated or rolled back"))
    if beyond:
        raise Stop(Failure(size, "checkpoint-beyond",
                           f"a signed checkpoint of size {max(beyond)} is beyond the "
                           f"bundle's {size} entries"))
    covered = max(checkpoints) if checkpoints else -1
    if covered < size:
        report.warnings.append(
            f"{size - max(covered, 0)} entries after the last checkpoint are not covered by a "
            "signature of the log")
