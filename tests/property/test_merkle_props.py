"""Hypothesis properties of ledger.merkle against the RFC 9162 reference definitions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.merkle import (
    CompactRange,
    ProofError,
    consistency_proof,
    frontier_nodes,
    hash_leaf,
    inclusion_proof,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_nodes,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle_reference import (
    _reference_consistency_proof,
    _reference_inclusion_path,
    _reference_root,
    _rfc9162_verify_consistency,
    _rfc9162_verify_inclusion,
    flip_bit,
)

PROPS = settings(max_examples=120, deadline=None)

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=80).map(
    lambda leaves: [hash_leaf(x) for x in leaves]
)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """Leaf hashes, a tree size and a leaf index in it."""
    leaves = draw(leaf_lists)
    size = draw(st.integers(1, len(leaves)))
    index = draw(st.integers(0, size - 1))
    return leaves, size, index


@st.composite
def tree_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int, int]:
    """Leaf hashes and two tree sizes 0 < size1 <= size2."""
    leaves = draw(leaf_lists)
    size2 = draw(st.integers(1, len(leaves)))
    size1 = draw(st.integers(1, size2))
    return leaves, size1, size2


def _stored(leaves: list[bytes]) -> Callable[[int, int], bytes]:
    store = {(n.level, n.index): n.hash for n in CompactRange().extend(leaves)}
    return lambda level, index: store[level, index]


@PROPS
@given(leaf_lists)
def test_compact_range_root_matches_reference(leaves: list[bytes]) -> None:
    cr = CompactRange()
    for i, h in enumerate(leaves):
        cr.append(h)
        assert len(cr.frontier) == len(frontier_nodes(i + 1))
    assert cr.root() == _reference_root(leaves)


@PROPS
@given(leaf_lists, st.data())
def test_restored_compact_range_matches(leaves: list[bytes], data: st.DataObject) -> None:
    split = data.draw(st.integers(0, len(leaves)), label="split")
    get = _stored(leaves)
    frontier = [get(n.level, n.index) for n in frontier_nodes(split)]
    restored = CompactRange(split, frontier)
    reported = restored.extend(leaves[split:])
    whole = CompactRange()
    all_nodes = whole.extend(leaves)
    assert restored.root() == whole.root() == _reference_root(leaves)
    assert restored.frontier == whole.frontier
    # The restored range reports exactly the nodes completed after the split.
    assert set(reported) <= set(all_nodes)
    assert {(n.level, n.index) for n in all_nodes} - {(n.level, n.index) for n in reported} == {
        (n.level, n.index) for n in CompactRange().extend(leaves[:split])
    }


@PROPS
@given(tree_and_index())
def test_inclusion_proof_from_nodes(case: tuple[list[bytes], int, int]) -> None:
    leaves, size, index = case
    get = _stored(leaves)
    root = _reference_root(leaves[:size])
    assert root_from_nodes(size, get) == root
    proof = inclusion_proof(index, size, get)
    assert proof == _reference_inclusion_path(index, leaves[:size])
    verify_inclusion(index, size, leaves[index], proof, root)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == root
    assert _rfc9162_verify_inclusion(index, size, leaves[index], proof, root)


@PROPS
@given(tree_and_sizes())
def test_consistency_proof_from_nodes(case: tuple[list[bytes], int, int]) -> None:
    leaves, size1, size2 = case
    get = _stored(leaves)
    root1, root2 = _reference_root(leaves[:size1]), _reference_root(leaves[:size2])
    proof = consistency_proof(size1, size2, get)
    assert proof == _reference_consistency_proof(size1, leaves[:size2])
    verify_consistency(size1, size2, root1, root2, proof)
    assert root_from_consistency_proof(size1, size2, root1, proof) == root2
    assert _rfc9162_verify_consistency(size1, size2, root1, root2, proof)


@PROPS
@given(tree_and_index(), st.data())
def test_inclusion_bit_flip_fails(case: tuple[list[bytes], int, int], data: st.DataObject) -> None:
    leaves, size, index = case
    proof = _reference_inclusion_path(index, leaves[:size])
    root = _reference_root(leaves[:size])
    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        byte = data.draw(st.integers(0, 31), label="byte")
        bit = data.draw(st.integers(0, 7), label="bit")
        bad = list(flip_bit(proof, element, byte, bit))
        assert not _verifies(lambda: verify_inclusion(index, size, leaves[index], bad, root))
        assert not _rfc9162_verify_inclusion(index, size, leaves[index], bad, root)
    # Flipping a bit of the leaf hash or of the root fails too.
    byte = data.draw(st.integers(0, 31), label="leaf byte")
    bad_leaf = flip_bit([leaves[index]], 0, byte, 0)[0]
    assert not _verifies(lambda: verify_inclusion(index, size, bad_leaf, proof, root))
    bad_root = flip_bit([root], 0, byte, 7)[0]
    assert not _verifies(lambda: verify_inclusion(index, size, leaves[index], proof, bad_root))
    # A proof one element longer or shorter never verifies.
    assert not _verifies(lambda: verify_inclusion(index, size, leaves[index], [*proof, root], root))
    if proof:
        assert not _verifies(lambda: verify_inclusion(index, size, leaves[index], proof[1:], root))


@PROPS
@given(tree_and_sizes(), st.data())
def test_consistency_bit_flip_fails(
    case: tuple[list[bytes], int, int], data: st.DataObject
) -> None:
    leaves, size1, size2 = case
    proof = _reference_consistency_proof(size1, leaves[:size2])
    root1, root2 = _reference_root(leaves[:size1]), _reference_root(leaves[:size2])
    if not proof:
        return
    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    byte = data.draw(st.integers(0, 31), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    bad = list(flip_bit(proof, element, byte, bit))
    assert not _verifies(lambda: verify_consistency(size1, size2, root1, root2, bad))
    assert not _rfc9162_verify_consistency(size1, size2, root1, root2, bad)
    bad_root1 = flip_bit([root1], 0, byte, bit)[0]
    assert not _verifies(lambda: verify_consistency(size1, size2, bad_root1, root2, proof))
    bad_root2 = flip_bit([root2], 0, byte, bit)[0]
    assert not _verifies(lambda: verify_consistency(size1, size2, root1, bad_root2, proof))
    assert not _verifies(lambda: verify_consistency(size1, size2, root1, root2, proof[:-1]))
    assert not _verifies(lambda: verify_consistency(size1, size2, root1, root2, [*proof, root2]))


@PROPS
@given(
    st.integers(0, 40),
    st.integers(0, 40),
    st.binary(min_size=32, max_size=32),
    st.lists(st.binary(min_size=32, max_size=32), max_size=7),
    st.binary(min_size=32, max_size=32),
)
def test_verifiers_agree_with_rfc9162_algorithm(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> None:
    """On arbitrary (mostly invalid) input both verifiers give the same verdict."""
    ours = _verifies(lambda: verify_inclusion(index, size, leaf, proof, root))
    assert ours == _rfc9162_verify_inclusion(index, size, leaf, proof, root)
    size1, size2 = min(index, size), max(index, size)
    ours = _verifies(lambda: verify_consistency(size1, size2, leaf, root, proof))
    assert ours == _rfc9162_verify_consistency(size1, size2, leaf, root, proof)


def _verifies(call: Callable[[], None]) -> bool:
    """True if ``call`` verifies (returns), False if it raises ProofError."""
    try:
        call()
    except ProofError:
        return False
    return True


@PROPS
@given(tree_and_index(), st.integers(-2, 2), st.integers(-2, 2), st.integers(-1, 2))
def test_inclusion_verdicts_agree_on_shifted_parameters(
    case: tuple[list[bytes], int, int], d_index: int, d_size: int, d_len: int
) -> None:
    """Valid proofs with shifted index, size or length: same verdict as RFC 9162.

    Some shifts legitimately verify (a proof does not bind the size by itself); what
    matters is that the two independent algorithms never disagree.
    """
    leaves, size, index = case
    proof = _reference_inclusion_path(index, leaves[:size])
    root = _reference_root(leaves[:size])
    proof = proof[:d_len] if d_len < 0 else proof + [root] * d_len
    i, n = index + d_index, size + d_size
    ours = _verifies(lambda: verify_inclusion(i, n, leaves[index], proof, root))
    assert ours == _rfc9162_verify_inclusion(i, n, leaves[index], proof, root)


@PROPS
@given(tree_and_sizes(), st.integers(-2, 2), st.integers(-2, 2), st.integers(-1, 1))
def test_consistency_verdicts_agree_on_shifted_parameters(
    case: tuple[list[bytes], int, int], d1: int, d2: int, d_len: int
) -> None:
    leaves, size1, size2 = case
    proof = _reference_consistency_proof(size1, leaves[:size2])
    root1, root2 = _reference_root(leaves[:size1]), _reference_root(leaves[:size2])
    proof = proof[:d_len] if d_len < 0 else proof + [root2] * d_len
    s1, s2 = size1 + d1, size2 + d2
    ours = _verifies(lambda: verify_consistency(s1, s2, root1, root2, proof))
    assert ours == _rfc9162_verify_consistency(s1, s2, root1, root2, proof)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 300), st.lists(st.integers(0, 6), max_size=6))
def test_append_subtree_equals_appending_its_leaves(start: int, levels: list[int]) -> None:
    """Aligned subtrees merged by their roots give the same frontier as their leaves."""
    leaves = [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(start + 64 * 6)]
    by_leaf = merkle.CompactRange()
    by_leaf.extend(leaves[:start])
    by_tree = merkle.CompactRange(by_leaf.size, by_leaf.frontier)
    pos = start
    for level in levels:
        n = 1 << level
        if pos % n:
            with pytest.raises(ValueError):
                by_tree.append_subtree(level, leaves[0])
            continue
        chunk = leaves[pos:pos + n]
        by_tree.append_subtree(level, merkle.perfect_root(chunk))
        by_leaf.extend(chunk)
        pos += n
        assert by_tree.size == by_leaf.size
        assert by_tree.frontier == by_leaf.frontier
        assert by_tree.root() == by_leaf.root()


def test_perfect_root_is_the_rfc_root_of_its_leaves() -> None:
    for n in (1, 2, 4, 8, 64):
        leaves = [merkle.hash_leaf(bytes([i])) for i in range(n)]
        tree = merkle.CompactRange()
        tree.extend(leaves)
        assert merkle.perfect_root(leaves) == tree.root()
    for n in (0, 3, 6):
        with pytest.raises(ValueError):
            merkle.perfect_root([b"\0" * 32] * n)
