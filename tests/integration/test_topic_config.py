"""Topics are created with the configuration their role needs, on the real Apache Kafka."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from consentry_shared.kafka import ensure_topics
from consentry_shared.topics import ITEMS, LEDGER_ENTRIES


async def _config(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        [(_, _, _, _, entries)] = response.resources  # error code, message, type, name, entries
        return {entry[0]: entry[1] for entry in entries}
    finally:
        await admin.close()


async def test_the_ledger_entries_topic_is_kept_forever_and_others_take_large_records(
    kafka_bootstrap: str,
) -> None:
    prefix = f"cfg-{uuid.uuid4().hex[:8]}."
    entries, items = prefix + LEDGER_ENTRIES, prefix + ITEMS
    layout = await ensure_topics(kafka_bootstrap, [entries, items], partitions=2)
    assert layout == {entries: 2, items: 2}
    ledger = await _config(kafka_bootstrap, entries)
    assert ledger["retention.ms"] == "-1"
    assert ledger["retention.bytes"] == "-1"
    assert ledger["max.message.bytes"] == str(4 * 1024 * 1024)
    other = await _config(kafka_bootstrap, items)
    assert other["retention.ms"] != "-1"
    assert other["max.message.bytes"] == str(4 * 1024 * 1024)
