"""The bounded map every cache uses: entries and estimated bytes both hold, the least
recently used go first, and the entry just put always stays."""

from __future__ import annotations

import pytest

from ledger.lru import LRU, agreement_bytes


def test_the_entries_bound_drops_the_least_recently_used() -> None:
    dropped: list[str] = []
    cache: LRU[str, int] = LRU(2, on_evict=lambda k, _: dropped.append(k))
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the least recently used
    cache.put("c", 3)
    assert list(cache) == ["a", "c"] and dropped == ["b"]
    assert cache.peek("a") == 1 and list(cache) == ["a", "c"]  # peek keeps the order


def test_the_byte_bound_holds_but_keeps_the_newest() -> None:
    cache: LRU[str, str] = LRU(100, 10)
    for key in "abcde":
        cache.put(key, key, 4)
        assert cache.bytes <= 10
    assert list(cache) == ["d", "e"] and cache.bytes == 8
    cache.put("huge", "x", 50)  # alone above the bound: kept, everything else goes
    assert list(cache) == ["huge"] and cache.bytes == 50


def test_weights_follow_replacements_reweighs_and_pops() -> None:
    cache: LRU[str, str] = LRU(10, 100)
    cache.put("a", "1", 30)
    cache.put("a", "2", 40)
    assert cache.bytes == 40 and len(cache) == 1
    cache.put("b", "3", 10)
    cache.reweigh("b", 70)  # grown in place: a (least recently used) goes
    assert list(cache) == ["b"] and cache.bytes == 70
    assert cache.pop("b") == "3" and cache.bytes == 0 and cache.pop("b") is None


def test_a_caller_may_defer_the_trim() -> None:
    cache: LRU[int, int] = LRU(1)
    cache.put(1, 1, trim=False)
    cache.put(2, 2, trim=False)
    assert len(cache) == 2
    cache.trim()
    assert list(cache) == [2]


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError):
        LRU(0)
    with pytest.raises(ValueError):
        LRU(1, 0)


def test_a_longer_agreement_weighs_more() -> None:
    assert agreement_bytes(2000) > 100 * agreement_bytes(10) // 2 > agreement_bytes(10)
