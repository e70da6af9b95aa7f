"""The batch sequencer's pure step.

Given the log's current tree and a batch of consumed decisions, :func:`sequence_batch` decides
which decisions become entries (each decision ``event_id`` once, whatever the redeliveries),
assigns consecutive indexes, builds each entry's canonical leaf bytes and hash, extends the tree
and signs one checkpoint for the new size. The service stores the plan in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from consentry_shared.contracts.v1 import DecisionEvent, LedgerEntry
from consentry_shared.tlog import Checkpoint, CompactRange, Signer, canonical_json, leaf_hash, sign_note

# tlog-tiles entry bundles prefix each entry with a 16-bit length.
MAX_LEAF_BYTES = 0xFFFF


@dataclass(frozen=True, slots=True)
class PositionedDecision:
    """A decision and where it was consumed from (the ledger records the source position)."""

    decision: DecisionEvent
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class SequencedEntry:
    """One new log entry: its index, its canonical leaf bytes and the leaf hash."""

    index: int
    event_id: str
    manifest_id: str
    item_id: str
    verdict: str
    leaf: bytes
    leaf_hash: bytes


@dataclass(slots=True)
class AppendPlan:
    """Everything one append transaction writes."""

    entries: list[SequencedEntry]
    tree: CompactRange
    checkpoint_note: str | None
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    too_large: list[PositionedDecision] = field(default_factory=list)


def entry_leaf(entry: LedgerEntry) -> bytes:
    """The leaf bytes of ``entry``: RFC 8785 canonical JSON of its JSON form, nulls left out."""
    return canonical_json(entry.model_dump(mode="json", exclude_none=True))


def sequence_batch(
    batch: Sequence[PositionedDecision],
    *,
    tree: CompactRange,
    known_event_ids: Collection[str],
    origin: str,
    signer: Signer,
) -> AppendPlan:
    """Plan the append of ``batch`` to a log whose current tree is ``tree``.

    Decisions whose ``event_id`` is in ``known_event_ids`` (already logged) or repeated within
    the batch are skipped. ``tree`` is not modified; the plan holds the extended copy. A
    checkpoint is signed only when the log grows. Every record's position counts towards the
    consumed offsets, skipped or not.
    """
    new_tree = tree.copy()
    seen = set(known_event_ids)
    entries: list[SequencedEntry] = []
    offsets: dict[tuple[str, int], int] = {}
    too_large: list[PositionedDecision] = []
    for positioned in batch:
        position = (positioned.topic, positioned.partition)
        offsets[position] = max(offsets.get(position, -1), positioned.offset)
        decision = positioned.decision
        if decision.event_id in seen:
            continue
        entry = LedgerEntry(
            index=new_tree.size,
            event_id=decision.event_id,
            manifest_id=decision.manifest_id,
            item_id=decision.item_id,
            platform=decision.platform,
            purpose=decision.purpose,
            url=str(decision.url),
            verdict=decision.verdict,
            reasons=decision.reasons,
            evidence=decision.evidence,
            policy_version=decision.policy_version,
            registry_version=decision.registry_version,
            decided_at=decision.decided_at,
            topic=positioned.topic,
            partition=positioned.partition,
            offset=positioned.offset,
        )
        leaf = entry_leaf(entry)
        if len(leaf) > MAX_LEAF_BYTES:
            too_large.append(positioned)
            continue
        seen.add(decision.event_id)
        digest = leaf_hash(leaf)
        entries.append(
            SequencedEntry(
                index=entry.index,
                event_id=entry.event_id,
                manifest_id=entry.manifest_id,
                item_id=entry.item_id,
                verdict=entry.verdict.value,
                leaf=leaf,
                leaf_hash=digest,
            )
        )
        new_tree.append(digest)
    note = None
    if entries:
        checkpoint = Checkpoint(origin=origin, size=new_tree.size, root_hash=new_tree.root())
        note = sign_note(checkpoint.to_text(), [signer])
    return AppendPlan(
        entries=entries, tree=new_tree, checkpoint_note=note, offsets=offsets, too_large=too_large
    )
