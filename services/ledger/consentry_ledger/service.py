"""The ledger's application service: consumed decision records in, log entries and proofs out.

It owns the in-memory tree (the frontier the sequencer extends and a :class:`HashCache` of every
node, from which proofs and tiles are served), keeps both equal to the store's latest checkpoint,
and runs one append at a time. Kafka offsets are committed by the caller only after
:meth:`LedgerService.append_records` returns, i.e. after the database commit.

Errors::

    LedgerServiceError(Exception)
    ├── LedgerCorrupted          stored hashes do not rebuild the signed root: refuse to serve
    └── QueryError               a request cannot be answered as asked (the HTTP layer maps them)
        ├── EntryNotFound        no such index / event id / item in the log (404)
        ├── CheckpointNotFound   the log never signed a checkpoint of that size (404)
        ├── InvalidRange         sizes or indexes out of order or beyond the log (400)
        ├── MalformedCosignature not a signature line (400)
        ├── UnknownWitness       a cosignature by a key the log does not trust (403)
        └── InvalidCosignature   a trusted witness key, but the signature does not verify (422)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry import trace
from pydantic import ValidationError
from pydantic_core import SchemaValidator

from consentry_ledger.adapters.store import AppendConflict, LedgerStore
from consentry_ledger.domain import PositionedDecision, SequencedEntry, sequence_batch
from consentry_ledger.domain.hash_cache import HashCache
from consentry_shared import topics
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import (
    InRecord,
    KeyedBatchPublisher,
    OutRecord,
    dead_letter_record,
    validation_reason,
)
from consentry_shared.metrics import LEDGER_APPEND_SECONDS, LEDGER_SIZE
from consentry_shared.telemetry import group_by_trace
from consentry_shared.tlog import (
    CompactRange,
    CosignatureVerifier,
    InvalidSignatureError,
    MalformedNoteError,
    Signer,
    UnknownKeyError,
    add_signatures,
    open_note,
)

log = logging.getLogger(__name__)
_SERVICE = "ledger"
_LOAD_CHUNK = 100_000

# DecisionEvent's own schema, validator and result, without interning the strings of values:
# pydantic caches every string it reads by default, and a decision's ids, URLs and times never
# repeat, so each look-up is wasted (about 0.6 µs per record, bench/bench_ledger_append.py).
# Keys still are cached. Same instances as DecisionEvent.model_validate_json.
_DECISION = SchemaValidator(DecisionEvent.__pydantic_core_schema__, {"cache_strings": "keys"})
_CHECKPOINT_CACHE = 256


class LedgerServiceError(Exception):
    """Base of the ledger service's errors."""


class LedgerCorrupted(LedgerServiceError):
    """The stored leaf hashes do not rebuild the root of the latest signed checkpoint."""


class QueryError(LedgerServiceError):
    """A read cannot be answered as asked."""


class EntryNotFound(QueryError):
    """No entry matches (index beyond the log, unknown event id or item)."""


class CheckpointNotFound(QueryError):
    """The log never signed a checkpoint of the requested size."""


class InvalidRange(QueryError):
    """Sizes or indexes out of order, negative, or beyond the log."""


class MalformedCosignature(QueryError):
    """The cosignature is not a C2SP signature line."""


class UnknownWitness(QueryError):
    """The cosignature is by a key that is not among the log's witnesses."""


class InvalidCosignature(QueryError):
    """A witness key the log trusts, but the cosignature does not verify for that checkpoint."""


class EntryPublisher(Protocol):
    """Where entries and dead letters go (:class:`KeyedBatchPublisher` in production)."""

    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None: ...


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Leaf ``index`` is in the tree of ``tree_size`` leaves signed by ``checkpoint``."""

    index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]
    checkpoint: str


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """The tree of ``old_size`` leaves is a prefix of the one of ``new_size`` (signed by ``checkpoint``)."""

    old_size: int
    new_size: int
    hashes: list[bytes]
    checkpoint: str
    old_checkpoint: str | None


@dataclass(frozen=True, slots=True)
class Receipt:
    """What an item's owner keeps: the entry, its inclusion proof and the checkpoint it is under."""

    proof: InclusionProof
    leaf: bytes


class LedgerService:
    def __init__(
        self,
        store: LedgerStore,
        signer: Signer,
        publisher: EntryPublisher | KeyedBatchPublisher,
        *,
        origin: str,
        topic_of: Any,
        tracer: trace.Tracer,
        witnesses: Sequence[str] = (),
        witness_quorum: int = 0,
    ) -> None:
        """``witnesses`` are the verifier keys (vkeys) whose cosignatures the log accepts; a
        checkpoint is *final* once ``witness_quorum`` of them cosigned it (0: at once)."""
        self._store = store
        self._signer = signer
        self._publisher = publisher
        self._origin = origin
        self._topic = topic_of
        self._tracer = tracer
        self._tree = CompactRange()
        self._hashes = HashCache()
        self._lock = asyncio.Lock()
        self._checkpoints: dict[int, str] = {}
        self._published: int | None = None  # the outbox mark, once read from the store
        self._witnesses = {
            verifier.key_id: verifier for verifier in map(CosignatureVerifier.from_vkey, witnesses)
        }
        if not 0 <= witness_quorum <= len(self._witnesses):
            raise ValueError(f"a quorum of {witness_quorum} from {len(self._witnesses)} witnesses")
        self._quorum = witness_quorum
        self._witness_vkeys = tuple(witnesses)
        self._latest_cosignatures: list[str] = []
        # Ask the store for repeats before the first attempt (see _append); from a restart on,
        # until a batch has none: what is redelivered after a crash is the batch in flight.
        self._expect_repeats = True
        self.checkpoint_note: str | None = None
        # When this process last signed or loaded a checkpoint (the stored one's time is not kept).
        self.checkpoint_at: float | None = None

    @property
    def vkey(self) -> str:
        """The verifier key auditors use for this log's checkpoints."""
        return self._signer.vkey

    @property
    def size(self) -> int:
        """Entries in the log (the size of the latest checkpoint)."""
        return self._tree.size

    @property
    def hashes(self) -> HashCache:
        """Every node hash of the tree, for proofs and tiles (read-only use)."""
        return self._hashes

    async def start(self) -> None:
        """Load the tree and its hashes, check them against the last checkpoint, publish what the
        outbox still owes.

        Raises:
            LedgerCorrupted: the stored leaf hashes do not rebuild the signed root.
        """
        await self._reload()
        await self._publish_pending()

    async def _reload(self) -> None:
        stored = await self._store.latest_checkpoint()
        if stored is None:
            self._tree = CompactRange()
            self.checkpoint_note = None
            return
        tree = CompactRange.from_bytes(stored.tree)
        while self._hashes.size < tree.size:
            start = self._hashes.size
            chunk = await self._store.leaf_hashes(start, min(tree.size, start + _LOAD_CHUNK))
            if not chunk:
                raise LedgerCorrupted(f"the checkpoint has {tree.size} entries but the store ends at {start}")
            self._hashes.extend(chunk)
        if self._hashes.size != tree.size or self._hashes.root(tree.size) != tree.root():
            raise LedgerCorrupted(
                f"the stored leaf hashes do not rebuild the root of the checkpoint of size {tree.size}: "
                "the database was altered; run `consentry ledger verify` on an export to find the entry"
            )
        self._tree = tree
        self.checkpoint_note = stored.note
        self.checkpoint_at = time.time()
        LEDGER_SIZE.set(self._tree.size)
        self._latest_cosignatures = await self._store.cosignatures(tree.size)

    async def append_records(self, records: Sequence[InRecord]) -> int:
        """Validate, dedupe, sequence and store ``records``; returns how many entries were added.

        Poison records go to ``decisions.v1.dlq`` with the reason; they never stop the batch.
        Raises (so the batch is redelivered) if the database or the broker fails.
        """
        started = time.time_ns()
        valid: list[PositionedDecision] = []
        dead: list[OutRecord] = []
        for record in records:
            try:
                decision = _DECISION.validate_json(record.value)
            except ValidationError as error:
                dead.append(
                    dead_letter_record(record, validation_reason("decisions.v1", error), service=_SERVICE)
                )
                continue
            valid.append(PositionedDecision(decision, record.topic, record.partition, record.offset))
        async with self._lock:
            added = await self._append(valid, dead)
        self._trace_groups(records, started, added)
        return added

    async def _append(self, valid: list[PositionedDecision], dead: list[OutRecord]) -> int:
        """Sequence and store ``valid`` (one transaction); returns the entries added.

        The first attempt does not ask the store which event ids are already logged: in steady
        state none are, and the look-up costs about as much per entry as the leaf's hash and
        canonical JSON together. The store's unique event key is the arbiter: a repeat makes
        the append fail whole (:class:`AppendConflict`, nothing written), and the second
        attempt asks the store, drops the repeats and appends the rest. After a repeat, the
        next batches ask first (redeliveries come in runs), until one has none.
        """
        published: set[tuple[str, int, int]] = set()
        for attempt in (1, 2):
            known: set[str] = set()
            if self._expect_repeats or attempt == 2:
                known = await self._store.known_event_ids([p.decision.event_id for p in valid])
                self._expect_repeats = bool(known)
            plan = sequence_batch(
                valid, tree=self._tree, known_event_ids=known, origin=self._origin, signer=self._signer
            )
            for rejected, reason in plan.rejected:
                position = (rejected.topic, rejected.partition, rejected.offset)
                if position in published:
                    continue  # dead-lettered by the first attempt
                published.add(position)
                dead.append(
                    dead_letter_record(
                        InRecord(
                            rejected.topic,
                            rejected.partition,
                            rejected.offset,
                            None,
                            rejected.decision.model_dump_json().encode(),
                            {},
                        ),
                        reason,
                        service=_SERVICE,
                    )
                )
            if dead:
                # Dead letters first: once the batch commits, its offsets are gone for good.
                await self._publisher.publish(self._topic(topics.dead_letter(topics.DECISIONS)), dead)
                dead = []
            started = time.perf_counter()
            try:
                await self._store.append(plan, base_size=self._tree.size)
            except AppendConflict:
                if attempt == 2:
                    raise
                # A decision already logged (a redelivery), or another writer appended first.
                log.info("append refused (repeat or concurrent writer); reloading and retrying once")
                self._expect_repeats = True
                self._published = None
                await self._reload()
                continue
            LEDGER_APPEND_SECONDS.observe(time.perf_counter() - started)
            self._hashes.extend([e.leaf_hash for e in plan.entries])
            self._tree = plan.tree
            LEDGER_SIZE.set(self._tree.size)
            if plan.checkpoint_note is not None:
                self.checkpoint_note = plan.checkpoint_note
                self.checkpoint_at = time.time()
                self._latest_cosignatures = []
            await self._publish_pending(plan.entries)
            return len(plan.entries)
        return 0

    async def _publish_pending(self, fresh: Sequence[SequencedEntry] = ()) -> None:
        """Publish entries not yet on ``ledger.entries.v1`` (the outbox), then move the mark.

        ``fresh`` are the entries just committed (the tail of the log): they are published from
        memory; anything older still owed (after a restart) is read back from the store.
        """
        start = self._published if self._published is not None else await self._store.published_size()
        end = self._tree.size
        fresh_start = end - len(fresh)
        while start < end:
            stop = min(end, start + 5000)
            if start >= fresh_start:
                leaves = [e.leaf for e in fresh[start - fresh_start : stop - fresh_start]]
            else:
                leaves = await self._store.leaves(start, stop)
            await self._publisher.publish(
                self._topic(topics.LEDGER_ENTRIES),
                [OutRecord(key=str(start + i).encode(), value=leaf) for i, leaf in enumerate(leaves)],
            )
            await self._store.mark_published(stop)
            self._published = start = stop

    # -- reads ---------------------------------------------------------------------------------

    async def checkpoint_of_size(self, size: int | None) -> tuple[int, str]:
        """The signed checkpoint of ``size`` entries (default: the latest) and its size.

        Raises:
            CheckpointNotFound: the log is empty, or never signed a checkpoint of that size.
        """
        latest = self.checkpoint_note
        current = self._tree.size
        if latest is None:
            raise CheckpointNotFound("the log is empty: no checkpoint yet")
        if size is None or size == current:
            return current, latest
        if not 0 < size < current:
            raise CheckpointNotFound(f"the log has {current} entries; there is no checkpoint of size {size}")
        note = self._checkpoints.get(size)
        if note is None:
            stored = await self._store.checkpoint_at(size)
            if stored is None:
                raise CheckpointNotFound(
                    f"the log never signed a checkpoint of size {size} (sizes are batch boundaries; "
                    f"the latest is {current})"
                )
            note = stored.note
            if len(self._checkpoints) >= _CHECKPOINT_CACHE:
                self._checkpoints.clear()
            self._checkpoints[size] = note
        return size, note

    async def inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """Inclusion proof of entry ``index`` in the checkpoint of ``size`` (default: latest).

        Raises:
            CheckpointNotFound: no checkpoint of that size.
            EntryNotFound: ``index`` is not below the checkpoint's size.
        """
        tree_size, note = await self.checkpoint_of_size(size)
        if not 0 <= index < tree_size:
            raise EntryNotFound(f"entry {index} is not in the tree of size {tree_size}")
        return InclusionProof(
            index=index,
            tree_size=tree_size,
            leaf_hash=self._hashes.leaf_hash(index),
            hashes=self._hashes.inclusion_proof(index, tree_size),
            checkpoint=note,
        )

    async def index_of_event(self, event_id: str) -> int:
        """Index of the entry of decision ``event_id`` (:class:`EntryNotFound` if none)."""
        index = await self._store.index_of_event(event_id)
        if index is None or index >= self._tree.size:
            raise EntryNotFound(f"no entry for decision event {event_id!r}")
        return index

    async def index_of_item(self, manifest_id: str, item_id: str) -> int:
        """Index of the latest entry of ``item_id`` in ``manifest_id`` (:class:`EntryNotFound` if none)."""
        indexes = [i for i in await self._store.indexes_of_item(manifest_id, item_id) if i < self._tree.size]
        if not indexes:
            raise EntryNotFound(f"no entry for item {item_id!r} of manifest {manifest_id!r}")
        return indexes[-1]

    async def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Consistency proof from ``old_size`` to the checkpoint of ``new_size`` (default: latest).

        Raises:
            CheckpointNotFound: no checkpoint of ``new_size``.
            InvalidRange: ``old_size`` is negative or larger than ``new_size``.
        """
        tree_size, note = await self.checkpoint_of_size(new_size)
        if not 0 <= old_size <= tree_size:
            raise InvalidRange(f"cannot prove size {old_size} consistent with size {tree_size}")
        old_note = None
        if old_size:
            try:
                _, old_note = await self.checkpoint_of_size(old_size)
            except CheckpointNotFound:
                old_note = None
        return ConsistencyProof(
            old_size=old_size,
            new_size=tree_size,
            hashes=self._hashes.consistency_proof(old_size, tree_size),
            checkpoint=note,
            old_checkpoint=old_note,
        )

    async def receipt(self, index: int) -> Receipt:
        """Entry ``index`` with its inclusion proof in the latest checkpoint."""
        proof = await self.inclusion(index)
        leaves = await self._store.leaves(index, index + 1)
        if not leaves:
            raise EntryNotFound(f"entry {index} is missing from the store")
        return Receipt(proof=proof, leaf=leaves[0])

    # -- witnesses -----------------------------------------------------------------------------

    @property
    def witness_policy(self) -> tuple[tuple[str, ...], int]:
        """The verifier keys of the witnesses whose cosignatures this log accepts, and how many
        of them make a checkpoint final (0: every checkpoint is final at once)."""
        return self._witness_vkeys, self._quorum

    @property
    def cosigned_checkpoint(self) -> str | None:
        """The latest checkpoint with the witness cosignatures it has so far (C2SP: extra
        signature lines, ignored by verifiers that do not know the witnesses' keys)."""
        note = self.checkpoint_note
        if note is None or not self._latest_cosignatures:
            return note
        return add_signatures(note, self._latest_cosignatures)

    async def cosigned(self, size: int) -> tuple[str, list[str]]:
        """The checkpoint of ``size`` with its cosignatures, and the cosignature lines."""
        _, note = await self.checkpoint_of_size(size)
        lines = list(self._latest_cosignatures) if size == self.size else await self._store.cosignatures(size)
        return (add_signatures(note, lines) if lines else note), lines

    async def add_cosignature(self, size: int, line: str) -> tuple[str, bool]:
        """Verify a witness's cosignature line of the checkpoint of ``size`` and keep it.

        Returns the witness name and whether the line is new (``False``: that witness key had
        already cosigned that size; the first line is kept).

        Raises:
            CheckpointNotFound: the log never signed that size.
            MalformedCosignature, UnknownWitness, InvalidCosignature: see the module docstring.
        """
        _, note = await self.checkpoint_of_size(size)
        text = note[: note.rfind("\n\n") + 1]
        line = line.strip() + "\n"
        if "\n" in line[:-1]:
            raise MalformedCosignature("send one cosignature line")
        try:
            opened = open_note(text + "\n" + line, list(self._witnesses.values()))
        except MalformedNoteError as error:
            raise MalformedCosignature(f"not a signature line: {error}") from None
        except UnknownKeyError:
            raise UnknownWitness("the cosignature is not by one of this log's witnesses") from None
        except InvalidSignatureError as error:
            raise InvalidCosignature(f"the cosignature does not verify for size {size}: {error}") from None
        signature = opened.signatures[0]
        added = await self._store.add_cosignature(size, signature.key_id, signature.name, signature.line)
        if added and size == self.size:
            self._latest_cosignatures = await self._store.cosignatures(size)
        return signature.name, added

    async def final_checkpoint(self) -> str:
        """The latest checkpoint cosigned by a quorum of witnesses, with its cosignatures.

        Raises:
            CheckpointNotFound: the log is empty, or no checkpoint has a quorum yet.
        """
        if not self._quorum:
            _, note = await self.checkpoint_of_size(None)
            return self.cosigned_checkpoint or note
        size = await self._store.latest_cosigned_size(list(self._witnesses), self._quorum)
        if size is None:
            raise CheckpointNotFound(f"no checkpoint has {self._quorum} witness cosignatures yet")
        return (await self.cosigned(size))[0]

    def _trace_groups(self, records: Sequence[InRecord], started: int, added: int) -> None:
        ended = time.time_ns()
        for context, group in group_by_trace(records, lambda r: r.headers):
            span = self._tracer.start_span(
                "ledger.append",
                context=context,
                start_time=started,
                attributes={
                    "consentry.records": len(group),
                    "consentry.batch_added": added,
                    "consentry.log_size": self._tree.size,
                },
            )
            span.end(end_time=ended)


def manifest_report(manifest_id: str, leaves: Sequence[tuple[int, bytes]]) -> dict[str, Any]:
    """The per-manifest report: each item's current verdict (its latest entry: a revocation or a
    grant after the first decision supersedes it, and the earlier indexes are listed in
    ``history``), and counts by verdict and reason over those current verdicts."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for index, leaf in leaves:  # index order
        entry = json.loads(leaf)
        key = (entry["item_id"], entry["purpose"])
        earlier = latest.pop(key, None)
        latest[key] = {
            "id": entry["item_id"],
            "verdict": entry["verdict"],
            "reasons": entry["reasons"],
            "index": index,
            "url": entry["url"],
            "history": [*earlier["history"], earlier["index"]] if earlier else [],
        }
    items = list(latest.values())
    verdicts = Counter(item["verdict"] for item in items)
    reasons: Counter[str] = Counter(reason for item in items for reason in item["reasons"])
    return {
        "manifest_id": manifest_id,
        "ledgered": len(items),
        "entries": len(leaves),
        "counts": {v: verdicts.get(v, 0) for v in ("consent", "violation", "unknown")},
        "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "items": items,
    }
