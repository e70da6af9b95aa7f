"""The batch sequencer's pure step.

Given the log's current tree and a batch of consumed decisions, :func:`sequence_batch` decides
which decisions become entries (each decision ``event_id`` once, whatever the redeliveries),
assigns consecutive indexes, builds each entry's canonical leaf bytes and hash, extends the tree
and signs one checkpoint for the new size. The service stores the plan in one transaction.

The leaf of an entry is *defined* by :func:`entry_leaf`: RFC 8785 canonical JSON of the
:class:`~consentry_shared.contracts.v1.LedgerEntry` in JSON mode, nulls left out. Building and
validating a ``LedgerEntry`` per decision and canonicalising its dump costs about 11 µs, most of
the ledger's append budget, so :func:`sequence_batch` builds the same bytes directly: the
decision is already validated, the entry's keys are known, and for such values (strings,
ASCII keys, integers up to 2**53, datetimes) the compact JSON of a dict whose keys are inserted
in sorted order *is* the RFC 8785 form (same escapes: ``\\uXXXX`` lowercase for control
characters, ``\\b \\t \\n \\f \\r``, nothing else escaped; lone surrogates refused).

msgspec writes that JSON (about 0.9 µs an entry less than pydantic-core's ``to_json``), and
writes datetimes as pydantic does, with one exception: a UTC offset that is not a whole number
of minutes (only a ``tzinfo`` made in Python has one). Pydantic then writes ``+00:00`` where
msgspec writes ``Z``, so such decisions take pydantic-core's ``to_json``.
``tests/unit/test_ledger_sequencer.py`` holds the fast path byte-equal to :func:`entry_leaf`
on generated entries (any zone, any text), and fails if the contracts grow a field the fast
path does not know.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec
from pydantic_core import PydanticSerializationError, to_json

from consentry_shared.contracts.v1 import DecisionEvent, Evidence, LedgerEntry
from consentry_shared.tlog import Checkpoint, CompactRange, Signer, canonical_json, leaf_hash, sign_note

# tlog-tiles entry bundles prefix each entry with a 16-bit length.
MAX_LEAF_BYTES = 0xFFFF
# RFC 8785 numbers are IEEE doubles: integers beyond this lose precision.
_MAX_SAFE_INT = 2**53 - 1

_write_json = msgspec.json.Encoder().encode

_POSITION_FIELDS = frozenset({"index", "topic", "partition", "offset"})
ENTRY_KEYS = tuple(sorted(LedgerEntry.model_fields))
"""The entry's keys in RFC 8785 order (ASCII, so code-unit order is plain sorting)."""
EVIDENCE_KEYS = tuple(sorted(Evidence.model_fields))
DECISION_KEYS = tuple(k for k in ENTRY_KEYS if k not in _POSITION_FIELDS)
"""The entry's keys copied from the decision (all of them but the source position)."""


@dataclass(frozen=True, slots=True)
class PositionedDecision:
    """A decision and where it was consumed from (the ledger records the source position)."""

    decision: DecisionEvent
    topic: str
    partition: int
    offset: int


class SequencedEntry(NamedTuple):
    """One new log entry: its index, look-up columns, canonical leaf bytes and the leaf hash.

    A tuple in the store's column order, so adapters can bulk-insert entries as they are.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: the entry's index
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
    rejected: list[tuple[PositionedDecision, str]] = field(default_factory=list)
    """Decisions that cannot become an entry, with the reason (the service dead-letters them)."""


def entry_leaf(entry: LedgerEntry) -> bytes:
    """The leaf bytes of ``entry``: RFC 8785 canonical JSON of its JSON form, nulls left out."""
    return canonical_json(entry.model_dump(mode="json", exclude_none=True))


def _evidence(item: Evidence) -> dict[str, Any]:
    # Keys in EVIDENCE_KEYS order; nulls left out, as exclude_none does. One literal, then
    # the optional keys that are null deleted (deleting keeps the order of the others): this
    # runs for every evidence record.
    fields = item.__dict__
    out = {
        "body_sha256": fields["body_sha256"],
        "ref": fields["ref"],
        "seen_at": fields["seen_at"],
        "signal": fields["signal"],
        "value": fields["value"],
    }
    if out["body_sha256"] is None:
        del out["body_sha256"]
    if out["ref"] is None:
        del out["ref"]
    if out["seen_at"] is None:
        del out["seen_at"]
    if out["value"] is None:
        del out["value"]
    return out


def decision_leaf(positioned: PositionedDecision, index: int) -> bytes:
    """The leaf of the entry that records ``positioned`` at ``index``; equal to
    ``entry_leaf(LedgerEntry(...))`` for the same fields (see the module docstring).

    One dict literal in ENTRY_KEYS order (a test holds it to the contract), read from the
    model's ``__dict__``; the optional item inputs that are null are then deleted (as
    exclude_none would). Enum members go in as their ``_value_``, which pydantic-core writes
    natively instead of calling back into Python (about 1 µs each).

    Raises:
        ValueError: a value has no RFC 8785 form (an integer beyond 2**53, a lone surrogate).
    """
    fields = positioned.decision.__dict__
    if (
        index > _MAX_SAFE_INT
        or positioned.offset > _MAX_SAFE_INT
        or positioned.partition > _MAX_SAFE_INT
        or fields["registry_version"] > _MAX_SAFE_INT
    ):
        raise ValueError("an integer is beyond 2**53 and has no exact RFC 8785 form")
    entry = {
        "commercial": fields["commercial"],
        "decided_at": fields["decided_at"],
        "event_id": fields["event_id"],
        "evidence": [_evidence(item) for item in fields["evidence"]],
        "index": index,
        "item_id": fields["item_id"],
        "jurisdiction": fields["jurisdiction"],
        "license": fields["license"],
        "manifest_id": fields["manifest_id"],
        "offset": positioned.offset,
        "partition": positioned.partition,
        "platform": fields["platform"],
        "policy_version": fields["policy_version"],
        "purpose": fields["purpose"]._value_,
        "reasons": fields["reasons"],
        "registry_version": fields["registry_version"],
        "sha256": fields["sha256"],
        "territory": fields["territory"],
        "topic": positioned.topic,
        "url": fields["url"],
        "verdict": fields["verdict"]._value_,
    }
    if entry["commercial"] is None:
        del entry["commercial"]
    if entry["jurisdiction"] is None:
        del entry["jurisdiction"]
    if entry["license"] is None:
        del entry["license"]
    if entry["sha256"] is None:
        del entry["sha256"]
    if entry["territory"] is None:
        del entry["territory"]
    try:
        if _whole_minute_offsets(fields):
            return _write_json(entry)
        return to_json(entry)
    except (PydanticSerializationError, UnicodeEncodeError) as error:
        raise ValueError(f"no RFC 8785 form: {error}") from None


def _whole_minute(moment: datetime) -> bool:
    if moment.tzinfo is UTC:  # the common zone, without the call
        return True
    offset = moment.utcoffset()
    return offset is not None and not (offset.seconds % 60 or offset.microseconds)


def _whole_minute_offsets(fields: dict[str, Any]) -> bool:
    """Whether every datetime of a decision has a whole-minute UTC offset (where msgspec and
    pydantic write the same text; see the module docstring)."""
    whole_minute = _whole_minute
    if not whole_minute(fields["decided_at"]):
        return False
    for item in fields["evidence"]:
        seen_at = item.__dict__["seen_at"]
        if seen_at is not None and not whole_minute(seen_at):
            return False
    return True


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
    consumed offsets, skipped or rejected or not.
    """
    new_tree = tree.copy()
    seen = set(known_event_ids)
    entries: list[SequencedEntry] = []
    offsets: dict[tuple[str, int], int] = {}
    rejected: list[tuple[PositionedDecision, str]] = []
    index = new_tree.size
    # The loop runs once per entry: names bound locally, the model read through __dict__.
    leaf_of = decision_leaf
    hash_of = leaf_hash
    append = entries.append
    new_entry = SequencedEntry
    for positioned in batch:
        position = (positioned.topic, positioned.partition)
        if positioned.offset > offsets.get(position, -1):
            offsets[position] = positioned.offset
        fields = positioned.decision.__dict__
        event_id = fields["event_id"]
        if event_id in seen:
            continue
        try:
            leaf = leaf_of(positioned, index)
        except ValueError as error:
            rejected.append((positioned, str(error)))
            continue
        if len(leaf) > MAX_LEAF_BYTES:
            reason = f"entry of {len(leaf)} bytes is larger than {MAX_LEAF_BYTES} (tlog-tiles limit)"
            rejected.append((positioned, reason))
            continue
        seen.add(event_id)
        append(
            new_entry(
                index,
                event_id,
                fields["manifest_id"],
                fields["item_id"],
                fields["verdict"]._value_,
                leaf,
                hash_of(leaf),
            )
        )
        index += 1
    # Only the right edge of the tree changes: the frontier takes the new leaf hashes.
    new_tree.extend([entry.leaf_hash for entry in entries])
    note = None
    if entries:
        checkpoint = Checkpoint(origin=origin, size=new_tree.size, root_hash=new_tree.root())
        note = sign_note(checkpoint.to_text(), [signer])
    return AppendPlan(
        entries=entries, tree=new_tree, checkpoint_note=note, offsets=offsets, rejected=rejected
    )
