"""The duplicate-id index of one manifest: 64-bit id digests and the line each was first seen on.

It is the only part of a manifest's validation whose memory grows with the manifest, so it is
kept compact: an open-addressing table (linear probing) in two flat arrays, 8 bytes of digest and
4 bytes of line per slot, at most three quarters full. That is 16 to 32 bytes per item (about
200 MB for ten million items) where a ``dict[int, int]`` costs about 120.

A digest of 0 marks an empty slot, so a real digest of 0 is stored as 1; the two then collide,
like any two ids whose 64-bit digests are equal (a chance of about ``n**2 / 2**65``: 3e-6 at ten
million items), and the later one is reported as a duplicate.
"""

from __future__ import annotations

import hashlib
from array import array

__all__ = ["IdIndex", "id_digest"]

_MAX_LINE = 0xFFFFFFFF


def id_digest(item_id: str) -> int:
    """The 64-bit BLAKE2b digest of an item id, as an int."""
    return int.from_bytes(hashlib.blake2b(item_id.encode("utf-8"), digest_size=8).digest(), "little")


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
        keys = self._keys
        mask = self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == 0:
                keys[slot] = key
                self._lines[slot] = line if line <= _MAX_LINE else _MAX_LINE
                self._size += 1
                if self._size > self._grow_at:
                    self._grow()
                return None
            if found == key:
                return self._lines[slot]
            slot = (slot + 1) & mask

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
