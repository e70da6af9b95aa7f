"""Kafka plumbing every service shares.

- :mod:`.broker`: the FastStream broker with the project's producer settings and telemetry.
- :mod:`.topics`: create the topics a service needs and learn their partition counts.
- :mod:`.publisher`: keyed batch publishing (one request per partition, never one await per
  message) that keeps "one key, one partition" like Kafka's default partitioner.
- :mod:`.records`: what a batch handler reads off consumed records (value, key, headers, position)
  and the dead-letter record built from a poison message.
"""

from consentry_shared.kafka.broker import make_broker
from consentry_shared.kafka.publisher import KeyedBatchPublisher, OutRecord, partition_for
from consentry_shared.kafka.records import (
    InRecord,
    dead_letter_record,
    in_records,
    raw_batch_decoder,
    validation_reason,
)
from consentry_shared.kafka.topics import delete_topics, ensure_topics

__all__ = [
    "InRecord",
    "KeyedBatchPublisher",
    "OutRecord",
    "dead_letter_record",
    "delete_topics",
    "ensure_topics",
    "in_records",
    "make_broker",
    "partition_for",
    "raw_batch_decoder",
    "validation_reason",
]
