"""Rebuilding the ledger's database from ``ledger.entries.v1`` on real Apache Kafka.

Decisions are appended through :class:`LedgerService` (several batches, so several signed
checkpoints) over SQLite, whose outbox publishes every entry to the topic through the production
keyed publisher. The topic is then read from offset 0 into an empty PostgreSQL or SQLite
database: same entries, same indexes, same root, the reference checkpoint as the latest, the
consumed offsets restored, and a ledger started on it carries on appending.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from opentelemetry import trace
from typer.testing import CliRunner

from consentry.cli import app as cli_app
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.domain import AppendPlan, entry_leaf
from consentry_ledger.rebuild import RebuildRefused, TopicRecord, read_entries_topic, rebuild_from_topic
from consentry_ledger.service import LedgerService
from consentry_shared import topics
from consentry_shared.contracts.v1 import DecisionEvent, Evidence, LedgerEntry, Verdict
from consentry_shared.kafka import InRecord, KeyedBatchPublisher, OutRecord, ensure_topics, make_broker
from consentry_shared.tlog import (
    Checkpoint,
    Signer,
    TileHashReader,
    add_signatures,
    open_checkpoint,
    open_note,
    sign_note,
    write_export,
)

pytestmark = pytest.mark.integration

ORIGIN = "rebuild.example/ledger"
BATCHES = [3, 200, 97, 250]
SIZE = sum(BATCHES)


def decision_record(n: int) -> InRecord:
    decision = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id=f"m-{n % 4}",
        item_id=f"i-{n}",
        platform="acme-ai",
        purpose="ai-training",
        url=f"https://images.example.org/{n}.jpg",
        verdict="violation" if n % 5 == 0 else "consent",
        reasons=["no-licence"] if n % 5 == 0 else ["licence:MIT"],
        evidence=[Evidence(signal="manifest.license", ref=f"m-{n % 4}", value="MIT")],
        policy_version="consentry-policy/1",
        registry_version=3,
        decided_at=datetime(2026, 11, 27, 12, tzinfo=UTC),
        # Half the decisions carry the item inputs, half look like older ones.
        **({"license": "MIT", "territory": "US", "commercial": True} if n % 2 else {}),
    )
    return InRecord("decisions.v1", n % 2, n // 2, None, decision.model_dump_json().encode(), {})


class Ledger:
    """A ledger service over SQLite that publishes its entries to real Kafka."""

    def __init__(self, bootstrap: str, prefix: str, database: str, signer: Signer) -> None:
        self.bootstrap, self.prefix, self.database, self.signer = bootstrap, prefix, database, signer
        self.topic = prefix + topics.LEDGER_ENTRIES

    async def populate(
        self, batches: list[int], first: int = 0
    ) -> tuple[str, list[bytes], dict[tuple[str, int], int]]:
        """Append ``batches`` of decisions numbered from ``first``; the latest checkpoint note,
        the leaves and the consumed offsets."""
        store = SqlLedgerStore.from_url(self.database)
        await store.initialise()
        broker = make_broker(self.bootstrap, client_id="rebuild-test")
        names = [self.topic, self.prefix + topics.dead_letter(topics.DECISIONS)]
        publisher = KeyedBatchPublisher(broker, await ensure_topics(self.bootstrap, names, partitions=3))
        await broker.start()
        try:
            service = LedgerService(
                store,
                self.signer,
                publisher,
                origin=ORIGIN,
                topic_of=lambda name: self.prefix + name,
                tracer=trace.get_tracer("test"),
            )
            await service.start()
            n = first
            for count in batches:
                assert (
                    await service.append_records([decision_record(i) for i in range(n, n + count)]) == count
                )
                n += count
            assert service.checkpoint_note is not None
            return service.checkpoint_note, await store.leaves(0, n - first), await store.offsets()
        finally:
            await broker.stop()
            await store.close()

    async def publish_again(self, records: list[OutRecord]) -> None:
        """Records on the entries topic as a restarted outbox (or an attacker) would add them."""
        broker = make_broker(self.bootstrap, client_id="rebuild-test-extra")
        publisher = KeyedBatchPublisher(
            broker, await ensure_topics(self.bootstrap, [self.topic], partitions=3)
        )
        await broker.start()
        try:
            await publisher.publish(self.topic, records)
        finally:
            await broker.stop()

    def records(self) -> AsyncIterator[TopicRecord]:
        return read_entries_topic(self.bootstrap, self.topic)


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture
def ledger(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, signer: Signer) -> Ledger:
    return Ledger(kafka_bootstrap, topic_prefix, f"sqlite:///{tmp_path / 'source.db'}", signer)


@pytest.fixture(params=["postgresql", "sqlite"])
def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rebuilt.db'}"
    url: str = request.getfixturevalue("fresh_database_url")
    return url


async def test_the_topic_rebuilds_the_same_log_into_an_empty_database(
    ledger: Ledger, signer: Signer, target_url: str
) -> None:
    note, leaves, offsets = await ledger.populate(BATCHES)
    # A restarted outbox publishes a stretch again: identical repeats are skipped.
    await ledger.publish_again([OutRecord(key=str(i).encode(), value=leaves[i]) for i in range(40, 45)])

    target = SqlLedgerStore.from_url(target_url)
    try:
        result = await rebuild_from_topic(
            ledger.records, target, reference_note=note, signer=signer, chunk=150
        )
        reference, _ = open_checkpoint(note, [signer.verifier()])
        assert (result.size, result.root) == (SIZE, reference.root_hash)
        assert result.repeats_skipped == 5 and result.records_read == SIZE + 5
        assert result.chunks == 4  # 150, 300, 450 signed by the key; 550 is the reference itself

        latest = await target.latest_checkpoint()
        assert latest is not None and latest.note == note and latest.size == SIZE
        assert await target.leaves(0, SIZE) == leaves
        assert await target.offsets() == offsets
        assert await target.published_size() == SIZE
        intermediate = await target.checkpoint_at(150)
        assert intermediate is not None
        assert Checkpoint.from_text(open_note(intermediate.note, [signer.verifier()]).text).size == 150

        # A ledger on the rebuilt database: its stored tree checks out, proofs are against the
        # reference checkpoint, and it goes on appending after the last index.
        service = LedgerService(
            target, signer, NoPublisher(), origin=ORIGIN, topic_of=str, tracer=trace.get_tracer("test")
        )
        await service.start()
        assert service.size == SIZE
        proof = await service.inclusion(7, SIZE)
        assert proof.checkpoint == note
        assert await service.append_records([decision_record(i) for i in range(SIZE, SIZE + 5)]) == 5
        assert await service.append_records([decision_record(3)]) == 0  # logged before the rebuild
        await service.consistency(SIZE, SIZE + 5)
    finally:
        await target.close()


class NoPublisher:
    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        return None


async def test_an_entry_published_again_with_other_bytes_is_refused_and_nothing_written(
    ledger: Ledger, signer: Signer, tmp_path: Path
) -> None:
    note, leaves, _ = await ledger.populate([20, 30])
    altered = leaves[7].replace(b'"licence:MIT"', b'"licence:CC0-1.0"')
    assert altered != leaves[7]
    await ledger.publish_again([OutRecord(key=b"7", value=altered)])

    target = SqlLedgerStore.from_url(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        with pytest.raises(RebuildRefused, match=r"entry 7 .* appears again with different bytes"):
            await rebuild_from_topic(ledger.records, target, reference_note=note, signer=signer)
        assert await target.latest_checkpoint() is None
    finally:
        await target.close()


async def latest_note(url: str) -> str | None:
    store = SqlLedgerStore.from_url(url)
    try:
        latest = await store.latest_checkpoint()
        return latest.note if latest else None
    finally:
        await store.close()


def test_consentry_ledger_rebuild_on_real_kafka(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, signer: Signer
) -> None:
    source = Ledger(kafka_bootstrap, topic_prefix, f"sqlite:///{tmp_path / 'source.db'}", signer)
    note, _, _ = asyncio.run(source.populate([10, 15]))
    # As the live log serves it: with a witness's signature line, which the store keeps apart.
    witness = Signer.generate("witness.example/w")
    witnessed = add_signatures(
        note, [sign_note(open_note(note, [signer.verifier()]).text, [witness]).split("\n\n")[1]]
    )
    assert witnessed != note
    (tmp_path / "checkpoint").write_text(witnessed)
    (tmp_path / "ledger.key").write_text(signer.skey + "\n")
    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CONSENTRY_TOPIC_PREFIX": topic_prefix}
    args = ["ledger", "rebuild", "--database-url", target, "--checkpoint", str(tmp_path / "checkpoint")]

    runner = CliRunner()
    done = runner.invoke(cli_app, [*args, "--key", str(tmp_path / "ledger.key")], env=env)
    assert done.exit_code == 0, done.output
    root = open_checkpoint(note, [signer.verifier()])[0].root_hash.hex()
    assert f"rebuilt 25 entries from {topic_prefix}ledger.entries.v1" in done.stdout
    assert root in done.stdout
    stored = asyncio.run(latest_note(target))
    assert stored == note  # the log's own signature only

    again = runner.invoke(cli_app, [*args, "--key", str(tmp_path / "ledger.key")], env=env)
    assert again.exit_code == 0, again.output  # nothing left to do
    assert "0 transactions" in again.stdout

    other_prefix = topic_prefix + "other."
    other = Ledger(kafka_bootstrap, other_prefix, f"sqlite:///{tmp_path / 'other-source.db'}", signer)
    other_note, _, _ = asyncio.run(other.populate([30], first=1000))
    (tmp_path / "other-checkpoint").write_text(other_note)
    mixed = runner.invoke(
        cli_app,
        [
            *args[:4],
            "--checkpoint",
            str(tmp_path / "other-checkpoint"),
            "--key",
            str(tmp_path / "ledger.key"),
        ],
        env={**env, "CONSENTRY_TOPIC_PREFIX": other_prefix},
    )
    assert mixed.exit_code == 2
    assert "the target database holds another log (its entry 0 differs)" in " ".join(mixed.stderr.split())

    stranger = Signer.generate(ORIGIN)
    (tmp_path / "other.key").write_text(stranger.skey + "\n")
    wrong = runner.invoke(
        cli_app,
        [
            "ledger",
            "rebuild",
            "--database-url",
            f"sqlite:///{tmp_path / 'third.db'}",
            "--checkpoint",
            str(tmp_path / "checkpoint"),
            "--key",
            str(tmp_path / "other.key"),
        ],
        env=env,
    )
    assert wrong.exit_code == 2
    assert "not signed by" in " ".join(wrong.stderr.split())


async def test_records_deleted_from_the_topic_are_named_not_mistaken_for_a_gap(
    ledger: Ledger, signer: Signer, tmp_path: Path
) -> None:
    note, _, _ = await ledger.populate([30])
    admin = AIOKafkaAdminClient(bootstrap_servers=ledger.bootstrap)
    await admin.start()
    try:  # what retention does to old records
        await admin.delete_records({TopicPartition(ledger.topic, 1): RecordsToDelete(before_offset=2)})
    finally:
        await admin.close()
    target = SqlLedgerStore.from_url(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        with pytest.raises(
            RebuildRefused, match=r"partition 1 of .* starts at offset 2: earlier records were deleted"
        ):
            await rebuild_from_topic(ledger.records, target, reference_note=note, signer=signer)
        assert await target.latest_checkpoint() is None
    finally:
        await target.close()


class CrashingStore(SqlLedgerStore):
    """The real SQLite store, whose process dies (as far as the rebuild can tell) at an append."""

    appends_left = 2

    async def append(self, plan: AppendPlan, *, base_size: int) -> None:
        if self.appends_left == 0:
            raise ConnectionError("killed")
        self.appends_left -= 1
        await super().append(plan, base_size=base_size)


async def test_an_interrupted_rebuild_is_completed_by_running_it_again(
    ledger: Ledger, signer: Signer, tmp_path: Path
) -> None:
    note, leaves, offsets = await ledger.populate([120, 130])
    url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    crashing = CrashingStore.from_url(url)
    try:
        with pytest.raises(ConnectionError):
            await rebuild_from_topic(ledger.records, crashing, reference_note=note, signer=signer, chunk=100)
        partial = await crashing.latest_checkpoint()
        assert partial is not None
        assert partial.size == 200
    finally:
        await crashing.close()

    store = SqlLedgerStore.from_url(url)
    try:
        result = await rebuild_from_topic(
            ledger.records, store, reference_note=note, signer=signer, chunk=100
        )
        assert result.chunks == 1  # entries 200..249, with the reference checkpoint
        assert await store.leaves(0, 250) == leaves
        assert await store.offsets() == offsets
        latest = await store.latest_checkpoint()
        assert latest is not None
        assert latest.note == note
    finally:
        await store.close()


async def test_an_entry_forged_ahead_of_the_log_is_named_with_the_exports_tiles(
    ledger: Ledger, signer: Signer, tmp_path: Path
) -> None:
    # Someone with write access to the topic publishes a forged entry 0 before the ledger does.
    forged = decision_record(0)
    fake = DecisionEvent.model_validate_json(forged.value).model_copy(update={"verdict": Verdict.CONSENT})
    leaf = entry_leaf(
        LedgerEntry(
            index=0, **fake.model_dump(exclude={"item_event_id"}), topic="decisions.v1", partition=0, offset=0
        )
    )
    await ledger.publish_again([OutRecord(key=b"0", value=leaf)])
    note, leaves, _ = await ledger.populate([40])
    export = tmp_path / "export"
    write_export(export, note, signer.vkey, leaves)

    target = SqlLedgerStore.from_url(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    try:
        with pytest.raises(
            RebuildRefused, match=r"entry 0 \(partition \d offset 0\) hashes to [0-9a-f]+, the log has"
        ):
            await rebuild_from_topic(
                ledger.records,
                target,
                reference_note=note,
                signer=signer,
                reference_hash=functools.partial(TileHashReader(export, 40).hash_at, 0),
            )
        # Without the tiles the real entry 0 shows up as a repeat with other bytes: refused too.
        with pytest.raises(RebuildRefused, match=r"entry 0 .* appears again with different bytes"):
            await rebuild_from_topic(ledger.records, target, reference_note=note, signer=signer)
        assert await target.latest_checkpoint() is None
    finally:
        await target.close()
