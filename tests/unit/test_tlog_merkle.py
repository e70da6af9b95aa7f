"""RFC 6962 / 9162 Merkle tree: public vectors, proofs for every shape, compact ranges."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_shared.tlog import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    leaf_hashes,
    node_hash,
    root_from_leaf_hashes,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)

RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
RFC6962_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}


def _hashes(n: int) -> list[bytes]:
    return leaf_hashes(i.to_bytes(4, "big") for i in range(n))


def _recursive_mth(hashes: list[bytes]) -> bytes:
    """The RFC's recursive definition, independently of the iterative implementation."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(_recursive_mth(hashes[:k]), _recursive_mth(hashes[k:]))


def test_hash_definitions() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    assert leaf_hashes([b"a", b"b"]) == [leaf_hash(b"a"), leaf_hash(b"b")]


@pytest.mark.parametrize(("size", "root"), sorted(RFC6962_ROOTS.items()))
def test_rfc6962_reference_roots(size: int, root: str) -> None:
    hashes = leaf_hashes(RFC6962_LEAVES[:size])
    assert root_from_leaf_hashes(hashes).hex() == root
    compact = CompactRange()
    compact.extend(hashes)
    assert compact.root().hex() == root
    assert MemoryTree(leaf_hashes(RFC6962_LEAVES)).root(size).hex() == root


def test_empty_tree() -> None:
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT
    assert MemoryTree().root() == EMPTY_ROOT
    assert consistency_proof(0, 5, MemoryTree(_hashes(5)).hash_at) == []
    verify_consistency(0, 5, EMPTY_ROOT, MemoryTree(_hashes(5)).root(), [])


@pytest.mark.parametrize("size", [*range(1, 70), 127, 128, 129, 255, 256, 257, 1000, 1025])
def test_iterative_root_equals_recursive_definition(size: int) -> None:
    hashes = _hashes(size)
    assert root_from_leaf_hashes(hashes) == _recursive_mth(hashes)
    assert subtree_hash(hashes, 3 % size, size) == _recursive_mth(hashes[3 % size :])


class C2SPSeven:
    """The 7-leaf example of c2sp.org/merkle-tree with its named nodes."""

    def __init__(self) -> None:
        self.leaves = leaf_hashes(f"d[{i}]".encode() for i in range(7))
        a, b, c, d, e, f, g = self.leaves
        h, i, j = node_hash(a, b), node_hash(c, d), node_hash(e, f)
        k, l = node_hash(h, i), node_hash(j, g)  # noqa: E741 - the spec's names
        self.names = {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g}
        self.names |= {"h": h, "i": i, "j": j, "k": k, "l": l}
        self.root = node_hash(k, l)
        self.tree = MemoryTree(self.leaves)

    def named(self, names: str) -> list[bytes]:
        return [self.names[name] for name in names]


@pytest.mark.parametrize(("index", "names"), [(0, "bil"), (3, "chl"), (4, "fgk"), (6, "jk")])
def test_c2sp_inclusion_vectors(index: int, names: str) -> None:
    example = C2SPSeven()
    assert example.tree.root() == example.root
    proof = inclusion_proof(index, 7, example.tree.hash_at)
    assert proof == example.named(names)
    verify_inclusion(example.leaves[index], index, 7, proof, example.root)


@pytest.mark.parametrize(("old", "names"), [(3, "cdhl"), (4, "l"), (6, "jgk")])
def test_c2sp_consistency_vectors(old: int, names: str) -> None:
    example = C2SPSeven()
    proof = consistency_proof(old, 7, example.tree.hash_at)
    assert proof == example.named(names)
    verify_consistency(old, 7, example.tree.root(old), example.root, proof)


def test_proof_builders_reject_impossible_arguments() -> None:
    tree = MemoryTree(_hashes(5))
    for index, size in [(5, 5), (-1, 5), (0, 0)]:
        with pytest.raises(ValueError, match="outside"):
            inclusion_proof(index, size, tree.hash_at)
    with pytest.raises(ValueError, match="cannot prove"):
        consistency_proof(4, 3, tree.hash_at)
    with pytest.raises(ValueError, match="no complete subtree"):
        tree.hash_at(3, 0)  # 8 leaves needed, 5 held
    with pytest.raises(ValueError, match="exceeds"):
        tree.inclusion_proof(0, 6)


def test_verifiers_reject_structural_nonsense() -> None:
    tree = MemoryTree(_hashes(8))
    root = tree.root()
    proof = tree.inclusion_proof(2)
    with pytest.raises(ProofError, match="outside"):
        verify_inclusion(tree.leaf_hashes[2], 8, 8, proof, root)
    with pytest.raises(ProofError, match="too long"):
        verify_inclusion(tree.leaf_hashes[2], 2, 8, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="too short"):
        verify_inclusion(tree.leaf_hashes[2], 2, 8, proof[:-1], root)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_inclusion(tree.leaf_hashes[2], 2, 8, [b"x", *proof[1:]], root)
    with pytest.raises(ProofError, match="went from"):
        verify_consistency(5, 4, tree.root(5), tree.root(4), [])
    with pytest.raises(ProofError, match="empty"):
        verify_consistency(3, 8, tree.root(3), root, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(8, 8, root, root, [root])
    with pytest.raises(ProofError, match="different roots"):
        verify_consistency(8, 8, root, tree.root(7), [])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, root, root, [])
    verify_consistency(8, 8, root, root, [])


def _flip(value: bytes, bit: int) -> bytes:
    data = bytearray(value)
    data[(bit // 8) % len(data)] ^= 1 << (bit % 8)
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=600).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(0, size - 1), st.integers(0, 255))
))  # fmt: skip
def test_every_inclusion_proof_verifies_and_any_flip_fails(case: tuple[int, int, int]) -> None:
    size, index, bit = case
    tree = MemoryTree(_hashes(size))
    root = tree.root(size)
    proof = inclusion_proof(index, size, tree.hash_at)
    assert len(proof) <= max(0, (size - 1).bit_length())
    leaf = tree.leaf_hashes[index]
    verify_inclusion(leaf, index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(_flip(leaf, bit), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, _flip(root, bit))
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = _flip(tampered[position], bit)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, tampered, root)
    if size > 1:  # the same proof must not prove a neighbouring index
        with pytest.raises(ProofError):
            verify_inclusion(leaf, (index + 1) % size, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=600).flatmap(
    lambda size: st.tuples(st.just(size), st.integers(1, size), st.integers(0, 255))
))  # fmt: skip
def test_every_consistency_proof_verifies_and_any_flip_fails(case: tuple[int, int, int]) -> None:
    new, old, bit = case
    tree = MemoryTree(_hashes(new))
    old_root, new_root = tree.root(old), tree.root(new)
    proof = consistency_proof(old, new, tree.hash_at)
    assert len(proof) <= (new - 1).bit_length() + 1
    verify_consistency(old, new, old_root, new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, _flip(old_root, bit), new_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(old, new, old_root, _flip(new_root, bit), proof)
    for position in range(len(proof)):
        tampered = list(proof)
        tampered[position] = _flip(tampered[position], bit)
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, tampered)
    if old < new:  # a proof for one size pair does not prove another
        with pytest.raises(ProofError):
            verify_consistency(old, new, old_root, new_root, [*proof, proof[-1]])
        if old > 1:
            with pytest.raises(ProofError):
                verify_consistency(old - 1, new, tree.root(old - 1), new_root, proof)


def test_compact_range_matches_root_for_every_size_up_to_300() -> None:
    hashes = _hashes(300)
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT
    for size in range(1, 301):
        compact.append(hashes[size - 1])
        assert compact.size == size
        assert len(compact.hashes) == size.bit_count()
        assert compact.root() == root_from_leaf_hashes(hashes[:size]), size
        again = CompactRange.from_bytes(compact.to_bytes())
        assert again == compact
        assert again.root() == compact.root()


def test_compact_range_extend_copy_and_errors() -> None:
    hashes = _hashes(77)
    bulk = CompactRange()
    bulk.extend(hashes[:40])
    fork = bulk.copy()
    bulk.extend(hashes[40:])
    assert bulk.root() == root_from_leaf_hashes(hashes)
    assert fork.size == 40
    assert fork.root() == root_from_leaf_hashes(hashes[:40])
    assert CompactRange(bulk.size, bulk.hashes) == bulk
    assert bulk.to_bytes()[:8] == (77).to_bytes(8, "big")
    with pytest.raises(ValueError, match="32 bytes"):
        bulk.append(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        bulk.extend([hashes[0], b"short"])
    assert bulk.size == 78  # the valid hash before the bad one was appended
    with pytest.raises(ValueError, match="frontier hashes"):
        CompactRange(3, hashes[:1])
    with pytest.raises(ValueError, match="must carry"):
        CompactRange.from_bytes((3).to_bytes(8, "big") + hashes[0])
    with pytest.raises(ValueError, match="shorter"):
        CompactRange.from_bytes(b"\x00")


def test_memory_tree_grows_like_a_fresh_tree() -> None:
    hashes = _hashes(300)
    grown = MemoryTree()
    for chunk in (hashes[:1], hashes[1:2], hashes[2:100], hashes[100:257], hashes[257:]):
        grown.extend(chunk)
        fresh = MemoryTree(hashes[: grown.size])
        assert grown.root() == fresh.root() == root_from_leaf_hashes(hashes[: grown.size])
        assert grown.consistency_proof(1) == fresh.consistency_proof(1)
    grown.append(leaf_hash(b"one more"))
    assert grown.root() == root_from_leaf_hashes([*hashes, leaf_hash(b"one more")])
