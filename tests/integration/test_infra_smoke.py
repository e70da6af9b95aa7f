"""The real broker and database the integration tests run on do what the services rely on."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

pytestmark = pytest.mark.integration

MESSAGES = 1000
PARTITIONS = 3


async def _send_keyed_batches(producer: AIOKafkaProducer, topic: str) -> dict[bytes, int]:
    """Send MESSAGES keyed records with send_batch, partitioned by key as Kafka's default
    partitioner (murmur2) does; return the partition each key went to."""
    partitioner = DefaultPartitioner()
    all_partitions = list(range(PARTITIONS))
    partition_of: dict[bytes, int] = {}
    batches = {partition: producer.create_batch() for partition in range(PARTITIONS)}
    for i in range(MESSAGES):
        key = f"key-{i}".encode()
        partition = partitioner(key, all_partitions, all_partitions)
        assert batches[partition].append(key=key, value=f"value-{i}".encode(), timestamp=None)
        partition_of[key] = partition
    deliveries = []
    for partition, batch in batches.items():
        batch.close()
        deliveries.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*deliveries)
    return partition_of


async def test_kafka_round_trip_with_a_committing_group(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}smoke.v1"
    group = f"{topic_prefix}smoke"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        assert await producer.partitions_for(topic) == set(range(PARTITIONS))
        partition_of = await _send_keyed_batches(producer, topic)
    finally:
        await producer.stop()
    assert len(set(partition_of.values())) == PARTITIONS  # 1000 keys spread over all partitions

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: dict[bytes, tuple[int, bytes]] = {}
    per_partition: dict[int, list[int]] = defaultdict(list)
    try:
        async with asyncio.timeout(60):
            while len(received) < MESSAGES:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    for record in records:
                        assert record.key is not None
                        assert record.value is not None
                        received[record.key] = (tp.partition, record.value)
                        per_partition[tp.partition].append(record.offset)
        await consumer.commit()
        committed = {tp.partition: await consumer.committed(tp) for tp in sorted(consumer.assignment())}
    finally:
        await consumer.stop()

    assert len(received) == MESSAGES
    for key, (partition, value) in received.items():
        assert partition == partition_of[key]  # same key, same partition
        assert value == key.replace(b"key-", b"value-")
    for partition, offsets in per_partition.items():
        assert offsets == list(range(len(offsets)))  # in order, no gaps, no duplicates
        assert committed[partition] == len(offsets)  # committed = next offset to read

    # A new member of the same group resumes after the committed offsets: nothing is re-read.
    again = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await again.start()
    try:
        async with asyncio.timeout(30):
            while not again.assignment():
                await again.getmany(timeout_ms=100)
        positions = {tp.partition: await again.position(tp) for tp in again.assignment()}
        leftover = await again.getmany(timeout_ms=500)
    finally:
        await again.stop()
    assert positions == committed
    assert sum(len(records) for records in leftover.values()) == 0


async def test_kafka_creates_topics_on_first_produce(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}auto.v1"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        metadata = await producer.send_and_wait(topic, b"payload", key=b"k", headers=[("reason", b"smoke")])
        assert await producer.partitions_for(topic) == set(range(PARTITIONS))
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, metadata.partition)
        consumer.assign([tp])
        consumer.seek(tp, metadata.offset)
        records = (await consumer.getmany(tp, timeout_ms=5000)).get(tp, [])
        assert [(r.key, r.value, tuple(r.headers)) for r in records] == [
            (b"k", b"payload", (("reason", b"smoke"),))
        ]
    finally:
        await consumer.stop()


async def test_postgres_round_trip(database_url: str, fresh_database_url: str) -> None:
    assert fresh_database_url.startswith("postgresql://")
    assert fresh_database_url != database_url
    connection = await asyncpg.connect(fresh_database_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        await connection.execute(
            "CREATE TABLE consent (id bigserial PRIMARY KEY, subject text NOT NULL, doc jsonb NOT NULL)"
        )
        async with connection.transaction():
            await connection.executemany(
                "INSERT INTO consent (subject, doc) VALUES ($1, $2::jsonb)",
                [(f"s{i}", f'{{"n": {i}}}') for i in range(100)],
            )
        rows = await connection.fetch("SELECT subject, doc->>'n' AS n FROM consent ORDER BY id")
        assert [(row["subject"], int(row["n"])) for row in rows] == [(f"s{i}", i) for i in range(100)]
        with pytest.raises(asyncpg.NotNullViolationError):
            await connection.execute("INSERT INTO consent (subject, doc) VALUES (NULL, '{}')")
    finally:
        await connection.close()


async def test_each_test_gets_an_empty_database(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        assert await connection.fetchval("SELECT to_regclass('public.consent')") is None
    finally:
        await connection.close()
