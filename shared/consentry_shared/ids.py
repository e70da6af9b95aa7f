"""Deterministic event ids: RFC 4122 version-5 UUIDs, computed without building ``uuid.UUID``s.

Every id a consumer deduplicates on (item events, decisions) is derived from what it stands for,
so a redelivery or a re-submission repeats it. ``uuid5(ns, name) == str(uuid.uuid5(ns, name))``
(a test holds them equal); this spelling is about 2.5x faster on the hot path.
"""

from __future__ import annotations

import hashlib
import uuid

__all__ = ["uuid5"]


def uuid5(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, faster."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
