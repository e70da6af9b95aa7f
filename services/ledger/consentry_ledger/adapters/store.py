"""The ledger's storage port.

Contract (every adapter MUST keep it; ``tests/contract/test_ledger_store.py`` checks SQLite and
PostgreSQL alike):

- :meth:`LedgerStore.append` writes a plan's entries, its checkpoint (with the tree frontier) and
  the consumed offsets in ONE transaction, and only if the log still has ``base_size`` entries;
  otherwise it raises :class:`AppendConflict` and writes nothing.
- Entries, checkpoints and cosignatures are never updated or deleted; indexes are contiguous
  from 0.
- ``event_id`` is unique: :meth:`known_event_ids` tells which of a batch are already logged.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

from consentry_ledger.domain import AppendPlan


class LedgerStoreError(Exception):
    """Base of the storage errors."""


class AppendConflict(LedgerStoreError):
    """The log grew under us (another writer): reload the state and sequence again."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    note: str
    tree: bytes


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    index: int
    leaf: bytes


class LedgerStore(abc.ABC):
    """Where the log lives. Adapters: :mod:`consentry_ledger.adapters.sql` (SQLite, PostgreSQL)."""

    @abc.abstractmethod
    async def initialise(self) -> None:
        """Create the tables if needed."""

    @abc.abstractmethod
    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The newest checkpoint, or ``None`` for an empty log."""

    @abc.abstractmethod
    async def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        """The subset of ``event_ids`` already in the log."""

    @abc.abstractmethod
    async def append(self, plan: AppendPlan, *, base_size: int) -> None:
        """Store ``plan`` atomically on a log of ``base_size`` entries (see the module contract)."""

    @abc.abstractmethod
    async def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf bytes of entries ``[start, end)`` (fewer if the log is shorter)."""

    @abc.abstractmethod
    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """Stored leaf hashes of entries ``[start, end)`` (fewer if the log is shorter)."""

    @abc.abstractmethod
    async def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint signed for tree size ``size``, or ``None`` if the log never signed that size."""

    @abc.abstractmethod
    async def index_of_event(self, event_id: str) -> int | None:
        """Index of the entry of decision ``event_id``, or ``None``."""

    @abc.abstractmethod
    async def indexes_of_item(self, manifest_id: str, item_id: str) -> list[int]:
        """Indexes of the entries of item ``item_id`` of manifest ``manifest_id``, ascending."""

    @abc.abstractmethod
    async def add_cosignature(self, size: int, key_id: bytes, witness: str, line: str) -> bool:
        """Keep a (verified) witness cosignature line of the checkpoint of ``size``; ``False`` if
        that witness key had already cosigned that size (the first line is kept)."""

    @abc.abstractmethod
    async def cosignatures(self, size: int) -> list[str]:
        """The cosignature lines kept for the checkpoint of ``size``, ordered by witness."""

    @abc.abstractmethod
    async def latest_cosigned_size(self, key_ids: Sequence[bytes], quorum: int) -> int | None:
        """The largest size cosigned by at least ``quorum`` of the witness keys ``key_ids``."""

    @abc.abstractmethod
    async def manifest_entries(self, manifest_id: str) -> list[ManifestEntry]:
        """Every entry of ``manifest_id`` in index order."""

    @abc.abstractmethod
    async def manifest_count(self, manifest_id: str) -> int:
        """How many entries ``manifest_id`` has."""

    @abc.abstractmethod
    async def offsets(self) -> dict[tuple[str, int], int]:
        """The last consumed offset of each (topic, partition)."""

    @abc.abstractmethod
    async def published_size(self) -> int:
        """How many entries have been published to ``ledger.entries.v1`` (the outbox mark)."""

    @abc.abstractmethod
    async def mark_published(self, size: int) -> None:
        """Move the outbox mark forward to ``size``."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached (readiness)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""
