"""Unit tests of ledger.merkle: vectors, reference comparisons, probes, preconditions."""

from __future__ import annotations

import bisect
import importlib.util
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Node,
    NodeID,
    ProofError,
    RootMismatchError,
    consistency_proof,
    consistency_proof_nodes,
    frontier_nodes,
    hash_children,
    hash_leaf,
    inclusion_proof,
    inclusion_proof_nodes,
    root_from_consistency_proof,
    root_from_inclusion_proof,
    root_from_nodes,
    spec_node_ids,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle_reference import (
    ALL_BITS,
    _reference_consistency_proof,
    _reference_inclusion_path,
    _reference_root,
    _rfc9162_verify_consistency,
    _rfc9162_verify_inclusion,
    corrupt_consistency_proof,
    corrupt_inclusion_proof,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "merkle"

RFC6962_LEAVES = [
    bytes.fromhex(x)
    for x in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
LH = [hash_leaf(x) for x in RFC6962_LEAVES]


def _h(text: str) -> bytes:
    return bytes.fromhex(text)


def _store(leaf_hashes: Sequence[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree of the tree, as the ledger stores them."""
    cr = CompactRange()
    return {(n.level, n.index): n.hash for n in cr.extend(leaf_hashes)}


def _getter(store: dict[tuple[int, int], bytes]) -> Callable[[int, int], bytes]:
    return lambda level, index: store[level, index]


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def _leaf_hashes_of_tree(tree_file: str) -> list[bytes]:
    return [_h(x) for x in _load(tree_file)["leafHashes"]]


# --- hashing -----------------------------------------------------------------------


def test_hash_functions() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hash_leaf(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )
    assert hash_children(LH[0], LH[1]).hex() == (
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
    )
    # Domain separation: a leaf over (left || right) is not the node hash.
    assert hash_leaf(LH[0] + LH[1]) != hash_children(LH[0], LH[1])


@pytest.mark.parametrize("tree_file", ["tree_rfc6962.json", "tree_37.json"])
def test_published_roots(tree_file: str) -> None:
    tree = _load(tree_file)
    leaves = [_h(x) for x in tree["leaves"]]
    lh = [hash_leaf(x) for x in leaves]
    assert [x.hex() for x in lh] == tree["leafHashes"]
    store = _store(lh)
    cr = CompactRange()
    for entry in tree["roots"]:
        size, want = entry["size"], entry["root"]
        while cr.size < size:
            cr.append(lh[cr.size])
        assert cr.root().hex() == want, f"CompactRange root of size {size}"
        assert root_from_nodes(size, _getter(store)).hex() == want, f"stored root of size {size}"
        assert _reference_root(lh[:size]).hex() == want, f"reference root of size {size}"


def test_pinned_rfc6962_roots() -> None:
    tree = _load("tree_rfc6962.json")
    roots = {e["size"]: e["root"] for e in tree["roots"]}
    assert roots[0] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert roots[1] == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert roots[8] == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


# --- vector files ------------------------------------------------------------------


def _run_case(case: dict[str, Any]) -> str | None:
    """Verify one vector case; return a description of the failure, or None."""
    proof = [_h(x) for x in case["proof"]]
    try:
        if "index" in case:
            verify_inclusion(
                case["index"], case["size"], _h(case["leafHash"]), proof, _h(case["root"])
            )
        else:
            verify_consistency(
                case["size1"], case["size2"], _h(case["root1"]), _h(case["root2"]), proof
            )
    except ProofError as exc:
        return None if case["wantErr"] else f"{case['desc']}: unexpected error: {exc}"
    return f"{case['desc']}: verified, want error" if case["wantErr"] else None


def test_vector_folder() -> None:
    """Every case of every proof vector file; all failures reported together."""
    failures: list[str] = []
    total = 0
    files = sorted(VECTORS.glob("*.json"))
    assert len(files) >= 6
    for path in files:
        content = json.loads(path.read_text(encoding="utf-8"))
        for case in content.get("cases", []):
            total += 1
            failure = _run_case(case)
            if failure is not None:
                failures.append(f"{path.name}: {failure}")
    assert total > 1000
    assert not failures, f"{len(failures)} out of {total} failures:\n" + "\n".join(failures[:50])


@pytest.mark.parametrize(
    "name",
    ["inclusion_rfc6962.json", "consistency_rfc6962.json", "proofs_tree_37.json"],
)
def test_proofs_from_stored_nodes_match_vectors(name: str) -> None:
    content = _load(name)
    get = _getter(_store(_leaf_hashes_of_tree(content["tree"])))
    checked = 0
    for case in content["cases"]:
        if "index" in case:
            got = inclusion_proof(case["index"], case["size"], get)
        elif case["size1"] > 0:
            got = consistency_proof(case["size1"], case["size2"], get)
        else:
            continue
        assert [h.hex() for h in got] == case["proof"], case["desc"]
        checked += 1
    assert checked >= 16


def test_published_transparency_dev_proofs_are_pinned() -> None:
    incl = {(c["index"], c["size"]): c for c in _load("inclusion_rfc6962.json")["cases"]}
    assert incl[5, 8]["proof"] == [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    cons = {(c["size1"], c["size2"]): c for c in _load("consistency_rfc6962.json")["cases"]}
    assert cons[6, 7]["proof"] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert sum("source" in c for c in incl.values()) == 5
    assert sum("source" in c for c in cons.values()) == 5


def test_vector_files_are_fresh() -> None:
    """The generator reproduces the committed files byte for byte."""
    spec = importlib.util.spec_from_file_location(
        "merkle_vectors_generate", VECTORS / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale = [
        name
        for name, content in module.build().items()
        if (VECTORS / name).read_text(encoding="utf-8") != module.render(content)
    ]
    assert not stale, f"regenerate with tests/vectors/merkle/generate.py: {stale}"


# --- against the RFC definitions ---------------------------------------------------

BIG = [hash_leaf(i.to_bytes(4, "big")) for i in range(70)]
BIG_STORE = _store(BIG)


def test_inclusion_proofs_match_reference_exhaustively() -> None:
    get = _getter(BIG_STORE)
    for size in range(1, 45):
        root = _reference_root(BIG[:size])
        assert root_from_nodes(size, get) == root
        for index in range(size):
            proof = inclusion_proof(index, size, get)
            assert proof == _reference_inclusion_path(index, BIG[:size]), (index, size)
            assert root_from_inclusion_proof(index, size, BIG[index], proof) == root
            assert _rfc9162_verify_inclusion(index, size, BIG[index], proof, root)


def test_consistency_proofs_match_reference_exhaustively() -> None:
    get = _getter(BIG_STORE)
    roots = [_reference_root(BIG[:n]) for n in range(36)]
    for size2 in range(1, 36):
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, get)
            assert proof == _reference_consistency_proof(size1, BIG[:size2]), (size1, size2)
            verify_consistency(size1, size2, roots[size1], roots[size2], proof)
            assert root_from_consistency_proof(size1, size2, roots[size1], proof) == roots[size2]
            assert _rfc9162_verify_consistency(size1, size2, roots[size1], roots[size2], proof)


# --- corruption probes, in memory --------------------------------------------------


def test_inclusion_corruption_probes_all_bits() -> None:
    roots = {n: _reference_root(LH[:n]) for n in range(len(LH) + 1)}
    failures: list[str] = []
    total = 0
    for size in range(1, len(LH) + 1):
        for index in range(size):
            proof = _reference_inclusion_path(index, LH[:size])
            verify_inclusion(index, size, LH[index], proof, roots[size])
            for p in corrupt_inclusion_proof(
                index, size, LH[index], proof, roots[size], roots=roots, leaf_hashes=LH
            ):
                total += 1
                try:
                    verify_inclusion(p.index, p.size, p.leaf_hash, p.proof, p.root)
                except ProofError:
                    continue
                failures.append(f"leaf {index} of size {size}: {p.desc}")
    assert total > 20_000
    assert not failures, f"{len(failures)} out of {total} failures:\n" + "\n".join(failures[:50])


def test_consistency_corruption_probes_all_bits() -> None:
    roots = {n: _reference_root(LH[:n]) for n in range(len(LH) + 1)}
    failures: list[str] = []
    total = 0
    for size2 in range(2, len(LH) + 1):
        for size1 in range(1, size2):
            proof = _reference_consistency_proof(size1, LH[:size2])
            for p in corrupt_consistency_proof(
                size1, size2, roots[size1], roots[size2], proof, roots=roots, bits=ALL_BITS
            ):
                total += 1
                try:
                    verify_consistency(p.size1, p.size2, p.root1, p.root2, p.proof)
                except ProofError:
                    continue
                failures.append(f"size {size1} to size {size2}: {p.desc}")
    assert total > 15_000
    assert not failures, f"{len(failures)} out of {total} failures:\n" + "\n".join(failures[:50])


def test_size_is_bound_by_the_checkpoint_not_the_proof() -> None:
    """Why there is no "size + 1" probe: the size-3 proof of leaf 0 also fits size 4."""
    proof = _reference_inclusion_path(0, LH[:3])
    root3 = _reference_root(LH[:3])
    verify_inclusion(0, 3, LH[0], proof, root3)
    verify_inclusion(0, 4, LH[0], proof, root3)  # LH[2] stands in for node [2, 4).
    assert _rfc9162_verify_inclusion(0, 4, LH[0], proof, root3)


# --- preconditions and messages ----------------------------------------------------


def test_inclusion_preconditions() -> None:
    root = _reference_root(LH[:8])
    proof = _reference_inclusion_path(5, LH[:8])
    with pytest.raises(ProofError, match=r"index is beyond size: 8 >= 8"):
        verify_inclusion(8, 8, LH[5], proof, root)
    with pytest.raises(ProofError, match=r"index is beyond size: 0 >= 0"):
        root_from_inclusion_proof(0, 0, LH[0], [])
    with pytest.raises(ProofError, match=r"index must be a non-negative integer"):
        verify_inclusion(-1, 8, LH[5], proof, root)
    with pytest.raises(ProofError, match=r"wrong proof size 2, want 3"):
        verify_inclusion(5, 8, LH[5], proof[:2], root)
    with pytest.raises(ProofError, match=r"wrong proof size 4, want 3"):
        verify_inclusion(5, 8, LH[5], [*proof, root], root)
    with pytest.raises(ProofError, match=r"leaf_hash has unexpected size 31, want 32"):
        verify_inclusion(5, 8, LH[5][:31], proof, root)
    with pytest.raises(ProofError, match=r"proof\[1\] has unexpected size 33, want 32"):
        verify_inclusion(5, 8, LH[5], [proof[0], proof[1] + b"x", proof[2]], root)
    with pytest.raises(RootMismatchError) as info:
        verify_inclusion(5, 8, LH[5], proof, EMPTY_ROOT)
    assert info.value.expected == EMPTY_ROOT
    assert info.value.calculated == root
    assert isinstance(info.value, ProofError)


def test_consistency_preconditions() -> None:
    r = {n: _reference_root(LH[:n]) for n in range(9)}
    proof = _reference_consistency_proof(6, LH[:8])
    with pytest.raises(ProofError, match=r"size2 \(6\) < size1 \(8\)"):
        verify_consistency(8, 6, r[8], r[6], proof)
    with pytest.raises(ProofError, match=r"size1=size2, but proof is not empty"):
        verify_consistency(8, 8, r[8], r[8], proof)
    with pytest.raises(ProofError, match=r"expected empty proof, but got 3 components"):
        verify_consistency(0, 8, EMPTY_ROOT, r[8], proof)
    with pytest.raises(ProofError, match=r"consistency proof from empty tree is meaningless"):
        root_from_consistency_proof(0, 8, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match=r"empty proof"):
        verify_consistency(6, 8, r[6], r[8], [])
    with pytest.raises(ProofError, match=r"wrong proof size 2, want 3"):
        verify_consistency(6, 8, r[6], r[8], proof[:2])
    with pytest.raises(ProofError, match=r"wrong proof size 4, want 3"):
        verify_consistency(6, 8, r[6], r[8], [*proof, r[8]])
    with pytest.raises(ProofError, match=r"root1 has unexpected size 3, want 32"):
        verify_consistency(6, 8, b"abc", r[8], proof)
    with pytest.raises(RootMismatchError):
        verify_consistency(6, 8, r[5], r[8], proof)  # root1 check fails first
    with pytest.raises(RootMismatchError) as info:
        verify_consistency(6, 8, r[6], r[7], proof)
    assert info.value.calculated == r[8] and info.value.expected == r[7]
    # Trivial cases.
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r[5], [])
    verify_consistency(5, 5, r[5], r[5], [])
    assert root_from_consistency_proof(5, 5, r[5], []) == r[5]
    with pytest.raises(RootMismatchError):
        verify_consistency(0, 5, r[1], r[5], [])  # stricter than transparency-dev
    with pytest.raises(RootMismatchError):
        verify_consistency(5, 5, r[5], r[6], [])


def test_builder_preconditions() -> None:
    with pytest.raises(ValueError, match="index 5 out of bounds for tree size 5"):
        inclusion_proof_nodes(5, 5)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof_nodes(-1, 5)
    with pytest.raises(ValueError, match="tree size 6 > 5"):
        consistency_proof_nodes(6, 5)
    with pytest.raises(ValueError, match="meaningless"):
        consistency_proof_nodes(0, 5)
    assert consistency_proof_nodes(5, 5) == []
    with pytest.raises(ValueError, match="non-negative"):
        frontier_nodes(-1)
    with pytest.raises(ValueError, match=r"node \(0, 1\) has unexpected size 3, want 32"):
        inclusion_proof(0, 2, lambda level, index: b"abc")


# --- node addressing ---------------------------------------------------------------


def N(level: int, index: int) -> NodeID:
    return NodeID(level, index)


def test_frontier_nodes() -> None:
    assert frontier_nodes(0) == []
    assert frontier_nodes(1) == [N(0, 0)]
    assert frontier_nodes(6) == [N(2, 0), N(1, 2)]
    assert frontier_nodes(7) == [N(2, 0), N(1, 2), N(0, 6)]
    assert frontier_nodes(8) == [N(3, 0)]
    # 1,000,000 = 2**19 + 2**18 + 2**17 + 2**16 + 2**14 + 2**9 + 2**6
    assert frontier_nodes(1_000_000) == [
        N(19, 0),
        N(18, 2),
        N(17, 6),
        N(16, 14),
        N(14, 60),
        N(9, 1952),
        N(6, 15624),
    ]


def test_proof_node_specs() -> None:
    assert inclusion_proof_nodes(0, 1) == []
    assert inclusion_proof_nodes(0, 8) == [(N(0, 1),), (N(1, 1),), (N(2, 1),)]
    assert inclusion_proof_nodes(5, 8) == [(N(0, 4),), (N(1, 3),), (N(2, 0),)]
    # Leaf 0 of 7: the last element is the right-border node [4, 7) = fold of (1,2), (0,6).
    assert inclusion_proof_nodes(0, 7) == [(N(0, 1),), (N(1, 1),), (N(1, 2), N(0, 6))]
    # Leaf 6 of 7 is promoted twice: its path has only the left subtrees.
    assert inclusion_proof_nodes(6, 7) == [(N(1, 2),), (N(2, 0),)]
    assert consistency_proof_nodes(6, 8) == [(N(1, 2),), (N(1, 3),), (N(2, 0),)]
    assert consistency_proof_nodes(4, 8) == [(N(2, 1),)]
    assert consistency_proof_nodes(1, 8) == [(N(0, 1),), (N(1, 1),), (N(2, 1),)]
    assert consistency_proof_nodes(3, 7) == [
        (N(0, 2),),
        (N(0, 3),),
        (N(1, 0),),
        (N(1, 2), N(0, 6)),
    ]
    specs = [*inclusion_proof_nodes(0, 7), *consistency_proof_nodes(3, 7)]
    assert spec_node_ids(specs) == [
        N(0, 1),
        N(1, 1),
        N(1, 2),
        N(0, 6),
        N(0, 2),
        N(0, 3),
        N(1, 0),
    ]


def test_build_proof_from_one_fetch() -> None:
    """The intended use: name the nodes, fetch them at once, assemble."""
    store = _store(BIG[:21])
    specs = inclusion_proof_nodes(3, 21)
    fetched = {(n.level, n.index): store[n.level, n.index] for n in spec_node_ids(specs)}
    proof = merkle.build_proof(specs, _getter(fetched))
    assert proof == _reference_inclusion_path(3, BIG[:21])
    with pytest.raises(ValueError, match="empty node spec"):
        merkle.build_proof([()], _getter(fetched))


# --- compact range -----------------------------------------------------------------


def test_compact_range_reports_completed_nodes() -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT
    assert cr.append(LH[0]) == [Node(0, 0, LH[0])]
    h01 = hash_children(LH[0], LH[1])
    assert cr.append(LH[1]) == [Node(0, 1, LH[1]), Node(1, 0, h01)]
    assert cr.append(LH[2]) == [Node(0, 2, LH[2])]
    h23 = hash_children(LH[2], LH[3])
    h03 = hash_children(h01, h23)
    assert cr.append(LH[3]) == [Node(0, 3, LH[3]), Node(1, 1, h23), Node(2, 0, h03)]
    assert cr.size == 4
    assert cr.frontier == (h03,)
    assert "size=4" in repr(cr)


def test_compact_range_stores_every_complete_subtree() -> None:
    store = _store(BIG[:64])
    assert len(store) == 127
    for (level, index), h in store.items():
        lo, hi = index << level, (index + 1) << level
        assert h == _reference_root(BIG[lo:hi])


def test_compact_range_restore() -> None:
    store = _store(BIG)
    for size in (0, 1, 5, 8, 13, 32, 33, 63):
        frontier = [store[n.level, n.index] for n in frontier_nodes(size)]
        cr = CompactRange(size, frontier)
        assert cr.frontier == tuple(frontier)
        nodes = cr.extend(BIG[size:])
        assert cr.root() == _reference_root(BIG)
        assert all(store[n.level, n.index] == n.hash for n in nodes)


def test_compact_range_validation() -> None:
    with pytest.raises(ValueError, match="wrong frontier size 1, want 2"):
        CompactRange(6, [LH[0]])
    with pytest.raises(ValueError, match=r"frontier\[0\] has unexpected size 3, want 32"):
        CompactRange(1, [b"abc"])
    with pytest.raises(ValueError, match="non-negative"):
        CompactRange(-1, [])
    with pytest.raises(ValueError, match="leaf_hash has unexpected size 0, want 32"):
        CompactRange().append(b"")


# --- a log of 1,000,000 entries ----------------------------------------------------


class LazyTree:
    """A real tree of up to 2**40 leaves, computed on demand.

    Leaf i hashes "special-<i>" for the special indices and "filler" elsewhere, so a
    complete subtree without special leaves has a hash that depends on its level
    only, and any node costs O(specials x height).
    """

    def __init__(self, special: Sequence[int]) -> None:
        self.special = sorted(set(special))
        self.uniform = [hash_leaf(b"filler")]
        for _ in range(40):
            self.uniform.append(hash_children(self.uniform[-1], self.uniform[-1]))
        self.memo: dict[tuple[int, int], bytes] = {}
        self.calls = 0

    def leaf(self, index: int) -> bytes:
        if index in self.special:
            return hash_leaf(b"special-%d" % index)
        return self.uniform[0]

    def node(self, level: int, index: int) -> bytes:
        self.calls += 1
        lo, hi = index << level, (index + 1) << level
        i = bisect.bisect_left(self.special, lo)
        if i == len(self.special) or self.special[i] >= hi:
            return self.uniform[level]
        if level == 0:
            return self.leaf(index)
        key = (level, index)
        if key not in self.memo:
            self.memo[key] = hash_children(
                self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1)
            )
        return self.memo[key]


def test_lazy_tree_is_a_real_tree() -> None:
    tree = LazyTree([3, 17, 30])
    leaves = [tree.leaf(i) for i in range(37)]
    for size in range(38):
        assert root_from_nodes(size, tree.node) == _reference_root(leaves[:size])


def test_million_entry_log() -> None:
    size = 1_000_000
    indices = [0, 1, 123_456, 524_287, 524_288, 999_998, 999_999]
    tree = LazyTree(indices)
    root = root_from_nodes(size, tree.node)

    # The node math stays within its bounds across the whole log (how fast it is, is
    # measured in bench/, never asserted here).
    for index in range(0, size, 997):
        specs = inclusion_proof_nodes(index, size)
        assert len(specs) <= 20
        assert len(spec_node_ids(specs)) <= 2 * 20
    for size1 in range(1, size, 9973):
        assert len(spec_node_ids(consistency_proof_nodes(size1, size))) <= 3 * 20

    for index in indices:
        specs = inclusion_proof_nodes(index, size)
        tree.calls = 0
        proof = inclusion_proof(index, size, tree.node)
        assert tree.calls >= len(spec_node_ids(specs))
        verify_inclusion(index, size, tree.leaf(index), proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, hash_leaf(b"other"), proof, root)

    for size1 in (1, 2, 3, 524_288, 524_289, 999_999, 123_457):
        proof = consistency_proof(size1, size, tree.node)
        root1 = root_from_nodes(size1, tree.node)
        verify_consistency(size1, size, root1, root, proof)
        assert _rfc9162_verify_consistency(size1, size, root1, root, proof)
        with pytest.raises(ProofError):
            verify_consistency(size1, size, root1, root, proof[:-1])
