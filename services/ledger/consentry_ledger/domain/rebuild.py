"""Rebuilding the log from ``ledger.entries.v1``: the pure checks and plans.

The topic carries every entry's leaf bytes keyed by its index (the ledger's outbox publishes
them after each commit, at least once). A rebuild reads it from offset 0 in index order and
:class:`LogRebuilder` accepts each record: the index must be the next one (a repeat of an
earlier index is skipped only if its bytes are identical), the leaf must be a schema-valid
entry in canonical form carrying that index, each source partition's offsets must rise, and,
when a reference is given, its leaf hash must be the reference's. :meth:`LogRebuilder.finish`
then requires exactly the reference checkpoint's size and root. The first failure is a
:class:`RebuildRefused` naming the entry.

:func:`chunk_plan` turns accepted entries into the same :class:`AppendPlan` the sequencer
makes, so the store writes a rebuilt log exactly as it writes a live one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError

from consentry_shared.contracts.v1 import LedgerEntry
from consentry_shared.contracts.written import written_form
from consentry_shared.tlog import Checkpoint, CompactRange, Signer, leaf_hash, sign_note

from .sequencer import AppendPlan, SequencedEntry, entry_leaf

__all__ = ["LogRebuilder", "RebuildRefused", "chunk_plan"]


class RebuildRefused(Exception):
    """The topic does not rebuild the signed log; the message names the first bad entry."""


@dataclass
class LogRebuilder:
    """Accepts a log's entries in index order and checks they rebuild ``size`` and ``root``.

    ``reference`` gives the leaf hash the log is known to have at an index (an export's tiles,
    or an earlier pass over the same topic); without it a bad entry that is still a valid entry
    is caught only by the final root, which cannot say which entry it was.
    """

    size: int
    root: bytes
    reference: Callable[[int], bytes] | None = None
    tree: CompactRange = field(default_factory=CompactRange)
    hashes: list[bytes] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def next_index(self) -> int:
        return len(self.hashes)

    def accept(self, index: int, leaf: bytes, where: str = "") -> SequencedEntry | None:
        """Check the record of entry ``index`` (``where`` says where it was read); the entry to
        store, or ``None`` for an identical repeat of one already accepted.

        Raises:
            RebuildRefused: naming the entry that breaks contiguity, schema, form or hashing.
        """
        at = f" ({where})" if where else ""
        expected = self.next_index
        digest = leaf_hash(leaf)
        if index < expected:
            if self.hashes[index] == digest:
                return None  # the outbox published it again after a restart: same bytes
            raise RebuildRefused(f"entry {index}{at} appears again with different bytes")
        if index >= self.size:
            raise RebuildRefused(
                f"entry {index}{at} is beyond the checkpoint of size {self.size}: give the latest checkpoint"
            )
        if index > expected:
            raise RebuildRefused(f"entry {expected} is missing: the next entry on the topic is {index}{at}")
        try:
            entry = LedgerEntry.model_validate_json(leaf)
        except ValidationError as error:
            first = error.errors()[0]
            name = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise RebuildRefused(f"entry {index}{at}: field {name}: {first['msg']}") from None
        if entry.index != index:
            raise RebuildRefused(f"entry {index}{at} carries index {entry.index}")
        if written_form(entry) != leaf and entry_leaf(entry) != leaf:
            raise RebuildRefused(f"entry {index}{at} is not in RFC 8785 canonical form")
        if self.reference is not None:
            known = self.reference(index)
            if known != digest:
                raise RebuildRefused(
                    f"entry {index}{at} hashes to {digest.hex()}, the log has {known.hex()}: it was altered"
                )
        position = (entry.topic, entry.partition)
        previous = self.offsets.get(position)
        if previous is not None and entry.offset <= previous:
            raise RebuildRefused(
                f"entry {index}{at}: source offset {entry.offset} of {entry.topic}/{entry.partition} "
                f"is not after {previous}"
            )
        self.offsets[position] = entry.offset
        self.hashes.append(digest)
        self.tree.extend([digest])
        return SequencedEntry(
            index, entry.event_id, entry.manifest_id, entry.item_id, entry.verdict.value, leaf, digest
        )

    def finish(self) -> None:
        """Require the whole log: the checkpoint's size and root.

        Raises:
            RebuildRefused: entries are missing, or the root differs (the first entry that differs
                cannot be named without a reference).
        """
        if self.next_index < self.size:
            raise RebuildRefused(
                f"entry {self.next_index} is missing: the topic ends there, the checkpoint has {self.size}"
            )
        if self.tree.root() != self.root:
            raise RebuildRefused(
                f"the {self.size} entries rebuild root {self.tree.root().hex()}, the checkpoint has "
                f"{self.root.hex()}: an entry was altered (give an export to locate it)"
            )


def chunk_plan(
    entries: Sequence[SequencedEntry],
    tree: CompactRange,
    offsets: dict[tuple[str, int], int],
    *,
    note: str | None,
    signer: Signer,
    origin: str,
) -> AppendPlan:
    """The plan that stores ``entries`` (``tree`` already extended by them).

    ``note`` is the signed checkpoint to store for this size when there is one (the reference
    checkpoint, at the end); otherwise a checkpoint of this size is signed with ``signer``. It
    states a true prefix of the signed log, as the ledger's per-batch checkpoints do.
    """
    if note is None:
        note = sign_note(Checkpoint(origin=origin, size=tree.size, root_hash=tree.root()).to_text(), [signer])
    return AppendPlan(entries=list(entries), tree=tree.copy(), checkpoint_note=note, offsets=dict(offsets))
