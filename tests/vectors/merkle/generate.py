"""Regenerate the Merkle tree vectors in this folder.

    python tests/vectors/merkle/generate.py          # rewrite the JSON files
    python tests/vectors/merkle/generate.py --check  # exit 1 if a file would change

Valid proofs are computed with the RFC 9162 reference definitions
(``tests/merkle_reference.py``), not with ``ledger.merkle``. The RFC 6962 leaves and
the roots and proofs published with them (certificate-transparency,
transparency-dev/merkle ``proof/verify_test.go``) are pinned below and asserted.
Every probe is checked to fail under both ``ledger.merkle`` and the RFC 9162
§2.1.3.2 / §2.1.4.2 reference verifiers before it is written.

File format: one JSON object per file. Tree files hold ``leaves`` and ``roots``.
Proof files hold ``cases``; a case with ``index`` is an inclusion case
(``index, size, leafHash, proof, root``), a case with ``size1`` a consistency case
(``size1, size2, root1, root2, proof``). Hashes are lower-case hex; ``wantErr`` says
whether verification must fail.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]

# RFC 6962 test leaves, as used by certificate-transparency and transparency-dev.
RFC6962_LEAVES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]

# Published roots for sizes 0..8.
PUBLISHED_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# Published inclusion proofs: (index, size) -> proof (0-based index).
PUBLISHED_INCLUSION = {
    (0, 1): [],
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    ],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}

# Published consistency proofs: (size1, size2) -> proof.
PUBLISHED_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}

PUBLISHED_SOURCE = "transparency-dev/merkle proof/verify_test.go (RFC 6962 test data)"

# Bit positions, as (byte, bit), flipped in every proof element of every case in the
# probe files; the two proofs named below get all 256 bits of every element. The unit
# tests flip all 256 bits everywhere, in memory.
SAMPLE_BITS = ((0, 3), (0, 4), (16, 0), (31, 7))
ALL_BITS_INCLUSION = (5, 8)  # (index, size)
ALL_BITS_CONSISTENCY = (6, 8)  # (size1, size2)

# A second, larger tree: leaf i is the ASCII text "leaf-<i>".
BIG_SIZE = 37
BIG_INCLUSION = [(0, 37), (36, 37), (17, 37), (31, 32), (32, 33), (5, 21), (20, 21), (12, 16)]
BIG_CONSISTENCY = [(1, 37), (16, 37), (21, 37), (32, 33), (7, 8), (13, 29), (3, 31), (36, 37)]


def _hex(data: bytes) -> str:
    return data.hex()


def build() -> dict[str, dict[str, Any]]:
    """All vector files, by file name."""
    sys.path.insert(0, str(ROOT))
    from ledger import merkle
    from tests.merkle_reference import (
        ALL_BITS,
        SOME_HASH,
        ConsistencyProbe,
        InclusionProbe,
        _reference_consistency_proof,
        _reference_inclusion_path,
        _reference_root,
        _rfc9162_verify_consistency,
        _rfc9162_verify_inclusion,
        corrupt_consistency_proof,
        corrupt_inclusion_proof,
    )

    def incl_case(p: InclusionProbe) -> dict[str, Any]:
        return {
            "desc": p.desc,
            "index": p.index,
            "size": p.size,
            "leafHash": _hex(p.leaf_hash),
            "proof": [_hex(h) for h in p.proof],
            "root": _hex(p.root),
            "wantErr": True,
        }

    def cons_case(p: ConsistencyProbe) -> dict[str, Any]:
        return {
            "desc": p.desc,
            "size1": p.size1,
            "size2": p.size2,
            "root1": _hex(p.root1),
            "root2": _hex(p.root2),
            "proof": [_hex(h) for h in p.proof],
            "wantErr": True,
        }

    def incl_fails(p: InclusionProbe) -> bool:
        try:
            merkle.verify_inclusion(p.index, p.size, p.leaf_hash, p.proof, p.root)
        except merkle.ProofError:
            pass
        else:
            return False
        return not _rfc9162_verify_inclusion(p.index, p.size, p.leaf_hash, p.proof, p.root)

    def cons_fails(p: ConsistencyProbe) -> bool:
        try:
            merkle.verify_consistency(p.size1, p.size2, p.root1, p.root2, p.proof)
        except merkle.ProofError:
            pass
        else:
            return False
        return not _rfc9162_verify_consistency(p.size1, p.size2, p.root1, p.root2, p.proof)

    leaves = [bytes.fromhex(x) for x in RFC6962_LEAVES]
    lh = [merkle.hash_leaf(x) for x in leaves]
    roots = {n: _reference_root(lh[:n]) for n in range(len(lh) + 1)}
    for n, want in enumerate(PUBLISHED_ROOTS):
        assert roots[n].hex() == want, f"root of size {n} differs from the published value"

    files: dict[str, dict[str, Any]] = {}
    files["tree_rfc6962.json"] = {
        "comment": "RFC 6962 test leaves (hex data) and the published roots of sizes 0..8.",
        "source": PUBLISHED_SOURCE,
        "leaves": RFC6962_LEAVES,
        "leafHashes": [_hex(h) for h in lh],
        "roots": [{"size": n, "root": _hex(r)} for n, r in roots.items()],
    }

    # Valid inclusion proofs, every (index, size) with size <= 8.
    valid_incl: list[dict[str, Any]] = []
    for size in range(1, len(lh) + 1):
        for index in range(size):
            proof = _reference_inclusion_path(index, lh[:size])
            case: dict[str, Any] = {
                "desc": f"leaf {index} of size {size}",
                "index": index,
                "size": size,
                "leafHash": _hex(lh[index]),
                "proof": [_hex(h) for h in proof],
                "root": _hex(roots[size]),
                "wantErr": False,
            }
            if (index, size) in PUBLISHED_INCLUSION:
                assert case["proof"] == PUBLISHED_INCLUSION[index, size], (index, size)
                case["source"] = PUBLISHED_SOURCE
            valid_incl.append(case)
    files["inclusion_rfc6962.json"] = {
        "comment": "Valid inclusion proofs for every leaf of every size 1..8 of tree_rfc6962.",
        "tree": "tree_rfc6962.json",
        "cases": valid_incl,
    }

    # Valid consistency proofs, every 0 <= size1 <= size2 <= 8.
    valid_cons: list[dict[str, Any]] = []
    for size2 in range(len(lh) + 1):
        for size1 in range(size2 + 1):
            proof = _reference_consistency_proof(size1, lh[:size2]) if size1 else []
            case = {
                "desc": f"size {size1} to size {size2}",
                "size1": size1,
                "size2": size2,
                "root1": _hex(roots[size1]),
                "root2": _hex(roots[size2]),
                "proof": [_hex(h) for h in proof],
                "wantErr": False,
            }
            if (size1, size2) in PUBLISHED_CONSISTENCY:
                assert case["proof"] == PUBLISHED_CONSISTENCY[size1, size2], (size1, size2)
                case["source"] = PUBLISHED_SOURCE
            valid_cons.append(case)
    files["consistency_rfc6962.json"] = {
        "comment": "Valid consistency proofs for every 0 <= size1 <= size2 <= 8 of tree_rfc6962.",
        "tree": "tree_rfc6962.json",
        "cases": valid_cons,
    }

    # Corruption probes of every valid case above.
    incl_probes: list[dict[str, Any]] = []
    for size in range(1, len(lh) + 1):
        for index in range(size):
            bits = ALL_BITS if (index, size) == ALL_BITS_INCLUSION else SAMPLE_BITS
            proof = _reference_inclusion_path(index, lh[:size])
            for p in corrupt_inclusion_proof(
                index, size, lh[index], proof, roots[size], roots=roots, leaf_hashes=lh, bits=bits
            ):
                assert incl_fails(p), f"probe verifies: leaf {index} of size {size}: {p.desc}"
                case = incl_case(p)
                case["desc"] = f"leaf {index} of size {size}: {p.desc}"
                incl_probes.append(case)
    files["inclusion_probes.json"] = {
        "comment": (
            "Corrupted inclusion proofs of tree_rfc6962 that must fail: wrong index, size, "
            "leaf, root, extra or missing elements, and bit flips: all 256 bits of every "
            f"element of leaf {ALL_BITS_INCLUSION[0]} of size {ALL_BITS_INCLUSION[1]}, "
            f"bits {[list(b) for b in SAMPLE_BITS]} as [byte, bit] elsewhere."
        ),
        "tree": "tree_rfc6962.json",
        "cases": incl_probes,
    }

    cons_probes: list[dict[str, Any]] = []
    for size2 in range(2, len(lh) + 1):
        for size1 in range(1, size2):
            bits = ALL_BITS if (size1, size2) == ALL_BITS_CONSISTENCY else SAMPLE_BITS
            proof = _reference_consistency_proof(size1, lh[:size2])
            for q in corrupt_consistency_proof(
                size1, size2, roots[size1], roots[size2], proof, roots=roots, bits=bits
            ):
                assert cons_fails(q), f"probe verifies: {size1} to {size2}: {q.desc}"
                case = cons_case(q)
                case["desc"] = f"size {size1} to size {size2}: {q.desc}"
                cons_probes.append(case)
    files["consistency_probes.json"] = {
        "comment": (
            "Corrupted consistency proofs of tree_rfc6962 that must fail: wrong sizes, "
            "roots (swapped, of another size), extra or missing elements, and bit flips: "
            f"all 256 bits of every element of size {ALL_BITS_CONSISTENCY[0]} to size "
            f"{ALL_BITS_CONSISTENCY[1]}, bits {[list(b) for b in SAMPLE_BITS]} as "
            "[byte, bit] elsewhere."
        ),
        "tree": "tree_rfc6962.json",
        "cases": cons_probes,
    }

    # Edge cases (transparency-dev TestVerifyInclusion*, TestVerifyConsistency).
    data_hash = merkle.hash_leaf(b"data")
    empty = merkle.EMPTY_ROOT
    r1, r2 = roots[1], roots[2]
    edge: list[dict[str, Any]] = []

    def edge_incl(desc: str, index: int, size: int, leaf: bytes, root: bytes, want: bool) -> None:
        edge.append(
            {
                "desc": desc,
                "index": index,
                "size": size,
                "leafHash": _hex(leaf),
                "proof": [],
                "root": _hex(root),
                "wantErr": want,
            }
        )

    edge_incl("single entry: root == leaf hash", 0, 1, data_hash, data_hash, False)
    edge_incl("single entry: empty leaf hash", 0, 1, b"", data_hash, True)
    edge_incl("single entry: empty root", 0, 1, data_hash, b"", True)
    edge_incl("single entry: both empty", 0, 1, b"", b"", True)
    for index, size in ((0, 0), (0, 1), (1, 0), (2, 1)):
        edge_incl(f"index {index} size {size}: empty root", index, size, SOME_HASH, b"", True)
        edge_incl(f"index {index} size {size}: empty leaf", index, size, b"", empty, True)
        edge_incl(f"index {index} size {size}: wrong root", index, size, SOME_HASH, empty, True)

    def edge_cons(
        desc: str, s1: int, s2: int, root1: bytes, root2: bytes, proof: list[bytes], want: bool
    ) -> None:
        edge.append(
            {
                "desc": desc,
                "size1": s1,
                "size2": s2,
                "root1": _hex(root1),
                "root2": _hex(root2),
                "proof": [_hex(h) for h in proof],
                "wantErr": want,
            }
        )

    edge_cons("0 to 0, different roots", 0, 0, empty, SOME_HASH, [], True)
    edge_cons("1 to 1, different roots", 1, 1, r1, r2, [], True)
    edge_cons("0 to 0, same (empty) roots", 0, 0, empty, empty, [], False)
    edge_cons("0 to 1, empty proof", 0, 1, empty, r1, [], False)
    edge_cons("1 to 1, same roots", 1, 1, r2, r2, [], False)
    edge_cons(
        "0 to 1, root1 not the empty root (transparency-dev accepts, this ledger refuses)",
        0,
        1,
        SOME_HASH,
        r1,
        [],
        True,
    )
    edge_cons("time travel: 1 to 0", 1, 0, r1, empty, [], True)
    edge_cons("time travel: 2 to 1", 2, 1, r2, r1, [], True)
    edge_cons("1 to 2, empty proof", 1, 2, r1, r2, [], True)
    edge_cons("0 to 0, roots match but proof not empty", 0, 0, empty, empty, [empty], True)
    edge_cons("0 to 1, proof not empty", 0, 1, empty, r1, [empty], True)
    edge_cons("1 to 1, roots match but proof not empty", 1, 1, r1, r1, [empty], True)
    edge_cons("1 to 1, short roots", 1, 1, b"x", b"x", [], True)
    edge_cons("1 to 2, short proof element", 1, 2, r1, r2, [lh[1][:31]], True)
    files["edge_cases.json"] = {
        "comment": "Degenerate sizes, empty and short hashes (transparency-dev edge tables).",
        "cases": edge,
    }

    # A larger tree: roots of every size, and a sample of proofs.
    big = [merkle.hash_leaf(f"leaf-{i}".encode()) for i in range(BIG_SIZE)]
    big_roots = {n: _reference_root(big[:n]) for n in range(BIG_SIZE + 1)}
    files["tree_37.json"] = {
        "comment": 'Leaf i is the ASCII text "leaf-<i>", i = 0..36; roots of sizes 0..37.',
        "leaves": [f"leaf-{i}".encode().hex() for i in range(BIG_SIZE)],
        "leafHashes": [_hex(h) for h in big],
        "roots": [{"size": n, "root": _hex(r)} for n, r in big_roots.items()],
    }
    big_cases: list[dict[str, Any]] = []
    for index, size in BIG_INCLUSION:
        big_cases.append(
            {
                "desc": f"leaf {index} of size {size}",
                "index": index,
                "size": size,
                "leafHash": _hex(big[index]),
                "proof": [_hex(h) for h in _reference_inclusion_path(index, big[:size])],
                "root": _hex(big_roots[size]),
                "wantErr": False,
            }
        )
    for size1, size2 in BIG_CONSISTENCY:
        big_cases.append(
            {
                "desc": f"size {size1} to size {size2}",
                "size1": size1,
                "size2": size2,
                "root1": _hex(big_roots[size1]),
                "root2": _hex(big_roots[size2]),
                "proof": [_hex(h) for h in _reference_consistency_proof(size1, big[:size2])],
                "wantErr": False,
            }
        )
    files["proofs_tree_37.json"] = {
        "comment": "Valid inclusion and consistency proofs in tree_37.",
        "tree": "tree_37.json",
        "cases": big_cases,
    }

    # Sanity: every valid case verifies under both implementations.
    for name, content in files.items():
        for case in content.get("cases", []):
            if case["wantErr"]:
                continue
            proof = [bytes.fromhex(h) for h in case["proof"]]
            if "index" in case:
                leaf, root = bytes.fromhex(case["leafHash"]), bytes.fromhex(case["root"])
                merkle.verify_inclusion(case["index"], case["size"], leaf, proof, root)
                assert _rfc9162_verify_inclusion(case["index"], case["size"], leaf, proof, root)
            else:
                a, b = bytes.fromhex(case["root1"]), bytes.fromhex(case["root2"])
                merkle.verify_consistency(case["size1"], case["size2"], a, b, proof)
                assert _rfc9162_verify_consistency(case["size1"], case["size2"], a, b, proof), name
    return files


def render(content: dict[str, Any]) -> str:
    """JSON text with one case per line, so diffs stay readable."""
    head = {k: v for k, v in content.items() if k != "cases"}
    lines = ["{"]
    items = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in head.items()]
    if "cases" in content:
        cases = ",\n".join(f"    {json.dumps(c)}" for c in content["cases"])
        items.append(f'  "cases": [\n{cases}\n  ]')
    lines.append(",\n".join(items))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, content in build().items():
        path = HERE / name
        text = render(content)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale vector files: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
