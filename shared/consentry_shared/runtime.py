"""The start-up and shut-down sequence every service shares.

A service is a FastAPI app (its HTTP API, ``/health``) around a FastStream broker (its
consumers). :func:`broker_lifespan` makes sure the topics exist, learns their partition counts,
starts the broker and stops it on shutdown so in-flight batches finish and offsets commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener
from fastapi import APIRouter
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from consentry_shared.kafka import KeyedBatchPublisher, ensure_topics, make_broker, raw_batch_decoder
from consentry_shared.metrics import consumer_lag
from consentry_shared.ops import broker_check, consumer_check, ops_router
from consentry_shared.settings import ServiceSettings
from consentry_shared.telemetry import setup_tracing
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


@dataclass
class Plumbing:
    """What every service's wiring starts from: its tracer, its broker, its keyed publisher."""

    tracer: trace.Tracer
    broker: KafkaBroker
    publisher: KeyedBatchPublisher


def plumbing(service: str, settings: ServiceSettings, tracer_provider: TracerProvider | None) -> Plumbing:
    """The data directory, tracing (unless a provider is given, as tests do), the broker with the
    project's producer settings and Kafka security, and an empty-layout publisher (the lifespan
    gives it the topics' layout before the first batch)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if tracer_provider is None:
        tracer_provider = setup_tracing(service, settings.data_dir, enabled=settings.telemetry)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=f"consentry-{service}",
        security=settings.kafka_security(),
    )
    tracer = trace.get_tracer(f"consentry.{service}", tracer_provider=tracer_provider)
    publisher = KeyedBatchPublisher(broker, {}, tracer=tracer if tracer_provider is not None else None)
    return Plumbing(tracer, broker, publisher)


def batch_subscriber(
    broker: KafkaBroker,
    settings: ServiceSettings,
    logical_topic: str,
    *,
    service: str,
    max_records: int,
    timeout_ms: int,
    title: str,
    description: str,
    listener: ConsumerRebalanceListener | None = None,
) -> BatchSubscriber:
    """The hot path's subscriber: batches, manual offsets (committed after the handler succeeds,
    redelivered when it raises), the service's consumer group, raw bytes for the handler.

    ``listener`` hears each rebalance (aiokafka awaits its coroutines): a service that keeps
    state per partition rebuilds it there."""
    return broker.subscriber(
        settings.topic(logical_topic),
        group_id=settings.group(service),
        batch=True,
        max_records=max_records,
        batch_timeout_ms=timeout_ms,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_ms,
        decoder=raw_batch_decoder,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        listener=listener,
        title=title,
        description=description,
    )


def consumer_ops(
    service: str,
    settings: ServiceSettings,
    *,
    broker: KafkaBroker,
    subscriber: Any,
    ping: Callable[[], Awaitable[None]],
    details: Callable[[], Awaitable[dict[str, Any]]],
    scrape: Callable[[], None] | None = None,
) -> APIRouter:
    """``/health``, ``/ready`` (Kafka, database, partitions held) and ``/metrics`` (with the
    consumer's lag) for a service that consumes; ``scrape`` sets its own gauges first."""
    group = settings.group(service)

    async def database() -> str | None:
        await ping()
        return None

    async def scrape_hook() -> None:
        if scrape is not None:
            scrape()
        await consumer_lag(group, getattr(subscriber, "consumer", None))

    return ops_router(
        service,
        checks={"kafka": broker_check(broker), "database": database, "consumer": consumer_check(subscriber)},
        scrape_hooks=[scrape_hook],
        details=details,
    )
