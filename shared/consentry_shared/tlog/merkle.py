"""RFC 6962 / RFC 9162 §2.1 Merkle tree hashing, compact ranges and proofs.

Errors: :class:`~consentry_shared.tlog.errors.ProofError` when a proof does not verify;
``ValueError`` for impossible arguments (an index outside the tree, hashes that are not 32
bytes long, ``old_size > new_size`` when *building* a proof).

Vocabulary. A *perfect subtree* at ``(level, index)`` is the subtree whose leaves are
``[index * 2**level, (index + 1) * 2**level)``; level 0 are the leaf hashes. Proof builders
take a ``hash_at(level, index)`` callable returning such hashes, so the same algorithm runs over
an in-memory tree (:class:`MemoryTree`), database rows or tlog tiles. The hashes of the
non-perfect subtrees on the right edge of a tree are folded from perfect ones.

Hashing uses ``hashlib`` only. The hot loops copy a pre-seeded hash object instead of building
``prefix + data`` strings: on CPython with OpenSSL that is the cheapest way to hash many small
inputs (see ``bench/bench_tlog.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from consentry_shared.tlog.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "HashAt",
    "MemoryTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root_from_leaf_hashes",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root hash of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1)."""

HashAt = Callable[[int, int], bytes]
"""``hash_at(level, index)``: hash of the perfect subtree of ``2**level`` leaves at ``index``."""

_LEAF_SEED = hashlib.sha256(b"\x00")
_NODE_SEED = hashlib.sha256(b"\x01")
_leaf_copy = _LEAF_SEED.copy
_node_copy = _NODE_SEED.copy


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    hasher = _leaf_copy()
    hasher.update(data)
    return hasher.digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """Return ``[leaf_hash(e) for e in entries]``, computed in one tight loop."""
    out: list[bytes] = []
    append = out.append
    copy = _leaf_copy
    for entry in entries:
        hasher = copy()
        hasher.update(entry)
        append(hasher.digest())
    return out


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    hasher = _node_copy()
    hasher.update(left)
    hasher.update(right)
    return hasher.digest()


def _pair_level(level: Sequence[bytes]) -> list[bytes]:
    """Hash adjacent pairs; an odd last hash is promoted unchanged (RFC 6962 shape)."""
    out: list[bytes] = []
    append = out.append
    copy = _node_copy
    iterator = iter(level)
    for left, right in zip(iterator, iterator, strict=False):
        hasher = copy()
        hasher.update(left)
        hasher.update(right)
        append(hasher.digest())
    if len(level) & 1:
        append(level[-1])
    return out


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash (RFC 9162 §2.1.1) of a list of leaf hashes.

    ``hashes`` are *leaf hashes* (already ``SHA-256(0x00||leaf)``); the empty list gives
    :data:`EMPTY_ROOT`. Runs level by level, promoting a lone right node, which yields the same
    tree as the RFC's recursive split at the largest power of two. The caller guarantees each
    element is 32 bytes (not re-checked here, for speed).
    """
    if not hashes:
        return EMPTY_ROOT
    level: Sequence[bytes] = hashes
    while len(level) > 1:
        level = _pair_level(level)
    return level[0]


def subtree_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """Return MTH(D[start:end]) for the given leaf hashes (``0 <= start <= end <= len``)."""
    if not 0 <= start <= end <= len(leaf_hashes):
        raise ValueError(f"range [{start}, {end}) is outside 0..{len(leaf_hashes)}")
    return root_from_leaf_hashes(leaf_hashes[start:end])


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


class CompactRange:
    """The right frontier of a Merkle tree: enough state to append leaves and compute the root.

    Holds one hash per set bit of ``size``: the roots of the perfect subtrees that the tree of
    ``size`` leaves decomposes into, largest (leftmost) first. ``append`` is amortised O(1) and
    O(log n) worst case; ``root`` is O(log n). Instances are mutable; use :meth:`copy` to fork.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Create a range for a tree of ``size`` leaves from its frontier ``hashes``.

        ``hashes`` MUST hold exactly ``popcount(size)`` 32-byte hashes, largest subtree first;
        ``CompactRange()`` is the empty tree.
        """
        if size < 0:
            raise ValueError("size must be >= 0")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves needs {size.bit_count()} frontier hashes")
        for value in hashes:
            _check_hash(value, "frontier hash")
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier hashes, largest perfect subtree first."""
        return tuple(self._hashes)

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash (32 bytes) as leaf number ``size``."""
        _check_hash(leaf_hash, "leaf hash")
        stack = self._hashes
        size = self._size
        value = leaf_hash
        while size & 1:
            hasher = _node_copy()
            hasher.update(stack.pop())
            hasher.update(value)
            value = hasher.digest()
            size >>= 1
        stack.append(value)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes in order (same as repeated :meth:`append`, faster)."""
        stack = self._hashes
        pop = stack.pop
        push = stack.append
        copy = _node_copy
        total = self._size
        try:
            for leaf in leaf_hashes:
                if len(leaf) != HASH_SIZE:
                    raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf)}")
                value = leaf
                size = total
                while size & 1:
                    hasher = copy()
                    hasher.update(pop())
                    hasher.update(value)
                    value = hasher.digest()
                    size >>= 1
                push(value)
                total += 1
        finally:
            self._size = total

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the ``size`` leaves appended so far."""
        stack = self._hashes
        if not stack:
            return EMPTY_ROOT
        value = stack[-1]
        for left in reversed(stack[:-1]):
            hasher = _node_copy()
            hasher.update(left)
            hasher.update(value)
            value = hasher.digest()
        return value

    def to_bytes(self) -> bytes:
        """Serialise as an 8-byte big-endian size followed by the frontier hashes."""
        return self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """Parse :meth:`to_bytes` output; raises ``ValueError`` if the length does not match."""
        if len(data) < 8:
            raise ValueError("compact range is shorter than its 8-byte size")
        size = int.from_bytes(data[:8], "big")
        body = data[8:]
        if len(body) != HASH_SIZE * size.bit_count():
            raise ValueError(
                f"compact range of size {size} must carry {size.bit_count()} hashes, got {len(body)} bytes"
            )
        hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    def copy(self) -> CompactRange:
        """Return an independent copy."""
        clone = CompactRange.__new__(CompactRange)
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __hash__(self) -> int:
        return hash((self._size, tuple(self._hashes)))

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}...)"


def _largest_power_of_two_below(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_hash(start: int, end: int, hash_at: HashAt) -> bytes:
    """MTH(D[start:end]) for a range that is a node of the RFC 6962 tree.

    Such a range splits into perfect subtrees of strictly decreasing size, each aligned on its
    own size; fold them right to left.
    """
    parts: list[bytes] = []
    while start < end:
        level = (end - start).bit_length() - 1
        parts.append(hash_at(level, start >> level))
        start += 1 << level
    value = parts.pop()
    while parts:
        value = node_hash(parts.pop(), value)
    return value


def inclusion_proof(index: int, size: int, hash_at: HashAt) -> list[bytes]:
    """Return the audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 §2.1.3.1).

    The path is ordered from the leaf's sibling up to the root's child and has at most
    ``ceil(log2(size))`` hashes. ``hash_at`` is only asked for perfect subtrees inside
    ``[0, size)``. Raises ``ValueError`` unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _largest_power_of_two_below(end - start)
        if index < middle:
            path.append(_range_hash(middle, end, hash_at))
            end = middle
        else:
            path.append(_range_hash(start, middle, hash_at))
            start = middle
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, hash_at: HashAt) -> list[bytes]:
    """Return the proof that tree ``old_size`` is a prefix of tree ``new_size`` (§2.1.4.1).

    Empty when ``old_size`` is 0 or equal to ``new_size``; otherwise at most
    ``ceil(log2(new_size)) + 1`` hashes, in RFC order. Raises ``ValueError`` unless
    ``0 <= old_size <= new_size``.
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"cannot prove {old_size} -> {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end = 0, new_size
    whole = True  # the RFC's "b": still on the path of the old root itself
    while old_size != end:
        middle = start + _largest_power_of_two_below(end - start)
        if old_size <= middle:
            proof.append(_range_hash(middle, end, hash_at))
            end = middle
        else:
            proof.append(_range_hash(start, middle, hash_at))
            start = middle
            whole = False
    if not whole:
        proof.append(_range_hash(start, end, hash_at))
    proof.reverse()
    return proof


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Implements RFC 9162 §2.1.3.2. Returns ``None`` on success.

    Raises:
        ProofError: the proof does not verify, has the wrong length, contains a hash that is
            not 32 bytes, or ``index >= size``.
    """
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE or len(root) != HASH_SIZE:
        raise ProofError("leaf hash and root must be 32 bytes")
    fn, sn = index, size - 1
    value = leaf_hash
    for sibling in proof:
        if len(sibling) != HASH_SIZE:
            raise ProofError("proof hash is not 32 bytes")
        if sn == 0:
            raise ProofError(f"inclusion proof for leaf {index} of {size} is too long")
        if fn & 1 or fn == sn:
            value = node_hash(sibling, value)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            value = node_hash(value, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"inclusion proof for leaf {index} of {size} is too short")
    if value != root:
        raise ProofError(f"leaf {index} is not included in the tree of size {size} with this root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree ``old_size``/``old_root`` is a prefix of ``new_size``/``new_root``.

    Implements RFC 9162 §2.1.4.2, plus its trivial cases: from the empty tree the proof MUST be
    empty and ``old_root`` MUST be :data:`EMPTY_ROOT`; for equal sizes the proof MUST be empty
    and the roots equal. Returns ``None`` on success.

    Raises:
        ProofError: ``old_size > new_size`` (a rollback), or the proof does not verify.
    """
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"tree size went from {old_size} to {new_size}")
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        raise ProofError("roots must be 32 bytes")
    if old_size == 0:
        if proof:
            raise ProofError("consistency proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise ProofError("the root of the empty tree is SHA-256 of the empty string")
        return
    if old_size == new_size:
        if proof:
            raise ProofError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    for value in proof:
        if len(value) != HASH_SIZE:
            raise ProofError("proof hash is not 32 bytes")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old tree is a perfect subtree: its root is the seed
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_value = new_value = path[0]
    for value in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof {old_size} -> {new_size} is too long")
        if fn & 1 or fn == sn:
            old_value = node_hash(value, old_value)
            new_value = node_hash(value, new_value)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_value = node_hash(new_value, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof {old_size} -> {new_size} is too short")
    if old_value != old_root:
        raise ProofError(f"consistency proof does not match the old root (size {old_size})")
    if new_value != new_root:
        raise ProofError(f"consistency proof does not match the new root (size {new_size})")


class MemoryTree:
    """A whole Merkle tree kept in memory: every perfect subtree hash, level by level.

    For tests, tooling and small logs. Memory is about twice the leaf hashes.
    :meth:`hash_at` is a valid ``hash_at`` for :func:`inclusion_proof` and
    :func:`consistency_proof` for any tree size up to :attr:`size`.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        """Build the tree over the given 32-byte leaf hashes."""
        base = list(leaf_hashes)
        for value in base:
            _check_hash(value, "leaf hash")
        self._levels: list[list[bytes]] = [base]
        self._grow(0)

    def _grow(self, old_size: int) -> None:
        """Recompute the perfect nodes that appending leaves ``old_size..`` created."""
        levels = self._levels
        level = 0
        first = old_size  # first index at this level that may be new
        while len(levels[level]) > 1:
            below = levels[level]
            if level + 1 == len(levels):
                levels.append([])
            above = levels[level + 1]
            first >>= 1
            del above[first:]
            iterator = iter(below[2 * first :])
            for left, right in zip(iterator, iterator, strict=False):
                above.append(node_hash(left, right))
            level += 1

    def append(self, leaf_hash: bytes) -> None:
        """Append one leaf hash."""
        self.extend([leaf_hash])

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaf hashes in order."""
        new = list(leaf_hashes)
        for value in new:
            _check_hash(value, "leaf hash")
        old_size = self.size
        self._levels[0].extend(new)
        self._grow(old_size)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    @property
    def leaf_hashes(self) -> Sequence[bytes]:
        """The leaf hashes (level 0), read-only view."""
        return tuple(self._levels[0])

    def hash_at(self, level: int, index: int) -> bytes:
        """Hash of the perfect subtree at ``(level, index)``; ``ValueError`` if it is not complete."""
        if level < 0 or index < 0 or level >= len(self._levels) or index >= len(self._levels[level]):
            raise ValueError(f"no complete subtree at level {level}, index {index}")
        return self._levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        """Root of the tree of the first ``size`` leaves (default: all of them)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside 0..{self.size}")
        if size == 0:
            return EMPTY_ROOT
        return _range_hash(0, size, self.hash_at)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"size {size} exceeds the {self.size} leaves held")
        return inclusion_proof(index, size, self.hash_at)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """Consistency proof from the first ``old_size`` to the first ``new_size`` leaves."""
        new_size = self.size if new_size is None else new_size
        if new_size > self.size:
            raise ValueError(f"size {new_size} exceeds the {self.size} leaves held")
        return consistency_proof(old_size, new_size, self.hash_at)
