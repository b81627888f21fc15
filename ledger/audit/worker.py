"""The parallel part: ranges of the bundle verified, and partitions folded, in worker
processes.

The main process never reads entry lines: workers get byte ranges of the file and
return, per range, what the sequential checks need and nothing more (a ``Chunk``): the
rows of the entries that passed, and their leaves hashed up into the few aligned perfect
subtrees that cover the range (cut at every checkpoint size), so the main process
merges a handful of hashes per range instead of every leaf.

Each process keeps its state from task to task of one audit in one ``Worker`` (the
bundle mapped once, the keys learned, the replay's router); a pool process finds its
worker in ``_SLOT``, the one place a process keeps it between tasks, replaced when a
task of another audit arrives. With one worker (``InProcess``), the main process owns
a ``Worker`` of its own and closes it at the end.
"""

from __future__ import annotations

import collections
import gc
import itertools
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import msgspec

from .. import merkle
from .entry import EntryChecker, Held, Pending, Row
from .replay import Folded, Replay, Routes, fold
from .report import Failure
from .scan import CHECKPOINT_LINE, MappedBundle

__all__ = [
    "AHEAD_PER_WORKER",
    "Chunk",
    "Context",
    "InProcess",
    "Pool",
    "Worker",
    "check_task",
    "fold_task",
    "routes_decoder",
    "rows_decoder",
]

AHEAD_PER_WORKER = 4
"""Ranges sent ahead per worker: enough that none waits while the main process works."""
# While the keys learned are at most this many (a few tens of KiB), every range is sent
# with all of them: what a worker knows then does not depend on which ranges it took.
ALL_KEYS_UP_TO = 2048

# Rows cross from workers to the main process as MessagePack, decoded straight back
# into ``Row`` Structs.
_rows_encoder = msgspec.msgpack.Encoder()
rows_decoder = msgspec.msgpack.Decoder(list[Row])
routes_decoder = msgspec.msgpack.Decoder(Routes)


@dataclass(frozen=True, slots=True)
class Context:
    """What every task of one audit shares (equal contexts: the same audit)."""

    path: Path
    origin: str = ""
    replay: Callable[[], Replay] | None = None  # routes statements, when rules replay
    cuts: tuple[int, ...] = ()  # checkpoint sizes: subtrees never straddle one


class Chunk(NamedTuple):
    """A range verified."""

    first: int | None          # the index of the range's first entry, if it has one
    rows: bytes                # the entries that passed, in order (``Row`` MessagePack)
    segments: list[tuple[int, bytes]]  # (level, root) of the subtrees covering ``rows``
    failure: Failure | None    # the first failure after ``rows``
    routed: bytes              # the entries of ``rows`` a replay folds (``Routes``)
    pending: Pending | None    # signatures of the failing entry checked before ``failure``


def segments(first: int, hashes: list[bytes], cuts: tuple[int, ...]
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


class Worker:
    """One process's state for the audit of ``ctx``: the bundle mapped, the entry
    checks (with the keys learned so far)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.bundle = MappedBundle(ctx.path)
        self.checker = EntryChecker(ctx.origin, None if ctx.replay is None else ctx.replay())

    def close(self) -> None:
        self.bundle.close()

    def check_range(self, start: int, end: int, keys: dict[str, bytes]) -> Chunk:
        """The entries whose lines start in [start, end) checked (knowing ``keys`` too,
        sent by the main process), the leaves hashed into subtrees."""
        checker = self.checker
        checker.known.update(keys)
        hashes: list[bytes] = []
        rows: list[Row] = []
        routed: Routes = {}
        failure: Failure | None = None
        pending: Pending | None = None
        first: int | None = None
        for at, line in self.bundle.lines(start, end):
            if line[:13] == CHECKPOINT_LINE:
                failure = Failure(None, "checkpoint-misplaced", "a checkpoint line among "
                                  "the entries: checkpoints come after the last entry")
                break
            checked = checker.check(line, None if first is None else first + len(rows))
            if isinstance(checked, Failure):
                failure = checked
                break
            if isinstance(checked, Held):
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
                where += (index, at, row.recorded_us)
        cut = [] if first is None else segments(first, hashes, self.ctx.cuts)
        return Chunk(first, _rows_encoder.encode(rows), cut, failure,
                     _rows_encoder.encode(routed), pending)

    def fold(self, limit: int, work: list[tuple[str, bytes]]) -> Folded:
        """Fold the partitions of ``work`` over the entries below ``limit`` with a new
        instance of the audit's replay."""
        assert self.ctx.replay is not None
        return fold(self.ctx.replay(), self.bundle, limit, work)


class _Slot:
    """Where a pool process keeps its worker between tasks: one audit at a time."""

    __slots__ = ("worker",)

    def __init__(self) -> None:
        self.worker: Worker | None = None

    def get(self, ctx: Context) -> Worker:
        worker = self.worker
        if worker is None or worker.ctx != ctx:
            if worker is not None:
                worker.close()
            worker = self.worker = Worker(ctx)
        return worker


_SLOT: Final = _Slot()


# The tasks a pool process runs. No cycles are made in them: the cyclic collector only
# costs time, and stays off in a worker until the pool ends.

def check_task(ctx: Context, start: int, end: int, keys: dict[str, bytes]) -> Chunk:
    gc.disable()
    return _SLOT.get(ctx).check_range(start, end, keys)


def fold_task(ctx: Context, limit: int, work: list[tuple[str, bytes]]) -> Folded:
    gc.disable()
    return _SLOT.get(ctx).fold(limit, work)


class InProcess:
    """``workers=1``: the workers' code runs here, on a worker of its own, no pool."""

    def __init__(self, ctx: Context) -> None:
        self.worker = Worker(ctx)

    def checked(self, ranges: list[tuple[int, int]], learned: list[tuple[str, bytes]]
                ) -> Generator[Chunk, None, None]:
        for start, end in ranges:  # one process: it learns every key itself
            yield self.worker.check_range(start, end, {})

    def folded(self, limit: int, groups: list[list[tuple[str, bytes]]]) -> Iterator[Folded]:
        return (self.worker.fold(limit, work) for work in groups)

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.worker.close()


class Pool:
    """A process pool for the log and the rules: its processes map the bundle once and
    stay warm. The work still queued is dropped when the audit stops early."""

    def __init__(self, ctx: Context, nworkers: int) -> None:
        self.ctx = ctx
        self.nworkers = nworkers
        self.executor = ProcessPoolExecutor(max_workers=nworkers)

    def checked(self, ranges: list[tuple[int, int]], learned: list[tuple[str, bytes]]
                ) -> Generator[Chunk, None, None]:
        """The ranges' chunks, in log order, the main process applying each (and so
        appending the keys it introduces to ``learned``) before it asks for the next.

        A few ranges per worker are in flight at any time; each is sent with the keys
        the main process learned since the range sent twice a window earlier (a worker
        takes about every ``nworkers``-th range: it has the older ones already), or all
        of them while they are at most ``ALL_KEYS_UP_TO``. The
        first range runs alone: the keys a log opens with are then known to every later
        range."""
        window = self.nworkers * AHEAD_PER_WORKER
        marks: list[int] = []          # len(learned) as each range was sent
        futures: collections.deque[Future[Chunk]] = collections.deque()
        try:
            for n, (start, end) in enumerate(ranges):
                # Few keys (most ledgers): all of them, whichever worker takes the range
                # (under load one worker may take many ranges in a row, and the other
                # then miss the keys sent with them). Many: those since two windows back.
                since = (0 if len(learned) <= ALL_KEYS_UP_TO or n < 2 * window
                         else marks[n - 2 * window])
                marks.append(len(learned))
                futures.append(self.executor.submit(check_task, self.ctx, start, end,
                                                    dict(learned[since:])))
                if n == 0 or len(futures) >= window:
                    yield futures.popleft().result()
            while futures:
                yield futures.popleft().result()
        finally:  # stopped early: the ranges not started are dropped
            for future in futures:
                future.cancel()

    def folded(self, limit: int, groups: list[list[tuple[str, bytes]]]) -> Iterator[Folded]:
        return self.executor.map(fold_task, itertools.repeat(self.ctx),
                                 itertools.repeat(limit), groups)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        self.executor.shutdown(wait=True, cancel_futures=exc_type is not None)
