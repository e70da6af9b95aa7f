"""Prometheus metrics: the contract in deploy/README.md ("Metrics"), one registry per process.

Counters are bumped where the work happens (the shared Kafka plumbing counts records in and out
and dead letters; services count decisions and appends); gauges that need a question asked
(consumer lag, checkpoint age) are computed at scrape time by the collectors a service registers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = [
    "CHECKPOINT_AGE",
    "CONSUMER_LAG",
    "CONTENT_TYPE_LATEST",
    "DEAD_LETTERS",
    "DECISIONS",
    "LEDGER_APPEND_SECONDS",
    "LEDGER_SIZE",
    "MESSAGES",
    "REGISTRY",
    "SIGNAL_FETCH_ERRORS",
    "ScrapeHook",
    "consumer_lag",
    "render",
]

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "consentry_messages",
    "Kafka records consumed (in) or published (out)",
    ["direction", "topic"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "consentry_dead_letters",
    "Records sent to a dead-letter topic, by the topic they came from",
    ["topic"],
    registry=REGISTRY,
)
DECISIONS = Counter(
    "consentry_decisions",
    "Decisions published, by verdict and primary reason code",
    ["verdict", "reason"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "consentry_consumer_lag",
    "Records between a partition's end and the group's committed offset",
    ["group", "topic", "partition"],
    registry=REGISTRY,
)
LEDGER_SIZE = Gauge("consentry_ledger_size", "Entries in the transparency log", registry=REGISTRY)
LEDGER_APPEND_SECONDS = Histogram(
    "consentry_ledger_append_seconds",
    "Time to append one batch to the log (store, sign, commit)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
CHECKPOINT_AGE = Gauge(
    "consentry_checkpoint_age_seconds", "Seconds since the latest signed checkpoint", registry=REGISTRY
)
SIGNAL_FETCH_ERRORS = Counter(
    "consentry_signal_fetch_errors",
    "Failed fetches of a rights signal, by origin",
    ["origin"],
    registry=REGISTRY,
)

ScrapeHook = Callable[[], Awaitable[None]]


def reason_code(reason: str) -> str:
    """The code of a reason without its record id (``deal:d-17`` -> ``deal``), to bound label values."""
    return reason.split(":", 1)[0]


async def consumer_lag(group: str, consumer: Any) -> None:
    """Set ``consentry_consumer_lag`` for every partition ``consumer`` (an aiokafka consumer of
    ``group``) has assigned: the end offset minus the committed offset."""
    if consumer is None:
        return
    assigned = list(consumer.assignment())
    if not assigned:
        return
    ends = await consumer.end_offsets(assigned)
    for tp in assigned:
        committed = await consumer.committed(tp)
        lag = max(0, ends.get(tp, 0) - (committed if committed is not None else 0))
        CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(lag)


def render() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)
