"""Dates and instants in queries: ``?at=``, ``?from=``, ``?to=``, ``?year=``.

A query bound is a calendar date ``YYYY-MM-DD`` (a whole UTC day) or an RFC 3339 UTC
time ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``. Instants are compared in a sortable form with
microseconds always present, so ``...:05Z`` and ``...:05.000000Z`` are the same moment.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["Window", "day_of", "instant", "parse_bound", "window"]

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z\Z")
_YEAR = re.compile(r"^[0-9]{4}\Z")


def instant(text: str) -> str:
    """Sortable form of an RFC 3339 UTC time: ``YYYY-MM-DDTHH:MM:SS.ffffff``."""
    head, _, frac = text.rstrip("Z").partition(".")
    return f"{head}.{frac:0<6}"


def day_of(text: str) -> str:
    """The UTC calendar day of an RFC 3339 time (or of a date)."""
    return text[:10]


def _check_date(text: str, name: str) -> None:
    try:
        date.fromisoformat(text[:10])
    except ValueError as exc:
        raise ValueError(f"{name} {text!r} is not a real calendar date") from exc


def parse_bound(text: str, *, name: str, end: bool) -> str:
    """A query bound as an instant. A date stands for the start of that UTC day, or for
    its last microsecond when ``end``. Raises ValueError naming ``name``."""
    if _DATE.match(text):
        _check_date(text, name)
        return f"{text}T23:59:59.999999" if end else f"{text}T00:00:00.000000"
    if _TIME.match(text):
        _check_date(text, name)
        return instant(text)
    raise ValueError(f"{name} {text!r} is neither YYYY-MM-DD nor YYYY-MM-DDTHH:MM:SS[.ffffff]Z")


class Window:
    """An inclusive range of calendar dates; either end may be open (None)."""

    __slots__ = ("end", "start")

    def __init__(self, start: str | None, end: str | None) -> None:
        self.start = start
        self.end = end

    def contains(self, first: str, last: str) -> bool:
        """The period [first, last] lies wholly within the window."""
        return (self.start is None or first >= self.start) and (
            self.end is None or last <= self.end)

    def overlaps(self, first: str, last: str) -> bool:
        """The period [first, last] shares at least one day with the window."""
        return (self.start is None or last >= self.start) and (
            self.end is None or first <= self.end)

    def to_json(self) -> dict[str, str | None]:
        return {"from": self.start, "to": self.end}


def window(year: str | None, start: str | None, end: str | None) -> Window | None:
    """The window of ``?year=`` or ``?from=&to=`` (dates); None when none is given.
    Raises ValueError for a malformed or inverted window, or for both forms at once."""
    if year is not None:
        if start is not None or end is not None:
            raise ValueError("give either year or from/to, not both")
        if not _YEAR.match(year):
            raise ValueError(f"year {year!r} is not YYYY")
        return Window(f"{year}-01-01", f"{year}-12-31")
    if start is None and end is None:
        return None
    for text, name in ((start, "from"), (end, "to")):
        if text is not None:
            if not _DATE.match(text):
                raise ValueError(f"{name} {text!r} is not YYYY-MM-DD")
            _check_date(text, name)
    if start is not None and end is not None and start > end:
        raise ValueError(f"from {start} is after to {end}")
    return Window(start, end)
