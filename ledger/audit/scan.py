"""Scanning the bundle file: its header, its checkpoint lines, and byte ranges of its
entry lines, read in place.

The bundle is mapped read-only (``MappedBundle``), once per process: ranges are read
with no copy (copies cost a measurable share of the audit: docs/PERFORMANCE.md,
*Figures behind the code's choices*). The main process reads the header and the
checkpoints (the file's last lines, read backwards, docs/PROTOCOL.md Part III) and cuts
the entries into ranges (``check_ranges``); workers read the lines that start in their
range.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from ..bundle import BUNDLE_FORMAT
from ..canonical import check_depth
from ..errors import TooDeep
from .report import Failure, Stop

__all__ = ["CHECKPOINT_LINE", "RANGE_BYTES", "MappedBundle", "check_ranges", "read_header"]

RANGE_BYTES = 1 << 20
"""Bytes of bundle per task of the verification (about 500 entries of ~2 KB)."""

CHECKPOINT_LINE = b'{"checkpoint"'


class MappedBundle:
    """The bundle file mapped read-only, for the lines of a range and the tail."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as fh:
            self.mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)

    def close(self) -> None:
        """Unmap (views still alive keep the map until they are collected)."""
        with contextlib.suppress(BufferError):
            self.mapped.close()

    def span(self, start: int, end: int) -> tuple[int, int]:
        """(lo, hi): the lines that start in [start, end) fill [lo, hi) of the file,
        whole. ``start`` may fall inside a line, which then belongs to the range before."""
        mapped = self.mapped
        size = len(mapped)
        lo = 0 if start == 0 else mapped.find(b"\n", start - 1, end) + 1
        if lo == 0 and start > 0:
            return size, size             # no line starts in the range
        if end >= size:
            return lo, size
        nl = mapped.find(b"\n", end - 1)
        return lo, size if nl < 0 else nl + 1

    def lines(self, start: int, end: int) -> Iterator[tuple[int, memoryview]]:
        """Every line that starts in [start, end), without its newline, as views of the
        mapped file (no copy per line), each with its offset in the file."""
        mapped = self.mapped
        pos, hi = self.span(start, end)
        view = memoryview(mapped)
        while pos < hi:
            nl = mapped.find(b"\n", pos, hi)
            stop = hi if nl < 0 else nl
            yield pos, view[pos:stop]
            pos = stop + 1

    def tail(self, begin: int) -> tuple[int, list[bytes]]:
        """Where the entries end, and the checkpoint lines after them: the bundle's last
        lines, read backwards from the end of the file."""
        mapped = self.mapped
        end = len(mapped)
        lines: list[bytes] = []
        while end > begin:
            stop = end - 1 if mapped[end - 1] == 0x0A else end
            start = mapped.rfind(b"\n", begin, stop) + 1 or begin
            line = mapped[start:stop]
            if not line.startswith(CHECKPOINT_LINE):
                break
            lines.append(line)
            end = start
        return end, lines[::-1]


def read_header(path: Path) -> tuple[dict[str, Any], int]:
    """The header object and the byte offset where entries begin."""
    with path.open("rb") as fh:
        line = fh.readline()
    if not line:
        raise Stop(Failure(None, "bundle-header", "empty bundle"))
    try:
        check_depth(line, "header")
        header = msgspec.json.decode(line)
    except (msgspec.DecodeError, TooDeep) as exc:
        raise Stop(Failure(None, "bundle-header", f"unreadable header: {exc}")) from None
    if not isinstance(header, dict) or header.get("format") != BUNDLE_FORMAT:
        raise Stop(Failure(None, "bundle-header", f"not a {BUNDLE_FORMAT} bundle"))
    return header, len(line)


def _split(begin: int, size: int, parts: int) -> list[tuple[int, int]]:
    step = max((size - begin) // max(parts, 1), 1)
    bounds = [*list(range(begin, size, step)), size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if a < b]


def check_ranges(begin: int, end: int, nworkers: int) -> list[tuple[int, int]]:
    """The ranges to verify: about ``RANGE_BYTES`` each, but the first a quarter of
    that (it runs alone: the keys a log opens with then reach every later range), and
    the last ``nworkers`` ranges' worth cut four times finer, so that the workers finish
    together (while the last range is verified, the other cores wait)."""
    head = min(RANGE_BYTES // 4, (end - begin) // 4)
    tail = min(nworkers * RANGE_BYTES, (end - begin - head) // 2)
    body = _split(begin + head, end - tail,
                  max(nworkers, (end - tail - begin - head) // RANGE_BYTES))
    return _split(begin, begin + head, 1) + body + _split(end - tail, end, nworkers * 4)
