"""A least-recently-used map bounded by entries and by an estimate of its bytes.

Why one class: every cache of the process (folded agreements, encoded entries, key
histories, public keys) must stay within a bound that a setting controls
(``ledger.config.Caches``), whatever the length of the log. Counting entries alone is
not enough where an entry's size varies a lot (an agreement of 2,000 events takes two
hundred times the memory of one of 10), so each entry also carries a weight, an
estimate of its bytes given by the caller (``agreement_bytes`` for folded states), and
the least recently used entries go until both bounds hold. The entry just put always
stays, even alone above the byte bound: the caller is using it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Final, Generic, TypeVar

__all__ = ["AGREEMENT_BASE_BYTES", "AGREEMENT_EVENT_BYTES", "LRU", "agreement_bytes"]

K = TypeVar("K")
V = TypeVar("V")

#: Memory of a folded agreement state (``ledger.domain.AgreementState``), measured with
#: tracemalloc over the benchmark workload (``bench/memory_growth.py --states``): about
#: 3 KiB for an agreement of 10 events, 360 bytes more per event after that. Rounded up.
AGREEMENT_BASE_BYTES: Final = 4096
AGREEMENT_EVENT_BYTES: Final = 400


def agreement_bytes(events: int) -> int:
    """The estimated memory of an agreement's state folded from ``events`` events."""
    return AGREEMENT_BASE_BYTES + AGREEMENT_EVENT_BYTES * max(events, 0)


class LRU(Generic[K, V]):
    """At most ``max_entries`` entries and (but for the newest) ``max_bytes`` of their
    weights; the least recently used go first. ``on_evict(key, value)`` is told of each
    entry dropped to keep the bounds (not of ``pop``/``clear``)."""

    __slots__ = ("_items", "bytes", "max_bytes", "max_entries", "on_evict")

    def __init__(self, max_entries: int, max_bytes: int | None = None, *,
                 on_evict: Callable[[K, V], None] | None = None) -> None:
        if max_entries < 1 or (max_bytes is not None and max_bytes < 1):
            raise ValueError(f"bounds must be >= 1 (entries {max_entries}, "
                             f"bytes {max_bytes})")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.on_evict = on_evict
        self.bytes = 0  # the sum of the entries' weights
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[K]:
        return iter(self._items)

    def get(self, key: K) -> V | None:
        """The value (now the most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def peek(self, key: K) -> V | None:
        """The value, leaving the order as it is."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def put(self, key: K, value: V, weight: int = 0, *, trim: bool = True) -> None:
        """Set ``key`` (the most recently used), then drop entries beyond the bounds
        (unless ``trim`` is false: a caller in the middle of using several entries
        trims once it is done)."""
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        self._items[key] = (value, weight)
        self.bytes += weight
        if trim:
            self.trim()

    def reweigh(self, key: K, weight: int, *, trim: bool = True) -> None:
        """A value changed in place: its new weight (its place in the order is kept)."""
        item = self._items.get(key)
        if item is not None:
            self.bytes += weight - item[1]
            self._items[key] = (item[0], weight)
        if trim:
            self.trim()

    def pop(self, key: K) -> V | None:
        item = self._items.pop(key, None)
        if item is None:
            return None
        self.bytes -= item[1]
        return item[0]

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def trim(self) -> None:
        """Drop the least recently used entries until the bounds hold (the newest stays)."""
        items = self._items
        while len(items) > 1 and (len(items) > self.max_entries or (
                self.max_bytes is not None and self.bytes > self.max_bytes)):
            key, (value, weight) = items.popitem(last=False)
            self.bytes -= weight
            if self.on_evict is not None:
                self.on_evict(key, value)
