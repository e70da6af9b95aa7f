"""Every hash of the log's Merkle tree, in memory: proofs and tiles without touching storage.

:class:`HashCache` keeps, for each level ``l`` of the RFC 6962 tree, the hashes of all *perfect*
subtrees of ``2**l`` leaves that exist so far, packed 32 bytes apiece in one ``bytearray`` per
level. Level 0 holds the leaf hashes. A node, once complete, never changes in an append-only
log, so appending only adds bytes at the end of each level, and any tree size up to
:attr:`HashCache.size` can be proven from the same arrays.

Cost: about 64 bytes of memory per entry (32 for the leaf hash, 32 for the levels above), one
node hash per appended leaf on average, and O(log n) slices per proof. Proofs for trees whose
size is not a power of two fold the right edge from perfect subtrees, as
:func:`consentry_shared.tlog.inclusion_proof` does.

Readers and the single writer share one event loop, so a reader never sees a half-extended
level; readers MUST only ask about sizes up to the size they read before they started.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from consentry_shared.tlog import (
    HASH_SIZE,
    TILE_HEIGHT,
    TILE_WIDTH,
    CompactRange,
    HashAt,
    node_hash,
)


def subtree_root(start: int, end: int, hash_at: HashAt) -> bytes:
    """MTH of leaves ``[start, end)`` where ``start`` is aligned on the largest power of two not
    above ``end - start``: fold its perfect subtrees, largest first, right to left."""
    parts = []
    while start < end:
        level = (end - start).bit_length() - 1
        parts.append(hash_at(level, start >> level))
        start += 1 << level
    value = parts.pop()
    while parts:
        value = node_hash(parts.pop(), value)
    return value


__all__ = ["HashCache"]

_NODE_SEED = hashlib.sha256(b"\x01")
_PAIR = 2 * HASH_SIZE


class HashCache:
    """All perfect-subtree hashes of a growing Merkle tree (see the module docstring)."""

    __slots__ = ("_edges", "_levels", "_size")

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        # Hashes of incomplete right-edge nodes, by (level, tree size): a tree of one size has
        # O(log n) of them, shared by every proof for that size.
        self._edges: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        """Number of leaves held."""
        return self._size

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes (32 bytes each) and compute the nodes they complete.

        Raises ``ValueError`` (and changes nothing) if a hash is not 32 bytes long.
        """
        hashes = list(leaf_hashes)
        for value in hashes:
            if len(value) != HASH_SIZE:
                raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes, got {len(value)}")
        added = b"".join(hashes)
        count = len(hashes)
        if not count:
            return
        old_size, new_size = self._size, self._size + count
        levels = self._levels
        levels[0] += added
        level = 0
        copy = _NODE_SEED.copy
        while new_size >> (level + 1):
            if level + 1 == len(levels):
                levels.append(bytearray())
            first, last = old_size >> (level + 1), new_size >> (level + 1)
            out = bytearray()
            with memoryview(levels[level]) as below:
                for offset in range(first * _PAIR, last * _PAIR, _PAIR):
                    hasher = copy()
                    hasher.update(below[offset : offset + _PAIR])
                    out += hasher.digest()
            levels[level + 1] += out
            level += 1
        self._size = new_size

    def hash_at(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree of ``2**level`` leaves at ``index`` (``ValueError`` if absent)."""
        if level < 0 or index < 0 or index >= self._size >> level:
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        offset = index * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash of entry ``index``."""
        return self.hash_at(0, index)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is outside 0..{self._size}")

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree of the first ``size`` leaves (default: all)."""
        return self.frontier(size).root()

    def frontier(self, size: int | None = None) -> CompactRange:
        """The compact range (right frontier) of the tree of the first ``size`` leaves."""
        size = self._size if size is None else size
        self._check_size(size)
        hashes = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(self.hash_at(level, start >> level))
                start += 1 << level
        return CompactRange(size, hashes)

    def _node(self, level: int, index: int, size: int) -> bytes:
        """Hash of the node at ``(level, index)`` in the tree of ``size`` leaves: the perfect subtree
        if it is complete, else the RFC 6962 hash of its leaves ``[index * 2**level, size)``."""
        if (index + 1) << level <= size:
            offset = index * HASH_SIZE
            return bytes(self._levels[level][offset : offset + HASH_SIZE])
        key = (level, size)
        value = self._edges.get(key)
        if value is None:
            start = index << level
            value = subtree_root(start, size, self.hash_at)
            if len(self._edges) > 4096:
                self._edges.clear()
            self._edges[key] = value
        return value

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

        Same result as :func:`consentry_shared.tlog.inclusion_proof`, computed bottom-up from
        the cached levels (several times faster): see :meth:`_path`.
        """
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        return self._path(0, index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old_size`` to that of ``new_size``.

        Same result as :func:`consentry_shared.tlog.consistency_proof`: the largest perfect
        subtree that ends at ``old_size`` (left out when that is the whole old tree, a power of
        two), then that node's path up the new tree.
        """
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"cannot prove {old_size} -> {new_size}")
        if old_size in (0, new_size):
            return []
        level = (old_size & -old_size).bit_length() - 1
        index = (old_size - 1) >> level
        path = self._path(level, index, new_size)
        return path if index == 0 else [self._node(level, index, new_size), *path]

    def _path(self, level: int, index: int, size: int) -> list[bytes]:
        """The siblings of node ``(level, index)`` and of its ancestors in the tree of ``size``.

        At each level the sibling of the node on the path, unless that node is the last of its
        level and has none: RFC 6962 then promotes it unchanged.
        """
        path = []
        last = (size - 1) >> level
        while last:
            sibling = index ^ 1
            if sibling <= last:
                path.append(self._node(level, sibling, size))
            index >>= 1
            last >>= 1
            level += 1
        return path

    def tile(self, level: int, index: int, width: int) -> bytes:
        """Content of tlog-tiles hash tile ``(level, index)`` with ``width`` hashes.

        The tile's hashes are the Merkle nodes at level ``8 * level``, indexes
        ``index * 256 .. index * 256 + width - 1``. Raises ``ValueError`` unless all of them exist.
        """
        merkle_level = level * TILE_HEIGHT
        first = index * TILE_WIDTH
        if (
            level < 0
            or index < 0
            or not 1 <= width <= TILE_WIDTH
            or first + width > self._size >> merkle_level
        ):
            raise ValueError(f"tile {level}/{index} of width {width} does not exist at size {self._size}")
        return bytes(self._levels[merkle_level][first * HASH_SIZE : (first + width) * HASH_SIZE])
