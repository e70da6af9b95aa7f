"""Which registry records a rights instance needs for the ``items.v1`` partitions it holds.

Items are keyed by their sha256 (as ingest spells it: the 64 lower-case hex characters, ASCII),
else by their URL, and Kafka puts a key on ``partition(key, count)`` (murmur2). A record that can
match an item *only* through one sha256 -- a reservation or deal whose match is just a hash, or a
work known only by its sha256 -- can only ever cover items with that hash, and those are keyed by
it: such a record is needed only by the instance holding that hash's partition. A record with a
domain, URL prefix, md5 or work identifier (ISBN, DOI...) can match an item keyed by any hash or
URL, so every instance keeps it; holder records are kept too (they match nothing, cost little).

Never fail open: this module only ever leaves out a record that provably cannot match an item of
the held partitions. Anything else -- a record with a hash *and* a domain, an unknown kind -- is
kept. Items that arrive on a partition their hash does not map to (a producer choosing partitions
itself, a partition count that changed) are the caller's to catch with
:meth:`ShardedRecords.missing` before deciding them; :meth:`RegistryShard.widened` makes the share
that covers them. That check looks the item's hash up among the hashes left out (a
:class:`DigestSet`, 8 bytes per hash, 0.6-1.2 us a lookup here) rather than re-deriving its
partition from its key, so it flags only the items a left-out record could actually match.

The partitioner is passed in (the Kafka adapter's ``partition_for``) so this module does no I/O
and depends on no client library.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from pydantic import BaseModel

from consentry_shared.contracts.v1 import Deal, Holder, Reservation, Work

__all__ = [
    "DigestSet",
    "Partitioner",
    "RegistryShard",
    "ShardedRecords",
    "ShardedRecordsBuilder",
    "digest_prefix",
    "hash_only_selector",
    "item_key",
    "shard_records",
]

Partitioner = Callable[[bytes, int], int]
"""``(key, partition count) -> partition``: Kafka's default partitioner."""


def item_key(sha256: str) -> bytes:
    """The ``items.v1`` key of an item with this content hash (see ingest's ``_publish``)."""
    return sha256.lower().encode("ascii")


# Fields of a work that say nothing about which items it covers. Any other field that is set (md5,
# an identifier, a creator id, whatever a later contract adds) may match items keyed by anything,
# so such a work is kept everywhere: a field nobody listed here errs on the safe side.
_WORK_NOT_SELECTORS: Final = frozenset({"kind", "id", "holder", "license", "evidence_sha256", "sha256"})


def _unset(model: BaseModel, keep: frozenset[str]) -> bool:
    """Whether every field of ``model`` outside ``keep`` is unset (None or empty)."""
    return all(
        getattr(model, name) in (None, "", [], ()) for name in type(model).model_fields if name not in keep
    )


_SHA256_ONLY: Final = frozenset({"sha256"})


def hash_only_selector(record: Reservation | Deal | Work | Holder) -> str | None:
    """The one sha256 through which ``record`` can match an item, or ``None`` when it can also
    match by something else (a domain, URL prefix, md5, identifier -- any selector but the
    sha256, including ones added later) and so may be needed on any partition."""
    if isinstance(record, Work):
        if record.sha256 is None or not _unset(record, _WORK_NOT_SELECTORS):
            return None
        return record.sha256.lower()
    if isinstance(record, Reservation | Deal):
        match = record.match
        if match.sha256 is not None and _unset(match, _SHA256_ONLY):
            return match.sha256.lower()
    return None


@dataclass(frozen=True, slots=True)
class RegistryShard:
    """The share of ``items.v1`` an instance decides: ``held`` among ``partitions`` partitions.

    ``partitions`` MUST be the partition count ``items.v1`` has (the one its producers hash
    with); a share built on another count is still safe -- :meth:`missing` reports every item it
    does not cover -- but then covers fewer items.
    """

    partitions: int
    held: frozenset[int]
    partition_of: Partitioner = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"partition count must be >= 1, got {self.partitions}")
        outside = sorted(p for p in self.held if not 0 <= p < self.partitions)
        if outside:
            raise ValueError(f"partitions {outside} are outside 0..{self.partitions - 1}")

    @property
    def is_whole(self) -> bool:
        """Whether every partition is held (then nothing is left out and nothing need be hashed)."""
        return len(self.held) == self.partitions

    def partition_of_hash(self, sha256: str) -> int:
        """The partition an item with this content hash is keyed to."""
        return self.partition_of(item_key(sha256), self.partitions)

    def holds_hash(self, sha256: str) -> bool:
        """Whether items with this content hash belong to this share."""
        return self.is_whole or self.partition_of_hash(sha256) in self.held

    def needs(self, record: Reservation | Deal | Work | Holder) -> bool:
        """Whether ``record`` could match an item of this share (when in doubt: yes)."""
        sha256 = hash_only_selector(record)
        return sha256 is None or self.holds_hash(sha256)

    def widened(self, partitions: Iterable[int]) -> RegistryShard:
        """This share plus ``partitions``."""
        return RegistryShard(self.partitions, self.held | frozenset(partitions), self.partition_of)


_BUCKET_SHIFT = 48  # a digest's bucket: its first 16 bits


def digest_prefix(digest: str) -> int:
    """The first 64 bits of a hex digest, as :class:`DigestSet` keeps it."""
    return int(digest[:16], 16)


class DigestSet:
    """A set of sha256 hex digests in 8 bytes each: their first 64 bits, sorted, found by a
    16-bit bucket table and a binary search within the bucket.

    Two digests sharing their first 64 bits are one member, so a lookup may answer yes for a
    hash that was never added (about ``len / 2**64``); callers use a yes only to widen what they
    hold, so a false yes costs work, never a verdict. A no is exact.
    """

    __slots__ = ("_bucket_starts", "_prefixes")

    def __init__(self, digests: Iterable[str] = (), *, prefixes: Iterable[int] = ()) -> None:
        """From hex digests, or from their first 64 bits (``prefixes``, as :func:`digest_prefix`)."""
        wanted = {digest_prefix(digest) for digest in digests}
        wanted.update(prefixes)
        self._prefixes = array("Q", sorted(wanted))
        self._bucket_starts = array(
            "I", (bisect_left(self._prefixes, bucket << _BUCKET_SHIFT) for bucket in range((1 << 16) + 1))
        )

    def __contains__(self, digest: str) -> bool:
        prefix = digest_prefix(digest)
        bucket = prefix >> _BUCKET_SHIFT
        low, high = self._bucket_starts[bucket], self._bucket_starts[bucket + 1]
        if low == high:
            return False
        index = bisect_left(self._prefixes, prefix, low, high)
        return index < high and self._prefixes[index] == prefix

    def __len__(self) -> int:
        return len(self._prefixes)

    def nbytes(self) -> int:
        """Bytes of its two arrays (what it adds to an instance's memory)."""
        return len(self._prefixes) * 8 + len(self._bucket_starts) * 4


@dataclass(frozen=True, slots=True)
class ShardedRecords:
    """What :func:`shard_records` kept for ``shard``, how many hash-keyed records it kept and
    left out, and the hashes of those left out."""

    records: list[Reservation | Deal | Work | Holder]
    hash_keyed_kept: int
    hash_keyed_left_out: int
    shard: RegistryShard | None = None
    left_out: DigestSet = field(default_factory=DigestSet)

    def missing(self, sha256s: Iterable[str | None]) -> frozenset[int]:
        """The partitions of those content hashes whose records were left out: an item with one
        of them MUST NOT be decided with a view of :attr:`records`; a view for
        ``shard.widened(...)`` of them covers it. ``None`` (no hash) is always covered, since
        hash-only records cannot match an item without a hash."""
        shard, left_out = self.shard, self.left_out
        if shard is None or not len(left_out):
            return frozenset()
        return frozenset(
            shard.partition_of_hash(sha256)
            for sha256 in sha256s
            if sha256 is not None and sha256.lower() in left_out
        )


class ShardedRecordsBuilder:
    """:func:`shard_records` one record at a time, so a registry read page by page never has the
    records of other partitions alive all at once: each is dropped as soon as it is seen."""

    __slots__ = ("_hash_kept", "_kept", "_left_out", "_shard")

    def __init__(self, shard: RegistryShard) -> None:
        self._shard = shard
        self._kept: list[Reservation | Deal | Work | Holder] = []
        self._left_out = array("Q")
        self._hash_kept = 0

    def add(self, record: Reservation | Deal | Work | Holder) -> None:
        """Keep ``record`` if the share needs it, else remember only its hash."""
        shard = self._shard
        sha256 = hash_only_selector(record)
        if sha256 is None:
            self._kept.append(record)
        elif shard.is_whole or shard.partition_of_hash(sha256) in shard.held:
            self._kept.append(record)
            self._hash_kept += 1
        else:
            self._left_out.append(digest_prefix(sha256))

    def build(self) -> ShardedRecords:
        """What was kept, in the order it was added, and the hashes left out."""
        left_out = self._left_out
        return ShardedRecords(
            self._kept, self._hash_kept, len(left_out), self._shard, DigestSet(prefixes=left_out)
        )


def shard_records(
    records: Iterable[Reservation | Deal | Work | Holder], shard: RegistryShard
) -> ShardedRecords:
    """The records an instance holding ``shard`` needs: every record that can match by domain or
    URL prefix, and the hash-only ones whose hash is keyed to a held partition. Order is kept."""
    builder = ShardedRecordsBuilder(shard)
    for record in records:
        builder.add(record)
    return builder.build()
