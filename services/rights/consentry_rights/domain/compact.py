"""Hash-keyed reservations held compactly: about 80 bytes each, where a pydantic record takes kilobytes.

A reservation matched only by a content hash (a collecting society's catalogue of opted-out
works) needs nothing of the machinery of :class:`~consentry_shared.contracts.v1.Reservation`
until an item actually has that hash. As pydantic objects, 10 million of them would take well
over 10 GB; here each costs about 80 bytes: its 32-byte digest in one sorted ``bytes`` blob,
and its id, holder, purposes, validity and evidence hash in flat arrays (ids in one UTF-8 blob,
holders and purpose lists interned, times as microseconds since the epoch plus their UTC
offset, so a record comes back with the very ``isoformat()`` it went in with).

A lookup finds the digest by a 16-bit bucket table and a binary search in its bucket, and only
then builds the :class:`Reservation` objects, validated like any other, sorted by id: the same
tuple :class:`~.registry.RegistryView` returns for a hash from ordinary records.

Build with :class:`CompactReservationsBuilder` from a stream (records or plain fields), so the
pydantic objects never exist all at once. Record ids MUST be unique within one build (a registry
snapshot has one row per id); :class:`~.registry.RegistryView` refuses an id found both here and
among its ordinary reservations only when that id is looked up, so keep them apart.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from consentry_shared.contracts.v1 import Reservation

__all__ = ["CompactReservations", "CompactReservationsBuilder"]

_DIGEST: Final = 32
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NO_TIME: Final = -(2**31)  # the offset column's "no time" (valid_until absent)
_BUCKETS: Final = 1 << 16


def _micros(moment: datetime) -> tuple[int, int]:
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("reservation times must be timezone-aware")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds, int(offset.total_seconds())


def _moment(micros: int, offset: int) -> datetime:
    zone = UTC if offset == 0 else timezone(timedelta(seconds=offset))
    return (_EPOCH + timedelta(microseconds=micros)).astimezone(zone)


class CompactReservationsBuilder:
    """Collects hash-keyed reservations one at a time; :meth:`build` sorts them once."""

    def __init__(self) -> None:
        self._digests = bytearray()
        self._ids = bytearray()
        self._id_ends = array("Q")
        self._holders: dict[str, int] = {}
        self._holder = array("I")
        self._purpose_sets: dict[tuple[str, ...], int] = {}
        self._purposes = array("H")
        self._from = array("q")
        self._from_offset = array("i")
        self._until = array("q")
        self._until_offset = array("i")
        self._evidence_hashes: dict[str | None, int] = {None: 0}
        self._evidence = array("I")

    def __len__(self) -> int:
        return len(self._holder)

    def add(self, reservation: Reservation) -> None:
        """Add a reservation whose match is a sha256 and nothing else (``ValueError`` if not)."""
        match = reservation.match
        if (
            match.sha256 is None
            or match.domain is not None
            or match.url_prefix is not None
            or match.md5 is not None
            or match.identifier is not None
        ):
            raise ValueError(f"reservation {reservation.id}: only a sha256-only match is held compactly")
        if "*" not in reservation.territories:
            # The compact form keeps no territories: a scoped reservation held here would bind
            # everywhere (safe) but say so wrongly; refuse it rather than change its meaning.
            raise ValueError(f"reservation {reservation.id}: only a worldwide reservation is held compactly")
        self.add_fields(
            record_id=reservation.id,
            holder=reservation.holder,
            sha256=match.sha256,
            purposes=reservation.purposes,
            valid_from=reservation.valid_from,
            valid_until=reservation.valid_until,
            evidence_sha256=reservation.evidence_sha256,
        )

    def add_fields(
        self,
        *,
        record_id: str,
        holder: str,
        sha256: str,
        purposes: Sequence[str],
        valid_from: datetime,
        valid_until: datetime | None = None,
        evidence_sha256: str | None = None,
    ) -> None:
        """Add one reservation by its fields (as a registry store row holds them). The fields
        are validated when the record is looked up; a malformed hash is refused here."""
        try:
            digest = bytes.fromhex(sha256)
        except ValueError:
            digest = b""
        if len(digest) != _DIGEST:
            raise ValueError(f"reservation {record_id}: sha256 must be 64 hex digits")
        # Every check before the first append: a refused record leaves no partial row behind.
        start = _micros(valid_from)
        end = None if valid_until is None else _micros(valid_until)
        self._digests += digest
        self._ids += record_id.encode()
        self._id_ends.append(len(self._ids))
        self._holder.append(self._holders.setdefault(holder, len(self._holders)))
        key = tuple(purposes)
        self._purposes.append(self._purpose_sets.setdefault(key, len(self._purpose_sets)))
        self._from.append(start[0])
        self._from_offset.append(start[1])
        self._until.append(0 if end is None else end[0])
        self._until_offset.append(_NO_TIME if end is None else end[1])
        self._evidence.append(self._evidence_hashes.setdefault(evidence_sha256, len(self._evidence_hashes)))

    def build(self) -> CompactReservations:
        """Sort by digest (a counting sort on the first two bytes, then each small bucket)."""
        digests = self._digests
        count = len(self._holder)
        starts = array("I", bytes(4 * (_BUCKETS + 1)))
        for row in range(count):
            starts[(digests[row * _DIGEST] << 8 | digests[row * _DIGEST + 1]) + 1] += 1
        for bucket in range(_BUCKETS):
            starts[bucket + 1] += starts[bucket]
        placed = array("I", bytes(4 * count))
        fill = array("I", starts)
        for row in range(count):
            bucket = digests[row * _DIGEST] << 8 | digests[row * _DIGEST + 1]
            placed[fill[bucket]] = row
            fill[bucket] += 1
        del fill
        view = memoryview(digests)
        order = array("I")
        for bucket in range(_BUCKETS):
            rows = placed[starts[bucket] : starts[bucket + 1]]
            if len(rows) > 1:
                rows = array(
                    "I", sorted(rows, key=lambda row: view[row * _DIGEST : (row + 1) * _DIGEST].tobytes())
                )
            order.extend(rows)
        del placed
        sorted_digests = bytearray(len(digests))  # filled in place: no list of 10M slices
        for position, row in enumerate(order):
            sorted_digests[position * _DIGEST : (position + 1) * _DIGEST] = view[
                row * _DIGEST : (row + 1) * _DIGEST
            ]
        view.release()
        del digests
        self._digests = bytearray()  # the unsorted copy goes before the builder is dropped
        return CompactReservations(
            digests=sorted_digests,
            order=order,
            starts=starts,
            ids=bytes(self._ids),
            id_ends=self._id_ends,
            holders=list(self._holders),
            holder=self._holder,
            purpose_sets=[list(key) for key in self._purpose_sets],
            purposes=self._purposes,
            valid_from=(self._from, self._from_offset),
            valid_until=(self._until, self._until_offset),
            evidence_hashes=list(self._evidence_hashes),
            evidence=self._evidence,
        )


_BUILT_LIMIT = 4096
"""Rebuilt hits kept per view (~3 KB each): enough for a working set of popular works."""


class CompactReservations:
    """An immutable set of hash-keyed reservations; see the module docstring."""

    __slots__ = (
        "_built",
        "_digests",
        "_evidence",
        "_evidence_hashes",
        "_from",
        "_from_offset",
        "_holder",
        "_holders",
        "_id_ends",
        "_ids",
        "_order",
        "_purpose_sets",
        "_purposes",
        "_starts",
        "_until",
        "_until_offset",
    )

    def __init__(
        self,
        *,
        digests: bytes | bytearray,  # private and never written after the build
        order: array[int],
        starts: array[int],
        ids: bytes,
        id_ends: array[int],
        holders: list[str],
        holder: array[int],
        purpose_sets: list[list[str]],
        purposes: array[int],
        valid_from: tuple[array[int], array[int]],
        valid_until: tuple[array[int], array[int]],
        evidence_hashes: list[str | None],
        evidence: array[int],
    ) -> None:
        self._digests = digests
        self._order = order
        self._starts = starts
        self._ids = ids
        self._id_ends = id_ends
        self._holders = holders
        self._holder = holder
        self._purpose_sets = purpose_sets
        self._purposes = purposes
        self._from, self._from_offset = valid_from
        self._until, self._until_offset = valid_until
        self._evidence_hashes = evidence_hashes
        self._evidence = evidence
        # Records rebuilt for recent hits: building one costs ~6 µs, and the same works recur.
        self._built: dict[str, tuple[Reservation, ...]] = {}

    @classmethod
    def of(cls, reservations: Iterable[Reservation]) -> CompactReservations:
        """Build from sha256-only reservations (see :meth:`CompactReservationsBuilder.add`)."""
        builder = CompactReservationsBuilder()
        for reservation in reservations:
            builder.add(reservation)
        return builder.build()

    def __len__(self) -> int:
        return len(self._order)

    def nbytes(self) -> int:
        """The bytes held by the blobs and arrays (the interned tables aside)."""
        arrays = (self._order, self._starts, self._id_ends, self._holder, self._purposes, self._evidence)
        times = (self._from, self._from_offset, self._until, self._until_offset)
        return (
            len(self._digests)
            + len(self._ids)
            + sum(column.itemsize * len(column) for column in (*arrays, *times))
        )

    def _span(self, sha256: str) -> tuple[int, int]:
        """The positions [first, end) of this hash in the sorted digests (empty if absent)."""
        try:
            digest = bytes.fromhex(sha256)
        except ValueError:
            return 0, 0
        if len(digest) != _DIGEST:
            return 0, 0
        bucket = digest[0] << 8 | digest[1]
        low, high = self._starts[bucket], self._starts[bucket + 1]
        digests = self._digests
        while low < high:  # leftmost position whose digest is >= the one sought
            middle = (low + high) // 2
            if digests[middle * _DIGEST : (middle + 1) * _DIGEST] < digest:
                low = middle + 1
            else:
                high = middle
        end = low
        while end < self._starts[bucket + 1] and digests[end * _DIGEST : (end + 1) * _DIGEST] == digest:
            end += 1
        return low, end

    def __contains__(self, sha256: object) -> bool:
        if not isinstance(sha256, str):
            return False
        first, end = self._span(sha256)
        return end > first

    def for_sha256(self, sha256: str) -> tuple[Reservation, ...]:
        """The reservations of this (lower-case hex) hash, by id; ``()`` if there are none."""
        built = self._built.get(sha256)
        if built is not None:
            return built
        first, end = self._span(sha256)
        if first == end:
            return ()
        found = [self._record(self._order[position], sha256) for position in range(first, end)]
        built = tuple(sorted(found, key=lambda record: record.id))
        if len(self._built) >= _BUILT_LIMIT:
            self._built.clear()  # a bound, not an LRU: hot hashes come straight back
        self._built[sha256] = built
        return built

    def _record(self, row: int, sha256: str) -> Reservation:
        start = self._id_ends[row - 1] if row else 0
        until_offset = self._until_offset[row]
        return Reservation.model_validate(
            {
                "id": self._ids[start : self._id_ends[row]].decode(),
                "holder": self._holders[self._holder[row]],
                "evidence_sha256": self._evidence_hashes[self._evidence[row]],
                "match": {"sha256": sha256},
                "purposes": self._purpose_sets[self._purposes[row]],
                "from": _moment(self._from[row], self._from_offset[row]),
                "until": None if until_offset == _NO_TIME else _moment(self._until[row], until_offset),
            }
        )
