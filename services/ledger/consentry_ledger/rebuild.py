"""Rebuild the ledger's database from ``ledger.entries.v1`` (``consentry ledger rebuild``).

The topic is the log's second home: every entry the ledger commits is published there, keyed
by its index. If the database is lost, :func:`rebuild_from_topic` reads the topic from offset 0
into an *empty* ledger database and arrives at the same log, or refuses (a rebuild that was
interrupted is completed by running it again on the same database):

1. the reference checkpoint (the latest signed one the operator trusts: an auditor's saved
   copy, an export's, or the live ledger's) is verified with the log's key;
2. a first pass reads every record, in index order across partitions, through
   :class:`~consentry_ledger.domain.rebuild.LogRebuilder`: contiguous indexes, schema, canonical
   form, per-partition source offsets, and the checkpoint's size and root at the end. Nothing is
   written unless the whole topic rebuilds the signed root;
3. a second pass reads the topic again and stores the entries in chunks, each leaf held to the
   hash the first pass saw, each chunk with a checkpoint signed by the ledger's key (a true
   prefix of the signed log) and the last one with the reference checkpoint itself; the consumed
   ``decisions.v1`` offsets are restored from the entries, and the outbox mark is set to the
   log's size (those entries are on the topic already).

What is not restored: the intermediate checkpoints the ledger signed (other sizes now have
other, equally valid signatures) and witness cosignatures (witnesses can cosign the restored
latest checkpoint again). A ledger started on the rebuilt database resumes from the restored
offsets and drops decisions it already logged by their event ids.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consentry_ledger.adapters.store import LedgerStore
from consentry_ledger.domain.rebuild import LogRebuilder, RebuildRefused, chunk_plan
from consentry_ledger.domain.sequencer import SequencedEntry
from consentry_shared.tlog import Checkpoint, Signer, TlogError, Verifier, open_checkpoint

__all__ = [
    "RebuildInputError",
    "RebuildRefused",
    "RebuildResult",
    "TopicRecord",
    "read_entries_topic",
    "rebuild_from_topic",
]

_FETCH = 5000
_CHUNK = 10_000
_STALL_S = 30.0


class RebuildInputError(Exception):
    """Something other than the topic's content is wrong: the checkpoint, the key, the target."""


@dataclass(frozen=True, slots=True)
class TopicRecord:
    index: int
    leaf: bytes
    partition: int
    offset: int

    @property
    def where(self) -> str:
        return f"partition {self.partition} offset {self.offset}"


async def read_entries_topic(
    bootstrap_servers: str, topic: str, *, client_options: dict[str, Any] | None = None
) -> AsyncIterator[TopicRecord]:
    """Every record of ``topic`` from offset 0 up to its end when the read began, in index order.

    Each partition holds its entries in index order (the outbox publishes in order), so the
    partitions are merged by their heads: memory stays at a few thousand records per partition.
    The index is the record key. No consumer group is used and nothing is committed.

    Raises:
        RebuildInputError: the topic does not exist.
        RebuildRefused: a record has no index key, or records were deleted from the topic.
        TimeoutError: the broker stopped answering for 30 s.
    """
    numbers = await _partitions(bootstrap_servers, topic, client_options or {})
    if not numbers:
        raise RebuildInputError(f"topic {topic} does not exist on {bootstrap_servers}")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        **(client_options or {}),
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets(partitions)
        for tp, first in starts.items():
            if first > 0:
                raise RebuildRefused(
                    f"partition {tp.partition} of {topic} starts at offset {first}: earlier records were "
                    "deleted (retention or compaction); the log can be read from this topic only if it "
                    "keeps every record (retention.ms=-1)"
                )
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        heads: dict[TopicPartition, deque[TopicRecord]] = {tp: deque() for tp in partitions}
        done = {tp for tp in partitions if ends[tp] == 0}

        async def fill(tp: TopicPartition) -> None:
            stalled = asyncio.get_running_loop().time() + _STALL_S
            while not heads[tp] and tp not in done:
                fetched = await consumer.getmany(tp, timeout_ms=500, max_records=_FETCH)
                for record in fetched.get(tp, []):
                    if record.offset < ends[tp]:
                        heads[tp].append(_record(record))
                if await consumer.position(tp) >= ends[tp]:
                    done.add(tp)
                elif not heads[tp] and asyncio.get_running_loop().time() > stalled:
                    raise TimeoutError(f"no records from {tp.topic}/{tp.partition} for {_STALL_S:.0f} s")

        while True:
            for tp in partitions:
                if not heads[tp] and tp not in done:
                    await fill(tp)
            ready = [tp for tp in partitions if heads[tp]]
            if not ready:
                return
            first = min(ready, key=lambda tp: heads[tp][0].index)
            yield heads[first].popleft()
    finally:
        await consumer.stop()


async def _partitions(bootstrap_servers: str, topic: str, client_options: dict[str, Any]) -> list[int]:
    """The partition numbers of ``topic`` (none if it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(int(p["partition"]) for d in described if not d["error_code"] for p in d["partitions"])


def _record(record: ConsumerRecord[Any, Any]) -> TopicRecord:
    key, value = record.key, record.value
    try:
        index = int(key.decode("ascii")) if isinstance(key, bytes) else -1
    except ValueError:
        index = -1
    if index < 0 or not isinstance(value, bytes):
        raise RebuildRefused(
            f"the record at partition {record.partition} offset {record.offset} has no entry index key"
        )
    return TopicRecord(index, value, record.partition, record.offset)


@dataclass(frozen=True, slots=True)
class RebuildResult:
    size: int
    root: bytes
    origin: str
    records_read: int
    repeats_skipped: int
    chunks: int


def open_reference(note: str, vkey: str) -> tuple[Checkpoint, str]:
    """The reference checkpoint, its signature verified with ``vkey``, and the note as the log
    signed it: witness cosignatures (served with the latest checkpoint) are dropped, since the
    store keeps those apart.

    Raises:
        RebuildInputError: not a checkpoint, or not signed by that key.
    """
    try:
        verifier = Verifier.from_vkey(vkey)
        checkpoint, opened = open_checkpoint(note, [verifier])
    except ValueError as error:  # a malformed note or key
        raise RebuildInputError(f"the reference checkpoint cannot be read: {error}") from None
    except TlogError as error:  # no signature by that key, or one that does not verify
        raise RebuildInputError(f"the reference checkpoint is not signed by {vkey}: {error}") from None
    own = [s.line for s in opened.signatures if (s.name, s.key_id) == (verifier.name, verifier.key_id)]
    return checkpoint, opened.text + "\n" + "".join(own)


Records = Callable[[], AsyncIterator[TopicRecord]]


async def _stored_prefix(store: LedgerStore, size: int, hashes: Sequence[bytes]) -> int:
    """``size`` if the store's entries are the first ``size`` of the log being rebuilt (an
    interrupted rebuild, or a database lost after the rest was published): they are kept and the
    rebuild goes on from there.

    Raises:
        RebuildInputError: the store holds some other log.
    """
    stored = await store.leaf_hashes(0, size)
    for index, (mine, theirs) in enumerate(zip(hashes, stored, strict=False)):
        if mine != theirs:
            raise RebuildInputError(
                f"the target database holds another log (its entry {index} differs): "
                "rebuild into an empty one"
            )
    if len(stored) != size:
        raise RebuildInputError(
            f"the target database's checkpoint says {size} entries but it holds {len(stored)}"
        )
    return size


async def rebuild_from_topic(
    records: Records,
    store: LedgerStore,
    *,
    reference_note: str,
    signer: Signer,
    vkey: str | None = None,
    reference_hash: Callable[[int], bytes] | None = None,
    chunk: int = _CHUNK,
) -> RebuildResult:
    """Rebuild the log of ``reference_note`` into ``store`` from ``records`` (called once per
    pass; see the module docstring). ``store`` is empty, or holds the first entries of this very
    log (an interrupted rebuild): they are kept and the rest is added.

    ``vkey`` verifies the reference (default: ``signer``'s own key); ``reference_hash`` gives the
    leaf hash of an index when the log's tiles are at hand, so a bad entry is named, not only
    detected by the root.

    Raises:
        RebuildInputError: the reference or the key is wrong, or the store holds another log.
        RebuildRefused: the topic does not rebuild the reference; names the first bad entry.
    """
    checkpoint, reference_note = open_reference(reference_note, vkey or signer.vkey)
    if signer.name != checkpoint.origin:
        raise RebuildInputError(f"the key is for {signer.name!r}, the log's origin is {checkpoint.origin!r}")
    await store.initialise()
    existing = await store.latest_checkpoint()
    if existing is not None and existing.size > checkpoint.size:
        raise RebuildInputError(
            f"the target database already holds a log of {existing.size} entries, more than the "
            f"checkpoint's {checkpoint.size}: rebuild into an empty one"
        )

    first = LogRebuilder(checkpoint.size, checkpoint.root_hash, reference_hash)
    read = repeats = 0
    async for record in records():
        read += 1
        if first.accept(record.index, record.leaf, record.where) is None:
            repeats += 1
    first.finish()

    stored = 0 if existing is None else await _stored_prefix(store, existing.size, first.hashes)

    # Second pass: the topic must give the very bytes the first pass checked.
    second = LogRebuilder(checkpoint.size, checkpoint.root_hash, first.hashes.__getitem__)
    pending: list[SequencedEntry] = []
    chunks = 0

    async def flush(note: str | None) -> None:
        nonlocal chunks
        base = second.tree.size - len(pending)
        plan = chunk_plan(
            pending, second.tree, second.offsets, note=note, signer=signer, origin=checkpoint.origin
        )
        await store.append(plan, base_size=base)
        pending.clear()
        chunks += 1

    async for record in records():
        entry = second.accept(record.index, record.leaf, record.where)
        if entry is None or entry.index < stored:
            continue  # a repeat, or stored by an interrupted rebuild
        pending.append(entry)
        if len(pending) >= chunk and second.tree.size < checkpoint.size:
            await flush(None)
    second.finish()
    if pending:  # a log of size 0 has nothing to store
        await flush(reference_note)
    await store.mark_published(checkpoint.size)
    return RebuildResult(checkpoint.size, checkpoint.root_hash, checkpoint.origin, read, repeats, chunks)
