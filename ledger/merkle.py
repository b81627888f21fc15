"""RFC 9162 (Certificate Transparency v2) Merkle tree over the global log.

Pure functions only: no I/O, no database. The byte formats are specified in
``docs/PROTOCOL.md (Part II)``; this module is the reference implementation of that text.

Hashing (RFC 9162 §2.1.1)::

    hash_leaf(d)        = SHA-256(0x00 || d)
    hash_children(l, r) = SHA-256(0x01 || l || r)
    MTH({})             = SHA-256("")                       (EMPTY_ROOT)
    MTH(D[n])           = hash_children(MTH(D[0:k]), MTH(D[k:n]))
                          k = largest power of two < n      (n > 1)

The right edge of an unbalanced tree is promoted, never duplicated.

Storage addressing. The ledger stores the hash of every *complete aligned subtree*
as a node ``(level, index)``: level 0 holds the leaf hashes, and node ``(L, i)``
covers leaves ``[i * 2**L, (i + 1) * 2**L)``. Every node of the RFC tree of any
size is either such a complete subtree, or a node on the right border whose hash is
the right-to-left fold (``hash_children``) of the complete subtrees that tile its
range, largest first. So any root or proof can be built from stored nodes:

* :func:`frontier_nodes` / :func:`root_from_nodes` for roots;
* :func:`inclusion_proof_nodes` / :func:`consistency_proof_nodes` name what a proof
  needs, :func:`spec_node_ids` flattens that into one list to fetch in one query,
  and :func:`build_proof` (or :func:`inclusion_proof` / :func:`consistency_proof`)
  assembles the proof from the fetched hashes;
* :class:`CompactRange` appends leaves keeping only the right frontier and reports
  every node that becomes complete, so the writer can insert it.

The verifiers follow github.com/transparency-dev/merkle (``proof/verify.go``,
Apache-2.0): same algorithm, same helper names (``_decomp_incl_proof``,
``_inner_proof_size``, ``_chain_inner``, ``_chain_inner_right``,
``_chain_border_right``), same preconditions and "got, want" messages. Two
deliberate differences, both stricter: every hash (leaf, proof element, root) must be
32 bytes, and a consistency check from size 0 requires ``root1 == EMPTY_ROOT``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "GetNode",
    "Node",
    "NodeID",
    "NodeSpec",
    "ProofError",
    "RootMismatchError",
    "build_proof",
    "consistency_proof",
    "consistency_proof_nodes",
    "frontier_nodes",
    "hash_children",
    "hash_leaf",
    "inclusion_proof",
    "inclusion_proof_nodes",
    "perfect_root",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "root_from_nodes",
    "spec_node_ids",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def hash_leaf(leaf: bytes) -> bytes:
    """Leaf hash: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(_LEAF_PREFIX + leaf).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """Interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string."""


# --- errors ------------------------------------------------------------------------


class ProofError(Exception):
    """A Merkle proof is malformed or does not verify."""


class RootMismatchError(ProofError):
    """A proof is well-formed but leads to another root than the expected one.

    ``expected`` is the root the caller trusts, ``calculated`` the root the proof
    leads to.
    """

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        self.expected = expected
        self.calculated = calculated
        super().__init__(
            f"calculated root {calculated.hex()} does not match expected root {expected.hex()}"
        )


# --- node addressing ---------------------------------------------------------------


@dataclass(frozen=True, order=True, slots=True)
class NodeID:
    """A stored complete subtree: covers leaves [index * 2**level, (index + 1) * 2**level)."""

    level: int
    index: int


@dataclass(frozen=True, slots=True)
class Node:
    """A complete subtree with its hash, as reported by :meth:`CompactRange.append`."""

    level: int
    index: int
    hash: bytes


NodeSpec: TypeAlias = tuple[NodeID, ...]
"""How to obtain one proof element from stored nodes.

A non-empty tuple of complete subtrees, left to right (so by decreasing level), that
tile the element's leaf range. A one-node spec is that node's hash; a longer spec is
folded right to left: ``hash_children(h0, hash_children(h1, ... hash_children(hk-1, hk)))``.
"""

GetNode: TypeAlias = Callable[[int, int], bytes]
"""``get_node(level, index)`` returns the stored hash of a complete subtree."""


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def _decompose(begin: int, end: int) -> list[NodeID]:
    """Complete subtrees tiling [begin, end), largest first.

    Requires ``begin`` to be a multiple of the smallest power of two that is
    >= ``end - begin`` (true for 0 and for the start of any right-border node), so the
    tiling is the binary decomposition of ``end - begin``.
    """
    width = end - begin
    nodes: list[NodeID] = []
    pos = begin
    for level in range(width.bit_length() - 1, -1, -1):
        if (width >> level) & 1:
            nodes.append(NodeID(level, pos >> level))
            pos += 1 << level
    return nodes


def frontier_nodes(size: int) -> list[NodeID]:
    """The complete subtrees of the binary decomposition of ``size``, largest first.

    These are the right frontier a :class:`CompactRange` of that size keeps, and the
    nodes :func:`root_from_nodes` folds into the root. Empty for size 0.
    Requires 0 <= size.
    """
    _check_count("size", size)
    return _decompose(0, size)


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Fold subtree hashes right to left with hash_children. Requires a non-empty list."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


def _fetch(get_node: GetNode, node: NodeID) -> bytes:
    h = get_node(node.level, node.index)
    if len(h) != HASH_SIZE:
        raise ValueError(
            f"node ({node.level}, {node.index}) has unexpected size {len(h)}, want {HASH_SIZE}"
        )
    return h


def root_from_nodes(size: int, get_node: GetNode) -> bytes:
    """Root hash of the first ``size`` leaves, from stored complete subtrees only.

    Calls ``get_node`` for each node of :func:`frontier_nodes(size) <frontier_nodes>`
    (at most log2(size) + 1 calls). Returns EMPTY_ROOT for size 0. Requires 0 <= size.
    """
    nodes = frontier_nodes(size)
    if not nodes:
        return EMPTY_ROOT
    return _fold([_fetch(get_node, n) for n in nodes])


def _path_specs(index: int, size: int, level: int) -> list[NodeSpec]:
    """Siblings on the path from node (level, index >> level) to the root of ``size``.

    Ordered from the lowest level up, as RFC 9162 orders inclusion paths. A sibling
    lying wholly beyond ``size`` does not exist (its neighbour is promoted) and is
    skipped; a sibling cut by ``size`` is a right-border node, given as the tiling of
    [start, size). Requires 0 <= index < size.
    """
    specs: list[NodeSpec] = []
    for lvl in range(level, (size - 1).bit_length()):
        sibling = (index >> lvl) ^ 1
        start = sibling << lvl
        if start >= size:
            continue
        if start + (1 << lvl) <= size:
            specs.append((NodeID(lvl, sibling),))
        else:
            specs.append(tuple(_decompose(start, size)))
    return specs


def inclusion_proof_nodes(index: int, size: int) -> list[NodeSpec]:
    """What the RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in ``size`` needs.

    One :data:`NodeSpec` per proof element, leaf level first. O(log size).
    Requires 0 <= index < size.
    """
    _check_count("index", index)
    _check_count("size", size)
    if index >= size:
        raise ValueError(f"index {index} out of bounds for tree size {size}")
    return _path_specs(index, size, 0)


def consistency_proof_nodes(size1: int, size2: int) -> list[NodeSpec]:
    """What the RFC 9162 §2.1.4.1 consistency proof from ``size1`` to ``size2`` needs.

    Empty when size1 == size2. Otherwise the proof is: the complete subtree
    (shift, (size1 - 1) >> shift), where shift is the number of trailing zero bits of
    size1, unless size1 is a power of two (the verifier then uses root1 itself);
    followed by the path of that subtree up to the root of size2. O(log size2).
    Requires 0 < size1 <= size2 (a proof from the empty tree is meaningless).
    """
    _check_count("size1", size1)
    _check_count("size2", size2)
    if size1 > size2:
        raise ValueError(f"tree size {size1} > {size2}")
    if size1 == 0:
        raise ValueError("consistency proof from empty tree is meaningless")
    if size1 == size2:
        return []
    shift = _trailing_zeros(size1)
    specs: list[NodeSpec] = []
    if size1 != 1 << shift:
        specs.append((NodeID(shift, (size1 - 1) >> shift),))
    specs.extend(_path_specs(size1 - 1, size2, shift))
    return specs


def spec_node_ids(specs: Iterable[NodeSpec]) -> list[NodeID]:
    """Every stored node the specs mention, once each, in first-use order.

    Fetch these in one query, then pass a lookup over the result to
    :func:`build_proof`.
    """
    seen: dict[NodeID, None] = {}
    for spec in specs:
        for node in spec:
            seen.setdefault(node, None)
    return list(seen)


def build_proof(specs: Iterable[NodeSpec], get_node: GetNode) -> list[bytes]:
    """Assemble proof hashes: each spec's stored hashes folded right to left."""
    proof: list[bytes] = []
    for spec in specs:
        if not spec:
            raise ValueError("empty node spec")
        proof.append(_fold([_fetch(get_node, n) for n in spec]))
    return proof


def inclusion_proof(index: int, size: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size``.

    Requires 0 <= index < size.
    """
    return build_proof(inclusion_proof_nodes(index, size), get_node)


def consistency_proof(size1: int, size2: int, get_node: GetNode) -> list[bytes]:
    """RFC 9162 consistency proof between tree sizes ``size1`` and ``size2``.

    Requires 0 < size1 <= size2.
    """
    return build_proof(consistency_proof_nodes(size1, size2), get_node)


def perfect_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect tree over ``2**k`` leaf hashes (k >= 0), level by level.

    The root of any aligned subtree of the log; see :meth:`CompactRange.append_subtree`.
    """
    n = len(leaf_hashes)
    if n == 0 or n & (n - 1):
        raise ValueError(f"{n} leaves is not a power of two")
    level = list(leaf_hashes)
    while len(level) > 1:
        level = [hash_children(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


# --- compact range -----------------------------------------------------------------


class CompactRange:
    """The right frontier of a growing tree: appends leaves in O(log n) space.

    Holds the hashes of :func:`frontier_nodes(size) <frontier_nodes>`, largest first.
    :meth:`append` reports every node that becomes complete, the leaf itself (level
    0) included, so the caller can store it. A server restores the range after a
    restart with ``CompactRange(size, [stored hash of n for n in frontier_nodes(size)])``.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self, size: int = 0, frontier: Sequence[bytes] = ()) -> None:
        """Requires len(frontier) == len(frontier_nodes(size)), hashes of 32 bytes."""
        _check_count("size", size)
        want = size.bit_count()
        if len(frontier) != want:
            raise ValueError(f"wrong frontier size {len(frontier)}, want {want}")
        for i, h in enumerate(frontier):
            if len(h) != HASH_SIZE:
                raise ValueError(f"frontier[{i}] has unexpected size {len(h)}, want {HASH_SIZE}")
        self._size = size
        self._frontier = [bytes(h) for h in frontier]

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        """Hashes of :func:`frontier_nodes(self.size) <frontier_nodes>`, in that order."""
        return tuple(self._frontier)

    def append(self, leaf_hash: bytes) -> list[Node]:
        """Append one leaf hash; return the newly completed nodes, lowest level first.

        The first returned node is the leaf itself, ``(0, old size, leaf_hash)``.
        Requires len(leaf_hash) == 32.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf_hash has unexpected size {len(leaf_hash)}, want {HASH_SIZE}")
        level, index, h = 0, self._size, bytes(leaf_hash)
        completed = [Node(level, index, h)]
        # Each trailing one bit of the old size is a frontier subtree of that level
        # that the new node completes.
        rest = self._size
        while rest & 1:
            h = hash_children(self._frontier.pop(), h)
            level, index, rest = level + 1, index >> 1, rest >> 1
            completed.append(Node(level, index, h))
        self._frontier.append(h)
        self._size += 1
        return completed

    def append_subtree(self, level: int, root: bytes) -> None:
        """Append a complete subtree of ``2**level`` leaves given by its root hash.

        Requires ``size`` to be a multiple of ``2**level`` (the subtree is aligned, as
        RFC 9162's tree places it). Equivalent to appending its leaves one by one,
        without returning the completed nodes: an auditor that hashed a chunk of
        leaves elsewhere merges it here in O(log n).
        """
        if level < 0 or self._size & ((1 << level) - 1):
            raise ValueError(f"size {self._size} is not a multiple of 2**{level}")
        if len(root) != HASH_SIZE:
            raise ValueError(f"root has unexpected size {len(root)}, want {HASH_SIZE}")
        h = bytes(root)
        rest = self._size >> level
        while rest & 1:
            h = hash_children(self._frontier.pop(), h)
            rest >>= 1
        self._frontier.append(h)
        self._size += 1 << level

    def extend(self, leaf_hashes: Iterable[bytes]) -> list[Node]:
        """Append several leaf hashes; return all newly completed nodes in order."""
        completed: list[Node] = []
        for leaf_hash in leaf_hashes:
            completed.extend(self.append(leaf_hash))
        return completed

    def root(self) -> bytes:
        """Root hash of the tree of the current size (EMPTY_ROOT when empty)."""
        if not self._frontier:
            return EMPTY_ROOT
        return _fold(self._frontier)

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# --- verification ------------------------------------------------------------------


def _verify_match(calculated: bytes, expected: bytes) -> None:
    if calculated != expected:
        raise RootMismatchError(expected=expected, calculated=calculated)


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} has unexpected size {len(value)}, want {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof[{i}]", h)


def _check_verifier_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def _trailing_zeros(value: int) -> int:
    """Number of trailing zero bits of a positive integer."""
    return (value & -value).bit_length() - 1


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check the inclusion proof of leaf ``index`` in the tree of ``size`` and ``root``.

    Raises :class:`RootMismatchError` if the proof leads to another root, and
    :class:`ProofError` if it is malformed. Requires 0 <= index < size.
    """
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    _verify_match(calculated, root)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root a tree of ``size`` must have for the proof of leaf ``index`` to hold.

    Raises :class:`ProofError` if the proof is malformed (wrong length, hash sizes).
    Requires 0 <= index < size.
    """
    _check_verifier_count("index", index)
    _check_verifier_count("size", size)
    if index >= size:
        raise ProofError(f"index is beyond size: {index} >= {size}")
    _check_hash("leaf_hash", leaf_hash)

    inner, border = _decomp_incl_proof(index, size)
    if len(proof) != inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {inner + border}")
    _check_proof_hashes(proof)

    res = _chain_inner(leaf_hash, proof[:inner], index)
    return _chain_border_right(res, proof[inner:])


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``size2``/``root2`` extends the tree of ``size1``/``root1``.

    Sizes 0 and equal sizes need an empty proof (and, for size 0, ``root1`` must be
    EMPTY_ROOT; for equal sizes the roots must be equal). Raises
    :class:`RootMismatchError` if a root does not match, :class:`ProofError` if the
    proof is malformed. Requires 0 <= size1 <= size2.
    """
    _check_verifier_count("size1", size1)
    _check_verifier_count("size2", size2)
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    if size1 == size2:
        if proof:
            raise ProofError("size1=size2, but proof is not empty")
        _check_hash("root1", root1)
        _check_hash("root2", root2)
        _verify_match(root1, root2)
        return
    if size1 == 0:
        # Any size greater than 0 is consistent with size 0.
        if proof:
            raise ProofError(f"expected empty proof, but got {len(proof)} components")
        _check_hash("root2", root2)
        _verify_match(root1, EMPTY_ROOT)
        return
    calculated = root_from_consistency_proof(size1, size2, root1, proof)
    _verify_match(calculated, root2)


def root_from_consistency_proof(
    size1: int, size2: int, root1: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root of ``size2`` that the proof leads to, after checking it against ``root1``.

    Raises :class:`RootMismatchError` if the proof does not lead back to ``root1``,
    :class:`ProofError` if it is malformed. Returns ``root1`` when size1 == size2 (the
    proof must then be empty). Requires 0 < size1 <= size2: no root of size2 can be
    computed from the empty tree.
    """
    _check_verifier_count("size1", size1)
    _check_verifier_count("size2", size2)
    if size2 < size1:
        raise ProofError(f"size2 ({size2}) < size1 ({size1})")
    _check_hash("root1", root1)
    if size1 == size2:
        if proof:
            raise ProofError("size1=size2, but proof is not empty")
        return root1
    if size1 == 0:
        raise ProofError("consistency proof from empty tree is meaningless")
    if not proof:
        raise ProofError("empty proof")

    inner, border = _decomp_incl_proof(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    inner -= shift  # shift < inner, because size1 < size2.

    # The proof starts with the hash of the subtree of size 2**shift that ends at
    # size1, unless size1 is that very power of two: then it is root1.
    seed, start = proof[0], 1
    if size1 == 1 << shift:
        seed, start = root1, 0
    if len(proof) != start + inner + border:
        raise ProofError(f"wrong proof size {len(proof)}, want {start + inner + border}")
    _check_proof_hashes(proof)
    rest = proof[start:]
    # Now len(rest) == inner + border, and rest is the upper part (from level shift)
    # of the inclusion proof of leaf size1 - 1 in the tree of size2.

    # Rebuild the first root: use only the hashes to the left of the path.
    mask = (size1 - 1) >> shift  # Index of the seed on level shift.
    hash1 = _chain_inner_right(seed, rest[:inner], mask)
    hash1 = _chain_border_right(hash1, rest[inner:])
    _verify_match(hash1, root1)

    # Rebuild the second root: use all of them.
    hash2 = _chain_inner(seed, rest[:inner], mask)
    return _chain_border_right(hash2, rest[inner:])


def _decomp_incl_proof(index: int, size: int) -> tuple[int, int]:
    """Split the inclusion proof of leaf ``index`` in ``size`` into two parts.

    The split is where the paths to leaves ``index`` and ``size - 1`` diverge.
    Returns (inner, border): the lengths of the lower part (siblings below the
    divergence, left or right of the path) and of the upper part (left siblings of
    the right border). Their sum is the proof length. Requires 0 <= index < size.
    """
    inner = _inner_proof_size(index, size)
    border = (index >> inner).bit_count()
    return inner, border


def _inner_proof_size(index: int, size: int) -> int:
    """Height of the lowest common ancestor of leaves ``index`` and ``size - 1``."""
    return (index ^ (size - 1)).bit_length()


def _chain_inner(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Hash up from ``seed`` through a subtree on or below the tree's right border.

    ``proof`` is ordered from lower levels to upper ones; ``seed`` is the hash on the
    path at position ``index`` of its level. Bit i of ``index`` says on which side the
    i-th proof hash goes.
    """
    for i, h in enumerate(proof):
        seed = hash_children(seed, h) if (index >> i) & 1 == 0 else hash_children(h, seed)
    return seed


def _chain_inner_right(seed: bytes, proof: Sequence[bytes], index: int) -> bytes:
    """Like :func:`_chain_inner`, but only with the hashes left of the path.

    The result is the hash of the earlier version of the same subtree, before the
    leaves to the right of the path were appended.
    """
    for i, h in enumerate(proof):
        if (index >> i) & 1 == 1:
            seed = hash_children(h, seed)
    return seed


def _chain_border_right(seed: bytes, proof: Sequence[bytes]) -> bytes:
    """Hash up along the right border: every ``proof`` hash is a left sibling."""
    for h in proof:
        seed = hash_children(h, seed)
    return seed
