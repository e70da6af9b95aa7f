"""The start-up and shut-down sequence every service shares.

A service is a FastAPI app (its HTTP API, ``/health``) around a FastStream broker (its
consumers). :func:`broker_lifespan` makes sure the topics exist, learns their partition counts,
starts the broker and stops it on shutdown so in-flight batches finish and offsets commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from faststream.kafka import KafkaBroker

from consentry_shared.kafka import KeyedBatchPublisher, ensure_topics
from consentry_shared.settings import ServiceSettings
from consentry_shared.topics import dead_letter


@asynccontextmanager
async def broker_lifespan(
    broker: KafkaBroker,
    settings: ServiceSettings,
    logical_topics: Iterable[str],
    *,
    partitions: int,
    publisher: KeyedBatchPublisher,
) -> AsyncIterator[dict[str, int]]:
    """Create ``logical_topics`` (and their dead-letter topics), hand their layout to
    ``publisher``, start ``broker`` and yield the layout; stop the broker on exit."""
    names = []
    for name in logical_topics:
        names += [settings.topic(name), settings.topic(dead_letter(name))]
    layout = await ensure_topics(
        settings.kafka_bootstrap_servers,
        names,
        partitions=partitions,
        client_options=settings.kafka_security().for_aiokafka(),
    )
    publisher.set_layout(layout)  # before the first consumed batch can publish
    await broker.start()
    try:
        yield layout
    finally:
        await broker.stop()
