"""Duplicate item ids in a manifest of any size, in bounded memory.

:class:`DuplicateIds` is what the parsers ask "was this id seen before, and on which line?".
The first ``memory_entries`` ids (a million by default) are answered as they come, from an
:class:`IdIndex` in memory: a compact open-addressing table (linear probing) of 64-bit id digests
and first lines in two flat arrays, 12 bytes a slot, at most three quarters full (a
``dict[int, int]`` would cost about 120 bytes an item). Past that, given a :class:`SpillStore`,
an id that repeats one of those is still caught at once; any other is written to one of 256
buckets by its digest (digest, line, id) and checked when the manifest ends
(:meth:`DuplicateIds.deferred`), one bucket in memory at a time. Memory then stays bounded
whatever the manifest's size: the table of the first million ids (~25 MB), the bucket write
buffers (at most 16 MB), and one bucket at the end. The store does the I/O (files next to the
spooled upload, in the service); this module does none.

A digest of 0 marks an empty slot, so a real digest of 0 is stored as 1; the two then collide,
like any two ids whose 64-bit digests are equal (a chance of about ``n**2 / 2**65``: 3e-6 at ten
million items), and the later one is reported as a duplicate.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterator
from typing import Protocol

__all__ = ["DuplicateIds", "IdIndex", "SpillStore", "id_digest"]

_MAX_LINE = 0xFFFFFFFF
_BUCKETS = 256
_FLUSH_BYTES = 64 * 1024
_RECORD = struct.Struct("<QQI")  # digest, line, length of the UTF-8 id that follows


_DIGEST_MASK = 0xFFFFFFFFFFFFFFFF


def id_digest(item_id: str) -> int:
    """The 64-bit digest of an item id, as an unsigned int: Python's own string hash (SipHash,
    keyed afresh by each process, computed in C and cached on the string).

    Digests are compared only within one process (the spill files live and die with one
    upload), so the per-process key changes nothing but one thing for the better: a manifest
    cannot be crafted to make two different ids collide, as one could with an unkeyed hash.
    """
    return hash(item_id) & _DIGEST_MASK


class IdIndex:
    """Digest -> first line, for one manifest."""

    __slots__ = ("_grow_at", "_keys", "_lines", "_mask", "_size")

    def __init__(self, capacity: int = 1 << 12) -> None:
        slots = 1 << max(4, (capacity - 1).bit_length())
        self._keys = array("Q", bytes(8 * slots))
        self._lines = array("I", bytes(4 * slots))
        self._mask = slots - 1
        self._grow_at = slots * 3 // 4
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def slots(self) -> int:
        return self._mask + 1

    def first_seen(self, digest: int, line: int) -> int | None:
        """Record ``digest`` as seen on ``line`` and return ``None``; if it was already seen,
        change nothing and return the line it was first seen on."""
        key = digest or 1
        slot = self._slot(key)
        if self._keys[slot]:
            return self._lines[slot]
        self._keys[slot] = key
        self._lines[slot] = line if line <= _MAX_LINE else _MAX_LINE
        self._size += 1
        if self._size > self._grow_at:
            self._grow()
        return None

    def get(self, digest: int) -> int | None:
        """The line ``digest`` was first seen on, or ``None``; records nothing."""
        slot = self._slot(digest or 1)
        return self._lines[slot] if self._keys[slot] else None

    def _slot(self, key: int) -> int:
        """The slot holding ``key``, or the empty slot where it belongs (linear probing)."""
        keys = self._keys
        mask = self._mask
        slot = key & mask
        while (found := keys[slot]) and found != key:
            slot = (slot + 1) & mask
        return slot

    def _grow(self) -> None:
        old_keys, old_lines = self._keys, self._lines
        slots = 2 * (self._mask + 1)
        keys = array("Q", bytes(8 * slots))
        lines = array("I", bytes(4 * slots))
        mask = slots - 1
        for index, key in enumerate(old_keys):
            if key:
                slot = key & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = key
                lines[slot] = old_lines[index]
        self._keys, self._lines, self._mask = keys, lines, mask
        self._grow_at = slots * 3 // 4


class SpillStore(Protocol):
    """Append-only byte buckets outside memory (files, in the service)."""

    def append(self, bucket: int, data: bytes) -> None: ...

    def read(self, bucket: int) -> bytes:
        """Everything appended to ``bucket`` so far (``b""`` if nothing)."""
        ...


class DuplicateIds:
    """Exact duplicate-id detection for one pass over one manifest; see the module docstring.

    ``check=False`` gives a tracker that records nothing and finds nothing, for a pass over a
    manifest whose ids were already proven unique.
    """

    __slots__ = ("_buffers", "_check", "_index", "_limit", "_spill", "_spilled")

    def __init__(
        self, spill: SpillStore | None = None, *, memory_entries: int = 1_000_000, check: bool = True
    ) -> None:
        if memory_entries < 1:
            raise ValueError("memory_entries must be positive")
        self._check = check
        self._spill = spill
        self._limit = memory_entries
        self._index = IdIndex()
        self._spilled = False
        self._buffers: list[bytearray] = []

    @property
    def spilled(self) -> bool:
        """Whether some ids went to the spill store (so :meth:`deferred` has work to do)."""
        return self._spilled

    def first_seen(self, item_id: str, line: int) -> int | None:
        """``None`` if ``item_id`` is new as far as can be told now (it is recorded), else the
        line it was first seen on."""
        if not self._check:
            return None
        digest = hash(item_id) & _DIGEST_MASK  # id_digest, without the call
        if not self._spilled:
            first = self._index.first_seen(digest, line)
            if first is None and self._spill is not None and len(self._index) >= self._limit:
                self._spilled = True
                self._buffers = [bytearray() for _ in range(_BUCKETS)]
            return first
        first = self._index.get(digest)
        if first is not None:
            return first
        bucket = digest >> 56  # the table uses the low bits; the buckets use the top byte
        encoded = item_id.encode("utf-8")
        buffer = self._buffers[bucket]
        buffer += _RECORD.pack(digest, line, len(encoded))
        buffer += encoded
        if len(buffer) >= _FLUSH_BYTES:
            self._flush(bucket)
        return None

    def deferred(self) -> Iterator[tuple[int, int, str]]:
        """``(line, first line, id)`` of every repeat among the spilled ids, bucket by bucket
        (each bucket in the order its ids came). Call once, when the manifest has ended."""
        if not self._spilled or self._spill is None:
            return
        for bucket in range(_BUCKETS):
            self._flush(bucket)
        self._buffers = []
        for bucket in range(_BUCKETS):
            data = memoryview(self._spill.read(bucket))
            first_lines: dict[tuple[int, bytes], int] = {}
            offset = 0
            while offset < len(data):
                digest, line, length = _RECORD.unpack_from(data, offset)
                offset += _RECORD.size
                encoded = bytes(data[offset : offset + length])
                offset += length
                # Keyed by the id itself, not only its digest: a digest collision between two
                # different spilled ids is not reported as a duplicate.
                first = first_lines.get((digest, encoded))
                if first is None:
                    first_lines[digest, encoded] = line
                else:
                    yield line, first, encoded.decode("utf-8")

    def _flush(self, bucket: int) -> None:
        buffer = self._buffers[bucket]
        if buffer and self._spill is not None:
            self._spill.append(bucket, bytes(buffer))
            buffer.clear()
