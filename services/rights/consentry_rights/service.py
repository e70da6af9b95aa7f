"""The rights application service: items in, decisions out; registry imports.

It keeps one immutable :class:`RegistryView` and swaps it when the stored registry version moves
(checked once per batch, so every rights instance follows imports made through any of them).
With registry sharding on, the view holds only the hash-keyed records of the ``items.v1``
partitions this instance is assigned (:mod:`consentry_rights.domain.sharding`; the consumer's
rebalance listener calls :meth:`RightsService.assign`), and it is rebuilt for the new share
before the next batch is decided. A batch holding an item whose hash is keyed elsewhere (a
producer that chose its own partition) widens the share first: no item is decided with a view
that lacks its records.
With a :class:`SignalFetcher` (``CONSENTRY_RIGHTS_FETCH_SIGNALS=true``) each item's signals are
also fetched now and read beside its crawl-time evidence; every signal in the decision then says
which capture it came from (``@crawl`` / ``@fetch``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import Counter, deque
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from opentelemetry import trace
from pydantic import ValidationError
from pydantic_core import to_json

from consentry_rights.adapters.fetcher import SignalFetcher
from consentry_rights.adapters.store import (
    DecidedItem,
    EvidenceFile,
    RecordQuery,
    RegistryStore,
    VerdictChange,
)
from consentry_rights.domain import Decision, Policy, RegistryView, SignalCapture
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.compact import CompactReservations, CompactReservationsBuilder
from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import redecide_batch, selectors_of
from consentry_rights.domain.sharding import (
    RegistryShard,
    ShardedRecords,
    ShardedRecordsBuilder,
    hash_only_selector,
)
from consentry_rights.domain.signal_import import (
    SignalImport,
    record_id_prefix,
    reservations_from_signal_file,
)
from consentry_rights.domain.web_signals import DEFAULT_DOCUMENTS, ParsedDocuments
from consentry_shared import topics
from consentry_shared.contracts.v1 import (
    Deal,
    ItemEvent,
    RegistryChange,
    Reservation,
    Work,
    registry_record_adapter,
    utc_now,
)
from consentry_shared.ids import uuid5
from consentry_shared.kafka import (
    InRecord,
    KeyedBatchPublisher,
    OutRecord,
    dead_letter_record,
    partition_for,
    validation_reason,
)
from consentry_shared.metrics import DECISIONS, reason_code
from consentry_shared.telemetry import group_by_trace, span_in_context

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_SERVICE = "rights"
_DECISION_NS = uuid.UUID("0b0f3a52-8f0e-4c47-9a43-6f1f5f0cde01")
_PAGE = 5000  # registry records read per query when a share streams the registry
# Remembered items decided again per page by live revocation: large enough that a page's fixed
# costs (a round trip to the store, one to Kafka, one update) are small per item, small enough that
# the first corrections reach the ledger early and the next page is decided while one is sent.
_REEVALUATION_PAGE = 5000
# Pages whose decisions may be on their way to Kafka at once: a publish waits for the broker's
# acknowledgement, which under load takes longer than deciding the next page.
_REEVALUATION_IN_FLIGHT = 4


async def _read_ahead(pages: AsyncGenerator[_T, None]) -> AsyncGenerator[_T, None]:
    """``pages`` with the next one already asked for while the caller works on the current one
    (the store reads it meanwhile). The caller MUST close this (``aclosing``) before ``pages``:
    closing it cancels the request still pending, which ``pages`` cannot be closed under."""
    ahead: asyncio.Future[_T | None] = asyncio.ensure_future(anext(pages, None))
    try:
        while (page := await ahead) is not None:
            ahead = asyncio.ensure_future(anext(pages, None))
            yield page
    finally:
        if not ahead.done():
            ahead.cancel()
            await asyncio.gather(ahead, return_exceptions=True)


def decision_event_id(item_event_id: str, purpose: str) -> str:
    """Stable id of the first decision on an item for a purpose: a redelivery repeats it."""
    return uuid5(_DECISION_NS, f"{item_event_id}\x00{purpose}")


def compact_hash(record: RegistryRecord) -> str | None:
    """The sha256 of ``record`` if it can be held in :class:`CompactReservations` and come back
    equal -- a reservation matched by that hash and nothing else, worldwide (the compact form
    keeps no territories; every other field of a reservation it keeps exactly) -- else None."""
    if isinstance(record, Reservation) and record.territories == ["*"]:
        return hash_only_selector(record)
    return None


class DecisionJson:
    """Writes ``decisions.v1`` values for decisions made at one time with one registry version and
    policy: exactly the bytes of ``DecisionEvent(...).model_dump_json(exclude_none=True)`` (a test
    holds them equal), without building a model per item. What the batch shares (policy, registry
    version, time) is encoded once, each :class:`Decision` object's verdict, reasons and evidence
    once (a batch's equal decisions are mostly one object); per item only its own fields are.
    """

    __slots__ = ("_decisions", "_shared")

    def __init__(self, policy_version: str, registry_version: int, at: datetime) -> None:
        shared = {"policy_version": policy_version, "registry_version": registry_version, "decided_at": at}
        self._shared = to_json(shared)[1:-1]
        self._decisions: dict[int, tuple[Decision, bytes]] = {}

    def encode(self, item: ItemEvent, decision: Decision, event_id: str) -> bytes:
        """The decision's JSON, its fields in :class:`DecisionEvent`'s order, ``None`` left out."""
        kept = self._decisions.get(id(decision))
        if kept is None or kept[0] is not decision:  # the pair keeps the object, so its id
            verdict = {
                "verdict": decision.verdict,
                "reasons": list(decision.reasons),
                "evidence": list(decision.evidence),
            }
            kept = self._decisions[id(decision)] = decision, to_json(verdict, exclude_none=True)[1:-1]
        head: dict[str, object] = {
            "event_id": event_id,
            "item_event_id": item.event_id,
            "manifest_id": item.manifest_id,
            "item_id": item.item_id,
            "platform": item.platform,
            "purpose": item.purpose,
            "url": str(item.url),
        }
        if item.sha256 is not None:
            head["sha256"] = item.sha256
        tail: dict[str, object] = {}
        if item.license is not None:
            tail["license"] = item.license
        if item.territory is not None:
            tail["territory"] = item.territory
        if item.jurisdiction is not None:
            tail["jurisdiction"] = item.jurisdiction
        tail["commercial"] = item.commercial
        return b"".join((to_json(head)[:-1], b",", kept[1], b",", self._shared, b",", to_json(tail)[1:]))


class ViewBuilder:
    """Builds a :class:`RegistryView` from records streamed one at a time, holding every
    :func:`compact_hash` reservation in :class:`CompactReservations` (about 90 bytes each instead
    of about 2 KB as a pydantic record): the record is dropped as soon as it is added, so a
    million hash-only reservations never exist as objects at once.

    With a ``share``, a record the share does not need is left out (only its hash is kept, see
    :class:`ShardedRecordsBuilder`). Record ids MUST be unique per kind (a registry snapshot or
    page stream is): the compact store cannot replace one record by a later one of the same id.
    """

    __slots__ = ("_compact", "_compacting", "_hash_keyed", "_records", "_sharded", "_share", "held_compactly")

    def __init__(self, share: RegistryShard | None = None, *, compact: bool = True) -> None:
        self._share = share
        self._compacting = compact
        self.held_compactly = 0  # set by build(): how many reservations the compact store holds
        self._sharded = None if share is None else ShardedRecordsBuilder(share)
        self._records: list[RegistryRecord] = []
        self._hash_keyed = 0
        self._compact = CompactReservationsBuilder()

    def add(self, record: RegistryRecord) -> None:
        share = self._share
        sha256 = compact_hash(record) if self._compacting else None
        if sha256 is not None and (share is None or share.holds_hash(sha256)):
            assert isinstance(record, Reservation)  # compact_hash said so
            self._compact.add(record)
            return
        if self._sharded is not None:
            self._sharded.add(record)  # kept, or its hash remembered as left out
            return
        self._records.append(record)
        if hash_only_selector(record) is not None:
            self._hash_keyed += 1

    def build(self, version: int) -> tuple[RegistryView, ShardedRecords]:
        """The view, and what the share kept and left out (its ``records`` emptied: the view
        holds them; keeping the list too would cost a pointer per record)."""
        compact = self._compact.build() if len(self._compact) else None
        held_compactly = self.held_compactly = 0 if compact is None else len(compact)
        self._compact = CompactReservationsBuilder()
        if self._sharded is not None:
            sharded = self._sharded.build()
        else:
            sharded = ShardedRecords(self._records, self._hash_keyed, 0)
        self._records = []
        view = _view_of(version, sharded.records, compact)
        return view, replace(sharded, records=[], hash_keyed_kept=sharded.hash_keyed_kept + held_compactly)


def _view_of(
    version: int, records: Sequence[RegistryRecord], compact: CompactReservations | None
) -> RegistryView:
    return RegistryView(
        reservations=[r for r in records if isinstance(r, Reservation)],
        deals=[r for r in records if isinstance(r, Deal)],
        works=[r for r in records if isinstance(r, Work)],
        hashed_reservations=compact,
        version=version,
    )


def build_view(version: int, records: Sequence[RegistryRecord], *, compact: bool = True) -> RegistryView:
    """The view of ``records`` (a later record of a kind and id replaces an earlier one), the
    hash-only reservations held compactly unless ``compact=False``."""
    latest: dict[tuple[str, str], RegistryRecord] = {}
    for record in records:
        latest[record.kind, record.id] = record  # first one's place, last one's value, as the view
    builder = ViewBuilder(compact=compact)
    for record in latest.values():
        builder.add(record)
    return builder.build(version)[0]


class RightsService:
    def __init__(
        self,
        store: RegistryStore,
        publisher: KeyedBatchPublisher,
        policy: Policy,
        *,
        topic_of: Callable[[str], str],
        tracer: trace.Tracer,
        fetcher: SignalFetcher | None = None,
        compact_registry: bool = True,
        documents: ParsedDocuments | None = None,
    ) -> None:
        """``compact_registry=False`` holds hash-only reservations as ordinary records (the
        reference the compact view is tested against; it costs about 20 times the memory).
        ``documents`` keeps parsed origin files between batches (default: the engine's shared,
        small one; the app sizes its own by ``CONSENTRY_RIGHTS_SIGNAL_DOCUMENTS``)."""
        self._compact_registry = compact_registry
        self._documents = DEFAULT_DOCUMENTS if documents is None else documents
        self._store = store
        self._fetcher = fetcher
        self._publisher = publisher
        self._policy = policy
        self._topic = topic_of
        self._tracer = tracer
        self._view = RegistryView()
        # The share the view was built for (None: the whole registry) and the share wanted, set by
        # assign(); refresh() rebuilds whenever the two differ. _view, _share and _sharded (what
        # the share kept and left out) change together.
        self._share: RegistryShard | None = None
        self._wanted: RegistryShard | None = None
        self._sharded = ShardedRecords([], 0, 0)
        self._reload_lock = asyncio.Lock()
        self.last_reevaluation: tuple[int, int] = (0, 0)

    @property
    def documents(self) -> ParsedDocuments:
        """The parsed origin files kept between batches (its ``hits`` and ``misses`` say how
        often the evidence path found its origin's files already parsed)."""
        return self._documents

    @property
    def registry_version(self) -> int:
        return self._view.version

    def registry_share(self) -> dict[str, object]:
        """What the view holds, for ``/ready``: the share of ``items.v1`` and its record counts."""
        share = self._share
        return {
            "partitions": None if share is None else share.partitions,
            "held": None if share is None else sorted(share.held),
            "records": len(self._view),
            "hash_keyed": self._sharded.hash_keyed_kept,
            "hash_keyed_left_out": self._sharded.hash_keyed_left_out,
        }

    def want(self, partitions: int | None, held: Iterable[int]) -> None:
        """Hold only the hash-keyed records of ``held`` among ``items.v1``'s ``partitions``
        partitions from now on (``partitions=None``: the whole registry).

        Nothing is read here: the next :meth:`refresh` -- at the latest the one that starts the
        next batch -- rebuilds the view for this share before anything is decided with it."""
        self._wanted = (
            None if partitions is None else RegistryShard(partitions, frozenset(held), partition_for)
        )

    async def assign(self, partitions: int | None, held: Iterable[int]) -> None:
        """:meth:`want` this share and rebuild the view for it now."""
        self.want(partitions, held)
        await self.refresh()

    async def refresh(self) -> None:
        """Swap in the stored registry if it moved since the current view was built, or the
        wanted share differs from the view's."""
        if await self._store.version() == self._view.version and self._share == self._wanted:
            return
        async with self._reload_lock:
            wanted = self._wanted
            if await self._store.version() == self._view.version and self._share == wanted:
                return  # another task rebuilt it while this one waited
            self._install(*await self._read(wanted))

    async def _read(self, share: RegistryShard | None) -> tuple[RegistryView, ShardedRecords]:
        """The current registry as ``share`` needs it (``None``: all of it), read page by page
        at one version (pages of one version are consistent with each other).

        Each record is handed to a :class:`ViewBuilder` as soon as it is parsed: hash-only
        reservations go into the compact store and records of other partitions are dropped, so
        the rebuild's peak is the view being built, not the registry as pydantic objects."""
        version = await self._store.version()
        builder = ViewBuilder(share, compact=self._compact_registry)
        after: tuple[str, str] | None = None
        while page := await self._store.records_page(version, RecordQuery(), after=after, limit=_PAGE):
            for _kind, _id, body in page:
                builder.add(registry_record_adapter.validate_json(body))
            after = page[-1][0], page[-1][1]
        return builder.build(version)

    def _install(self, view: RegistryView, sharded: ShardedRecords) -> None:
        self._view, self._share, self._sharded = view, sharded.shard, sharded
        version, share = view.version, sharded.shard
        if share is None:
            log.info("registry version %d loaded (%d records)", version, len(view))
        else:
            log.info(
                "registry version %d loaded for partitions %s of %d (%d records, %d hash-keyed, "
                "%d hash-keyed of other partitions left out)",
                version,
                sorted(share.held),
                share.partitions,
                len(view),
                sharded.hash_keyed_kept,
                sharded.hash_keyed_left_out,
            )

    async def _view_covering(self, items: Sequence[ItemEvent], *, install: bool) -> RegistryView:
        """A view holding every record that can match ``items``: the current one unless one of
        their hashes is among those its share left out, else one built for a share widened by
        those hashes' partitions.

        ``install=True`` keeps the widened view (and wants it until the next assignment), so a
        producer that keeps choosing its own partitions costs one rebuild, not one per batch.
        """
        return (await self._covering(items, None, install=install))[0]

    async def _covering(
        self,
        items: Sequence[ItemEvent],
        start: tuple[RegistryView, ShardedRecords] | None,
        *,
        install: bool,
    ) -> tuple[RegistryView, ShardedRecords]:
        """:meth:`_view_covering` from ``start`` (``None``: the service's current view), with what
        that view's share kept and left out: live revocation passes the view it widened for an
        earlier page of items and ``install=False``, as it may touch items of every partition once.
        """
        view, sharded = start or (self._view, self._sharded)
        if not sharded.missing(item.sha256 for item in items):
            return view, sharded
        async with self._reload_lock:
            if start is None:
                view, sharded = self._view, self._sharded
            missing = sharded.missing(item.sha256 for item in items)
            while missing:
                assert sharded.shard is not None  # only a share leaves records out
                log.warning(
                    "items with hashes keyed to partitions %s, outside this instance's share %s: "
                    "widening the registry view for them",
                    sorted(missing),
                    sorted(sharded.shard.held),
                )
                wider = sharded.shard.widened(missing)
                view, sharded = await self._read(wider)
                if install:
                    if self._wanted == self._share:
                        self._wanted = wider
                    self._install(view, sharded)
                # The registry may have moved since the view the check ran on: check again.
                missing = sharded.missing(item.sha256 for item in items)
            return view, sharded

    async def import_records(
        self,
        records: Sequence[RegistryRecord],
        *,
        owner: str | None = None,
        evidence: EvidenceFile | None = None,
    ) -> int:
        """Store an import, load it, announce each change on ``rights.updates.v1``, and decide
        again the earlier items it touches (see :meth:`reevaluate`).

        ``owner`` and ``evidence`` go to :meth:`RegistryStore.upsert` (the store refuses, with
        :class:`~consentry_rights.adapters.store.RecordOwnedElsewhere`, to let an owner replace
        another holder's record)."""
        version = await self._store.upsert(records, owner=owner, evidence=evidence)
        await self.refresh()
        now = utc_now()
        await self._publisher.publish(
            self._topic(topics.RIGHTS_UPDATES),
            [
                OutRecord(
                    key=f"{r.kind}:{r.id}".encode(),
                    value=RegistryChange(registry_version=version, record=r, changed_at=now)
                    .model_dump_json(by_alias=True)
                    .encode(),
                )
                for r in records
            ],
        )
        self.last_reevaluation = await self.reevaluate(records)
        return version

    async def import_signal_file(
        self, kind: str, body: bytes, *, origin: str, holder: str, owner: str | None
    ) -> tuple[int, SignalImport, str]:
        """Import an origin's signal file as reservations for ``holder``, keeping the file as
        evidence; returns (registry version, what the file made, the file's SHA-256).

        The reservations an earlier file of the same kind and origin made are handed to the
        domain so it can keep or close them (see :mod:`consentry_rights.domain.signal_import`).
        """
        digest = hashlib.sha256(body).hexdigest()
        at = utc_now()
        previous = await self._current_with_prefix("reservation", record_id_prefix(kind, origin))
        found = reservations_from_signal_file(
            kind, body, origin=origin, holder=holder, evidence_sha256=digest, at=at, previous=previous
        )
        evidence = EvidenceFile(digest, kind, origin, body, at)
        version = await self.import_records(found.records, owner=owner, evidence=evidence)
        return version, found, digest

    async def _current_with_prefix(self, kind: str, prefix: str) -> list[Reservation]:
        """The current records of ``kind`` whose id starts with ``prefix`` (a range read)."""
        version = await self._store.version()
        query = RecordQuery(kind=kind, id_prefix=prefix)
        found: list[Reservation] = []
        after: tuple[str, str] | None = None
        while page := await self._store.records_page(version, query, after=after, limit=500):
            found += [Reservation.model_validate_json(body) for _, _, body in page]
            after = page[-1][0], page[-1][1]
        return found

    async def missing_evidence(self, records: Sequence[RegistryRecord]) -> set[str]:
        """The ``evidence_sha256`` values of ``records`` that name no stored file."""
        wanted = {r.evidence_sha256 for r in records if r.evidence_sha256 is not None}
        return {digest for digest in wanted if await self._store.evidence(digest) is None}

    async def decide_records(self, records: Sequence[InRecord]) -> int:
        """Decide every item of a consumed batch and publish the decisions; returns how many.

        Records that are not valid ``items.v1`` events go to ``items.v1.dlq`` with the reason.
        """
        await self.refresh()
        view = self._view
        dead: list[OutRecord] = []
        remembered: list[DecidedItem] = []
        decided = 0
        for context, group in group_by_trace(records, lambda r: r.headers):
            out: list[OutRecord] = []
            with span_in_context(self._tracer, "rights.decide", context, **{"consentry.items": len(group)}):
                items: list[tuple[InRecord, ItemEvent]] = []
                for record in group:
                    try:
                        items.append((record, ItemEvent.model_validate_json(record.value)))
                    except ValidationError as error:
                        dead.append(
                            dead_letter_record(record, validation_reason("items.v1", error), service=_SERVICE)
                        )
                captures = await self._fetch([item for _, item in items])
                view = await self._view_covering([item for _, item in items], install=True)
                at = utc_now()
                decisions = decide_batch(
                    [item for _, item in items],
                    view,
                    self._policy,
                    at,
                    fetched=captures,
                    documents=self._documents,
                )
                encoder = DecisionJson(self._policy.version, view.version, at)
                counted: Counter[tuple[str, str]] = Counter()
                for (record, item), decision in zip(items, decisions, strict=True):
                    event_id = decision_event_id(item.event_id, item.purpose.value)
                    counted[decision.verdict.value, decision.reasons[0]] += 1
                    remembered.append(DecidedItem(item, decision.verdict, event_id, record.value))
                    out.append(
                        OutRecord(
                            key=record.key or item.event_id.encode(),
                            value=encoder.encode(item, decision, event_id),
                            same_partition_as=(record.topic, record.partition) if record.key else None,
                        )
                    )
                for (verdict, reason), count in counted.items():
                    DECISIONS.labels(verdict, reason_code(reason)).inc(count)
                await self._publisher.publish(self._topic(topics.DECISIONS), out)
                decided += len(out)
        if dead:
            await self._publisher.publish(self._topic(topics.dead_letter(topics.ITEMS)), dead)
        await self._store.remember_decisions(remembered)
        return decided

    async def _fetch(self, items: Sequence[ItemEvent]) -> Sequence[SignalCapture | None]:
        """The fetched signals of each item (``None`` each when fetching is off)."""
        fetcher = self._fetcher
        if fetcher is None or not items:
            return [None] * len(items)
        return await asyncio.gather(
            *(
                fetcher.capture(str(item.url), media_type=item.media_type, platform_token=item.platform)
                for item in items
            )
        )

    async def reevaluate(self, records: Sequence[RegistryRecord]) -> tuple[int, int]:
        """Decide again every remembered item the changed ``records`` may touch; publish the
        decisions whose verdict flipped (``consent-revoked`` / ``consent-granted``).

        The items are streamed from the store a page at a time; each page's flips are published
        and then remembered (never remembered unpublished) while the next page is decided, so the
        first corrections reach the ledger while later ones are still being read. Every page is
        decided with the view current when this started (widened for pages with hashes its share
        left out). Returns (items re-evaluated, decisions published).
        """
        selectors = selectors_of(records)
        if not selectors:
            return 0, 0
        covering: tuple[RegistryView, ShardedRecords] = self._view, self._sharded
        at = utc_now()
        seen = published = 0
        sending: deque[asyncio.Task[None]] = deque()
        try:
            # Closed in reverse order: the read-ahead's pending request first, then the stream.
            async with (
                aclosing(self._store.decided_pages(selectors, size=_REEVALUATION_PAGE)) as pages,
                aclosing(_read_ahead(pages)) as ahead,
            ):
                async for candidates in ahead:
                    # Candidates come from every partition: a sharded view is widened for them.
                    covering = await self._covering([c.item for c in candidates], covering, install=False)
                    out, changed = self._redecided(candidates, covering[0], at)
                    seen += len(candidates)
                    published += len(out)
                    if len(sending) >= _REEVALUATION_IN_FLIGHT:
                        await sending.popleft()  # bounded; a failure surfaces here
                    sending.append(asyncio.create_task(self._publish_flips(out, changed)))
            while sending:
                await sending.popleft()
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
        if published:
            log.info(
                "registry version %d changed %d of %d earlier decisions",
                covering[0].version,
                published,
                seen,
            )
        return seen, published

    def _redecided(
        self, candidates: Sequence[DecidedItem], view: RegistryView, at: datetime
    ) -> tuple[list[OutRecord], list[VerdictChange]]:
        """The decisions of ``candidates`` that flip under ``view``, and their new verdicts."""
        flips = redecide_batch(
            [(c.item, c.verdict) for c in candidates], view, self._policy, at, documents=self._documents
        )
        out: list[OutRecord] = []
        changed: list[VerdictChange] = []
        counted: Counter[tuple[str, str]] = Counter()
        encoder = DecisionJson(self._policy.version, view.version, at)
        purpose_at = f"@{view.version}"
        for candidate, decision in zip(candidates, flips, strict=True):
            if decision is None:
                continue
            item = candidate.item
            event_id = decision_event_id(item.event_id, item.purpose.value + purpose_at)
            counted[decision.verdict.value, decision.reasons[0]] += 1
            changed.append(VerdictChange(item.event_id, decision.verdict, event_id))
            key = (item.sha256 or str(item.url)).encode()
            out.append(OutRecord(key=key, value=encoder.encode(item, decision, event_id)))
        for (verdict, reason), count in counted.items():
            DECISIONS.labels(verdict, reason_code(reason)).inc(count)
        return out, changed

    async def _publish_flips(self, out: list[OutRecord], changed: list[VerdictChange]) -> None:
        """Publish re-decided items' decisions, then remember their verdicts: a verdict is never
        stored before its decision was acknowledged (if publishing fails, the next change that
        touches the item still sees the old verdict and decides it again)."""
        await self._publisher.publish(self._topic(topics.DECISIONS), out)
        await self._store.remember_verdicts(changed)
