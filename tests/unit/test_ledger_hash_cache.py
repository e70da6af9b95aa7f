"""The ledger's in-memory hash cache agrees with the reference tree, proofs and tiles."""

from __future__ import annotations

import hashlib
import random

import pytest

from consentry_ledger.domain.hash_cache import HashCache
from consentry_shared.tlog import (
    CompactRange,
    MemoryTree,
    hash_tiles_for,
    leaf_hash,
    node_hash,
    tile_path,
    verify_consistency,
    verify_inclusion,
)

RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in (
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
RFC6962_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def hashes(count: int, start: int = 0) -> list[bytes]:
    return [hashlib.sha256(n.to_bytes(8, "big")).digest() for n in range(start, start + count)]


def test_rfc6962_roots_for_every_prefix() -> None:
    cache = HashCache()
    cache.extend(leaf_hash(leaf) for leaf in RFC6962_LEAVES)
    assert [cache.root(n).hex() for n in range(1, 9)] == RFC6962_ROOTS


def test_grown_in_uneven_steps_it_matches_the_reference_tree_at_every_size() -> None:
    rng = random.Random(7)
    leaves = hashes(300)
    cache = HashCache()
    reference = MemoryTree(leaves)
    while cache.size < len(leaves):
        step = rng.choice([1, 1, 2, 3, 7, 31, 64])
        cache.extend(leaves[cache.size : cache.size + step])
        size = cache.size
        assert cache.root() == reference.root(size)
        assert cache.frontier() == _compact(leaves[:size])
        for index in {0, size // 2, size - 1}:
            proof = cache.inclusion_proof(index, size)
            assert proof == reference.inclusion_proof(index, size)
            verify_inclusion(leaves[index], index, size, proof, cache.root())
        for old in {1, size // 3, size - 1}:
            proof = cache.consistency_proof(old, size)
            assert proof == reference.consistency_proof(old, size)
            verify_consistency(old, size, reference.root(old), cache.root(), proof)


def _compact(leaves: list[bytes]) -> CompactRange:
    compact = CompactRange()
    compact.extend(leaves)
    return compact


@pytest.mark.parametrize("size", [1, 255, 256, 257, 256 * 256 + 300])
def test_tiles_equal_what_the_export_writes(size: int) -> None:
    leaves = hashes(size)
    cache = HashCache()
    cache.extend(leaves[: size // 3])
    cache.extend(leaves[size // 3 :])
    expected = dict(hash_tiles_for(leaves))
    served = {}
    for level in range(3):
        count = size >> (8 * level)
        for index in range((count + 255) // 256):
            width = min(256, count - index * 256)
            served[tile_path(level, index, width)] = cache.tile(level, index, width)
    assert served == expected


def test_a_tile_or_subtree_beyond_the_tree_does_not_exist() -> None:
    cache = HashCache()
    cache.extend(hashes(300))
    with pytest.raises(ValueError, match="does not exist"):
        cache.tile(0, 1, 45)
    with pytest.raises(ValueError, match="does not exist"):
        cache.tile(1, 0, 2)
    with pytest.raises(ValueError, match="no complete subtree"):
        cache.hash_at(3, 37)
    with pytest.raises(ValueError, match="outside"):
        cache.inclusion_proof(0, 301)
    assert cache.tile(0, 1, 44) == b"".join(hashes(44, 256))


def test_a_bad_hash_length_changes_nothing() -> None:
    cache = HashCache()
    cache.extend(hashes(3))
    root = cache.root()
    with pytest.raises(ValueError, match="32 bytes"):
        cache.extend([*hashes(2, 3), b"short"])
    assert cache.size == 3
    assert cache.root() == root


def test_every_proof_of_every_small_tree_equals_the_reference() -> None:
    leaves = hashes(70)
    cache = HashCache()
    cache.extend(leaves)
    reference = MemoryTree(leaves)
    for new in range(1, 71):
        for index in range(new):
            assert cache.inclusion_proof(index, new) == reference.inclusion_proof(index, new)
        for old in range(new + 1):
            assert cache.consistency_proof(old, new) == reference.consistency_proof(old, new)


def test_the_c2sp_seven_leaf_vectors() -> None:
    a, b, c, d, e, f, g = hashes(7)
    h, i, j = node_hash(a, b), node_hash(c, d), node_hash(e, f)
    k, l = node_hash(h, i), node_hash(j, g)  # noqa: E741 - the spec's names
    cache = HashCache()
    cache.extend([a, b, c, d, e, f, g])
    assert cache.inclusion_proof(0, 7) == [b, i, l]
    assert cache.inclusion_proof(3, 7) == [c, h, l]
    assert cache.inclusion_proof(4, 7) == [f, g, k]
    assert cache.inclusion_proof(6, 7) == [j, k]
    assert cache.consistency_proof(3, 7) == [c, d, h, l]
    assert cache.consistency_proof(4, 7) == [l]
    assert cache.consistency_proof(6, 7) == [j, g, k]
