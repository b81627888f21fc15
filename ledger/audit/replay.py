"""The rules replay: partitions folded in parallel, after the log is verified.

While the log is verified, each worker notes where every entry a replay folds stands
(its partition, log index, line offset and recorded time: ``Routes``). Then the
partitions are shared among the workers (``partitions``), each folding its share from
the lines themselves, found again by their offsets (``fold``): a statement never
crosses a pipe twice. Only entries below the log's first failure are folded, so a
rule's refusal, if any, stands before it.
"""

from __future__ import annotations

import heapq
from array import array
from typing import NamedTuple, Protocol

import msgspec

from ..errors import LedgerError
from ..statement import Statement
from .report import Failure, earlier, refused
from .scan import MappedBundle

__all__ = ["Folded", "Replay", "Routes", "fold", "partitions"]


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


Routes = dict[str, list[int]]
"""partition -> (index, offset of the entry's line in the file, recorded_at_us) * n,
flattened: grouped by partition in the worker, so the main process extends a list per
partition and range, not a tuple per entry."""


class Folded(NamedTuple):
    hashes: dict[str, str]     # partition -> final state hash
    failure: Failure | None    # the first refusal among these partitions, if any
    entries: int               # statements applied


class _PayloadOnly(msgspec.Struct):
    payload: bytes


class _EnvelopeOnly(msgspec.Struct):
    envelope: _PayloadOnly


# An entry line read again for its payload alone: the members the rules need nothing of
# are skipped, base64 is decoded in C. The line was verified by then: these are the
# bytes whose signatures held (the same decoder semantics as the entry's decoder).
_payload_decoder = msgspec.json.Decoder(_EnvelopeOnly)


def fold(replay: Replay, bundle: MappedBundle, limit: int,
         work: list[tuple[str, bytes]]) -> Folded:
    """Fold the partitions in ``work`` (each: its key, and its packed routes) over the
    entries below ``limit``, each partition up to its first refusal."""
    mapped = bundle.mapped
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
                first = earlier(first, refused(index, exc))
                break
            except (msgspec.DecodeError, ValueError) as exc:  # the file changed under us
                first = earlier(first, Failure(index, "bundle-unreadable",
                                               f"entry {index} reads otherwise now: {exc}"))
                break
            applied += 1
    del view
    return Folded(replay.state_hashes(), first, applied)


def partitions(routes: dict[str, array[int]], bins: int) -> list[list[tuple[str, bytes]]]:
    """The partitions in ``bins`` groups of about equal work (largest first, each into
    the lightest group so far), packed for a worker."""
    loads = [(0, n) for n in range(bins)]      # a heap: the lightest group first
    groups: list[list[tuple[str, bytes]]] = [[] for _ in range(bins)]
    for key in sorted(routes, key=lambda k: (-len(routes[k]), k)):
        load, n = loads[0]
        heapq.heapreplace(loads, (load + len(routes[key]), n))
        groups[n].append((key, routes[key].tobytes()))
    return [g for g in groups if g]
