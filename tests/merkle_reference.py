"""RFC 9162 Merkle tree definitions, written as directly as the RFC states them.

Used only by the tests and the vector generator, as an independent oracle for
``ledger.merkle``: it lives under tests/, outside the installed package. Slow on purpose
(recursive, O(n) per call): never used by the ledger itself.

All functions take *leaf hashes* (MTH of a one-element list is its leaf hash).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ledger.merkle import EMPTY_ROOT, hash_children, hash_leaf

__all__ = [
    "ALL_BITS",
    "SOME_HASH",
    "ConsistencyProbe",
    "InclusionProbe",
    "_reference_consistency_proof",
    "_reference_inclusion_path",
    "_reference_root",
    "_rfc9162_verify_consistency",
    "_rfc9162_verify_inclusion",
    "corrupt_consistency_proof",
    "corrupt_inclusion_proof",
    "flip_bit",
]


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 §2.1.1). Requires n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def _reference_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) — RFC 9162 §2.1.1."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return hash_children(_reference_root(leaf_hashes[:k]), _reference_root(leaf_hashes[k:]))


def _reference_inclusion_path(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) — RFC 9162 §2.1.3.1. Requires 0 <= index < n."""
    n = len(leaf_hashes)
    if not 0 <= index < n:
        raise ValueError(f"index {index} out of bounds for tree size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [
            *_reference_inclusion_path(index, leaf_hashes[:k]),
            _reference_root(leaf_hashes[k:]),
        ]
    return [
        *_reference_inclusion_path(index - k, leaf_hashes[k:]),
        _reference_root(leaf_hashes[:k]),
    ]


def _subproof(m: int, leaf_hashes: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) — RFC 9162 §2.1.4.1."""
    n = len(leaf_hashes)
    if m == n:
        return [] if b else [_reference_root(leaf_hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaf_hashes[:k], b), _reference_root(leaf_hashes[k:])]
    return [*_subproof(m - k, leaf_hashes[k:], False), _reference_root(leaf_hashes[:k])]


def _reference_consistency_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) — RFC 9162 §2.1.4.1.

    Requires 0 < m <= n (the RFC defines it for 0 < m < n; m == n gives []).
    """
    n = len(leaf_hashes)
    if not 0 < m <= n:
        raise ValueError(f"need 0 < m <= n, got m={m}, n={n}")
    return _subproof(m, leaf_hashes, True)


def _lsb(x: int) -> int:
    return x & 1


def _rfc9162_verify_inclusion(
    index: int, size: int, leaf_hash: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    """The verification algorithm of RFC 9162 §2.1.3.2, step by step."""
    if index >= size or index < 0:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            r = hash_children(p, r)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def _rfc9162_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: Sequence[bytes]
) -> bool:
    """The verification algorithm of RFC 9162 §2.1.4.2, step by step.

    The RFC states it for 0 < first < second; the other cases are decided as in
    ``ledger.merkle.verify_consistency`` (empty proof, equal roots / empty root).
    """
    if first < 0 or second < first:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path and first_hash == EMPTY_ROOT
    # 1. An empty consistency_path fails.
    if not path:
        return False
    # 2. If first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    # 3.
    fn, sn = first - 1, second - 1
    # 4.
    while _lsb(fn):
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if _lsb(fn) or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not _lsb(fn):
                while not (_lsb(fn) or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == first_hash and sr == second_hash and sn == 0


# --- corruption probes (transparency-dev proof/verify_test.go, extended) --------------

SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
"""An arbitrary 32-byte value that is no hash in any test tree."""

ALL_BITS: tuple[tuple[int, int], ...] = tuple((byte, bit) for byte in range(32) for bit in range(8))
"""Every (byte, bit) position of a 32-byte hash."""


@dataclass(frozen=True)
class InclusionProbe:
    desc: str
    index: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root: bytes


@dataclass(frozen=True)
class ConsistencyProbe:
    desc: str
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]


def flip_bit(proof: Sequence[bytes], element: int, byte: int, bit: int) -> tuple[bytes, ...]:
    """A copy of ``proof`` with one bit of one element flipped."""
    mutated = bytearray(proof[element])
    mutated[byte] ^= 1 << bit
    return (*proof[:element], bytes(mutated), *proof[element + 1 :])


def corrupt_inclusion_proof(
    index: int,
    size: int,
    leaf_hash: bytes,
    proof: Sequence[bytes],
    root: bytes,
    *,
    roots: Mapping[int, bytes],
    leaf_hashes: Sequence[bytes],
    bits: Iterable[tuple[int, int]] = ALL_BITS,
) -> list[InclusionProbe]:
    """Variations of a valid inclusion proof that must all fail to verify.

    No "size + 1" / "size - 1" probe: a proof does not bind the tree size on its own
    (leaf 0's proof in size 3, [h1, h2], also verifies as size 4 against the same
    root, h2 standing in for node [2, 4)); the size is bound by the signed checkpoint.

    ``roots`` maps other tree sizes to their roots (for "root of another size"),
    ``leaf_hashes`` are the tree's leaves (for "another leaf"), ``bits`` the (byte,
    bit) positions to flip in every proof element.
    """
    p = tuple(proof)
    ln = len(p)
    out = [
        # Wrong leaf index.
        InclusionProbe("index - 1", index - 1, size, leaf_hash, p, root),
        InclusionProbe("index + 1", index + 1, size, leaf_hash, p, root),
        InclusionProbe("index ^ 2", index ^ 2, size, leaf_hash, p, root),
        # Wrong tree size.
        InclusionProbe("size * 2", index, size * 2, leaf_hash, p, root),
        InclusionProbe("size / 2", index, size // 2, leaf_hash, p, root),
        # Wrong leaf or root.
        InclusionProbe("wrong leaf (not a hash)", index, size, b"WrongLeaf", p, root),
        InclusionProbe("wrong leaf hash", index, size, hash_leaf(b"WrongLeaf"), p, root),
        InclusionProbe("empty root", index, size, leaf_hash, p, EMPTY_ROOT),
        InclusionProbe("random root", index, size, leaf_hash, p, SOME_HASH),
        InclusionProbe("truncated root", index, size, leaf_hash, p, root[:-1]),
        # Garbage at the end.
        InclusionProbe("trailing garbage", index, size, leaf_hash, (*p, b""), root),
        InclusionProbe("trailing root", index, size, leaf_hash, (*p, root), root),
        # Garbage at the front.
        InclusionProbe("preceding garbage", index, size, leaf_hash, (b"", *p), root),
        InclusionProbe("preceding root", index, size, leaf_hash, (root, *p), root),
    ]
    for other in (size - 1, size + 1):
        if other in roots and other != size:
            out.append(
                InclusionProbe(f"root of size {other}", index, size, leaf_hash, p, roots[other])
            )
    for other in (index - 1, index + 1):
        if 0 <= other < len(leaf_hashes) and leaf_hashes[other] != leaf_hash:
            out.append(
                InclusionProbe(
                    f"leaf hash of index {other}", index, size, leaf_hashes[other], p, root
                )
            )
    if ln > 0:
        out.append(InclusionProbe("removed component", index, size, leaf_hash, p[:-1], root))
        out.append(InclusionProbe("removed first component", index, size, leaf_hash, p[1:], root))
    if ln > 1:
        out.append(
            InclusionProbe(
                "inserted component", index, size, leaf_hash, (p[0], SOME_HASH, *p[1:]), root
            )
        )
        if p[0] != p[1]:
            out.append(
                InclusionProbe(
                    "swapped proof[0] and proof[1]",
                    index,
                    size,
                    leaf_hash,
                    (p[1], p[0], *p[2:]),
                    root,
                )
            )
    positions = tuple(bits)
    for i in range(ln):
        for byte, bit in positions:
            out.append(
                InclusionProbe(
                    f"modified proof[{i}] byte {byte} bit {bit}",
                    index,
                    size,
                    leaf_hash,
                    flip_bit(p, i, byte, bit),
                    root,
                )
            )
    return out


def corrupt_consistency_proof(
    size1: int,
    size2: int,
    root1: bytes,
    root2: bytes,
    proof: Sequence[bytes],
    *,
    roots: Mapping[int, bytes],
    bits: Iterable[tuple[int, int]] = ALL_BITS,
) -> list[ConsistencyProbe]:
    """Variations of a valid, non-trivial consistency proof that must all fail.

    Requires 0 < size1 < size2 and a non-empty proof.
    """
    p = tuple(proof)
    ln = len(p)
    out = [
        # Wrong size1.
        ConsistencyProbe("size1 - 1", size1 - 1, size2, root1, root2, p),
        ConsistencyProbe("size1 + 1", size1 + 1, size2, root1, root2, p),
        ConsistencyProbe("size1 ^ 2", size1 ^ 2, size2, root1, root2, p),
        # Wrong size2.
        ConsistencyProbe("size2 * 2", size1, size2 * 2, root1, root2, p),
        ConsistencyProbe("size2 / 2", size1, size2 // 2, root1, root2, p),
        # Wrong roots.
        ConsistencyProbe("wrong root1 (not a hash)", size1, size2, b"WrongRoot", root2, p),
        ConsistencyProbe("wrong root2 (not a hash)", size1, size2, root1, b"WrongRoot", p),
        ConsistencyProbe("random root1", size1, size2, SOME_HASH, root2, p),
        ConsistencyProbe("random root2", size1, size2, root1, SOME_HASH, p),
        ConsistencyProbe("swapped roots", size1, size2, root2, root1, p),
        ConsistencyProbe("empty root1", size1, size2, EMPTY_ROOT, root2, p),
        # Empty proof.
        ConsistencyProbe("empty proof", size1, size2, root1, root2, ()),
        # Garbage at the end.
        ConsistencyProbe("trailing garbage", size1, size2, root1, root2, (*p, b"")),
        ConsistencyProbe("trailing root1", size1, size2, root1, root2, (*p, root1)),
        ConsistencyProbe("trailing root2", size1, size2, root1, root2, (*p, root2)),
        # Garbage at the front.
        ConsistencyProbe("preceding garbage", size1, size2, root1, root2, (b"", *p)),
        ConsistencyProbe("preceding root1", size1, size2, root1, root2, (root1, *p)),
        ConsistencyProbe("preceding root2", size1, size2, root1, root2, (root2, *p)),
        ConsistencyProbe("preceding proof[0]", size1, size2, root1, root2, (p[0], *p)),
        # Truncated.
        ConsistencyProbe("truncated proof", size1, size2, root1, root2, p[:-1]),
        ConsistencyProbe("removed first component", size1, size2, root1, root2, p[1:]),
    ]
    for other in (size1 - 1, size1 + 1):
        if other in roots and other != size1:
            out.append(
                ConsistencyProbe(f"root1 of size {other}", size1, size2, roots[other], root2, p)
            )
    for other in (size2 - 1, size2 + 1):
        if other in roots and other != size2:
            out.append(
                ConsistencyProbe(f"root2 of size {other}", size1, size2, root1, roots[other], p)
            )
    if ln > 1 and p[0] != p[1]:
        out.append(
            ConsistencyProbe(
                "swapped proof[0] and proof[1]", size1, size2, root1, root2, (p[1], p[0], *p[2:])
            )
        )
    positions = tuple(bits)
    for i in range(ln):
        for byte, bit in positions:
            out.append(
                ConsistencyProbe(
                    f"modified proof[{i}] byte {byte} bit {bit}",
                    size1,
                    size2,
                    root1,
                    root2,
                    flip_bit(p, i, byte, bit),
                )
            )
    return out
