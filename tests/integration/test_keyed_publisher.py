"""KeyedBatchPublisher on the real Apache Kafka: what it publishes arrives intact, keyed records on
the partition Kafka's default partitioner picks, with the call's headers on every record, in
the order given within a partition."""

from __future__ import annotations

import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from consentry_shared.kafka import KeyedBatchPublisher, ensure_topics, make_broker, partition_for
from consentry_shared.kafka.publisher import OutRecord, _aiokafka_producer

pytestmark = pytest.mark.integration


async def test_records_land_whole_on_their_keys_partitions_with_the_headers(kafka_bootstrap: str) -> None:
    topic = f"pub-{uuid.uuid4().hex[:8]}.items.v1"
    layout = await ensure_topics(kafka_bootstrap, [topic], partitions=3)
    broker = make_broker(kafka_bootstrap, client_id="publisher-test")
    await broker.connect()
    assert _aiokafka_producer(broker) is not None  # the direct path, not FastStream's publish_batch
    try:
        publisher = KeyedBatchPublisher(broker, layout, max_batch_bytes=64 * 1024)
        # Values big enough that a partition's records span several batches.
        records = [OutRecord(key=f"k{n}".encode(), value=(f"v{n}:" + "x" * 700).encode()) for n in range(600)]
        await publisher.publish(
            topic, records, headers={"traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"}
        )
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got: dict[int, list[tuple[bytes, bytes, dict[str, bytes]]]] = defaultdict(list)
        while sum(map(len, got.values())) < len(records):
            batches = await consumer.getmany(timeout_ms=5_000)
            assert batches, "records missing"
            for part, messages in batches.items():
                got[part.partition] += [(m.key, m.value, dict(m.headers)) for m in messages]
    finally:
        await consumer.stop()

    expected: dict[int, list[OutRecord]] = defaultdict(list)
    for record in records:
        expected[partition_for(record.key, 3)].append(record)
    assert sorted(got) == sorted(expected)
    for partition, sent in expected.items():
        assert [(key, value) for key, value, _ in got[partition]] == [(r.key, r.value) for r in sent]
        assert all(
            headers == {"traceparent": b"00-" + b"ab" * 16 + b"-" + b"cd" * 8 + b"-01"}
            for *_, headers in got[partition]
        )
