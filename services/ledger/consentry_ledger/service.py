"""The ledger's application service: consumed decision records in, log entries out.

It owns the in-memory tree frontier, keeps it equal to the store's latest checkpoint, and runs
one append at a time. Kafka offsets are committed by the caller only after :meth:`append_records`
returns, i.e. after the database commit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from consentry_shared import topics
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import (
    InRecord,
    KeyedBatchPublisher,
    OutRecord,
    dead_letter_record,
    validation_reason,
)
from consentry_shared.telemetry import group_by_trace
from consentry_shared.tlog import CompactRange, Signer
from opentelemetry import trace
from pydantic import ValidationError

from consentry_ledger.adapters.store import AppendConflict, LedgerStore
from consentry_ledger.domain import PositionedDecision, sequence_batch

log = logging.getLogger(__name__)
_SERVICE = "ledger"


class LedgerService:
    def __init__(
        self,
        store: LedgerStore,
        signer: Signer,
        publisher: KeyedBatchPublisher,
        *,
        origin: str,
        topic_of: Any,
        tracer: trace.Tracer,
    ) -> None:
        self._store = store
        self._signer = signer
        self._publisher = publisher
        self._origin = origin
        self._topic = topic_of
        self._tracer = tracer
        self._tree = CompactRange()
        self._lock = asyncio.Lock()
        self.checkpoint_note: str | None = None

    @property
    def vkey(self) -> str:
        """The verifier key auditors use for this log's checkpoints."""
        return self._signer.vkey

    @property
    def size(self) -> int:
        return self._tree.size

    async def start(self) -> None:
        """Load the tree from the last checkpoint and publish what the outbox still owes."""
        await self._reload()
        await self._publish_pending()

    async def _reload(self) -> None:
        stored = await self._store.latest_checkpoint()
        if stored is None:
            self._tree = CompactRange()
            self.checkpoint_note = None
        else:
            self._tree = CompactRange.from_bytes(stored.tree)
            self.checkpoint_note = stored.note

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
                decision = DecisionEvent.model_validate_json(record.value)
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
        for attempt in (1, 2):
            known = await self._store.known_event_ids([p.decision.event_id for p in valid])
            plan = sequence_batch(
                valid, tree=self._tree, known_event_ids=known, origin=self._origin, signer=self._signer
            )
            for oversized in plan.too_large:
                dead.append(
                    dead_letter_record(
                        InRecord(
                            oversized.topic,
                            oversized.partition,
                            oversized.offset,
                            None,
                            oversized.decision.model_dump_json().encode(),
                            {},
                        ),
                        "entry larger than 65535 bytes (tlog-tiles limit)",
                        service=_SERVICE,
                    )
                )
            if dead:
                # Dead letters first: once the batch commits, its offsets are gone for good.
                await self._publisher.publish(self._topic(topics.dead_letter(topics.DECISIONS)), dead)
                dead = []
            try:
                await self._store.append(plan, base_size=self._tree.size)
            except AppendConflict:
                if attempt == 2:
                    raise
                log.warning("ledger grew under this writer; reloading and retrying once")
                await self._reload()
                continue
            self._tree = plan.tree
            if plan.checkpoint_note is not None:
                self.checkpoint_note = plan.checkpoint_note
            await self._publish_pending()
            return len(plan.entries)
        return 0

    async def _publish_pending(self) -> None:
        """Publish entries not yet on ``ledger.entries.v1`` (the outbox), then move the mark."""
        start = await self._store.published_size()
        end = self._tree.size
        while start < end:
            stop = min(end, start + 5000)
            leaves = await self._store.leaves(start, stop)
            await self._publisher.publish(
                self._topic(topics.LEDGER_ENTRIES),
                [OutRecord(key=str(start + i).encode(), value=leaf) for i, leaf in enumerate(leaves)],
            )
            await self._store.mark_published(stop)
            start = stop

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
    """The per-manifest report: counts by verdict and reason, and every item with its verdict."""
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    items = []
    for index, leaf in leaves:
        entry = json.loads(leaf)
        verdicts[entry["verdict"]] += 1
        reasons.update(entry["reasons"])
        items.append(
            {
                "id": entry["item_id"],
                "verdict": entry["verdict"],
                "reasons": entry["reasons"],
                "index": index,
                "url": entry["url"],
            }
        )
    return {
        "manifest_id": manifest_id,
        "ledgered": len(items),
        "counts": {v: verdicts.get(v, 0) for v in ("consent", "violation", "unknown")},
        "reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "items": items,
    }
