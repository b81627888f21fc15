"""Printing for people and machines: tables, JSON, one-line errors, progress bars."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["Progress", "fail", "print_json", "table"]


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def fail(message: str, as_json: bool = False, detail: dict[str, Any] | None = None) -> int:
    """Report an error in one line (or as JSON) and return the exit status 1."""
    if as_json:
        print_json({"ok": False, "error": detail or {"detail": message}})
    else:
        print(f"error: {message}", file=sys.stderr)
    return 1


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          out: TextIO | None = None) -> None:
    """A plain aligned text table (on stdout unless ``out`` is given)."""
    out = out or sys.stdout
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    for n, row in enumerate(cells):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write(line + "\n")


class Progress:
    """A progress bar on stderr; silent when stderr is not a terminal or disabled."""

    def __init__(self, label: str, total: int | None, *, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled and sys.stderr.isatty()
        self.start = time.monotonic()
        self._last = 0.0
        self.done = 0

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1:
            return
        self._last = now
        rate = done / max(now - self.start, 1e-9)
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r{self.label} [{bar:<30}] {done}/{self.total} "
                             f"{frac:6.1%} {rate:,.0f}/s")
        else:
            sys.stderr.write(f"\r{self.label} {done} {rate:,.0f}/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            self._last = 0.0
            self.update(self.done)
            sys.stderr.write("\n")
            sys.stderr.flush()
