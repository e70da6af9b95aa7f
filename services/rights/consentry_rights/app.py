"""Wiring of the rights service: settings -> registry store, engine policy, broker, HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from consentry_rights.adapters.fetcher import SignalFetcher
from consentry_rights.adapters.http import router as http_router
from consentry_rights.adapters.store import RegistryStore, SqlRegistryStore
from consentry_rights.service import RightsService
from consentry_rights.settings import RightsSettings
from consentry_shared import topics
from consentry_shared.contracts.v1 import DecisionEvent, RegistryChange
from consentry_shared.kafka import KeyedBatchPublisher, in_records, make_broker, raw_batch_decoder
from consentry_shared.metrics import consumer_lag
from consentry_shared.ops import asyncapi_router, broker_check, consumer_check, ops_router
from consentry_shared.runtime import broker_lifespan
from consentry_shared.telemetry import setup_tracing


@dataclass
class RightsComponents:
    settings: RightsSettings
    broker: KafkaBroker
    store: RegistryStore
    publisher: KeyedBatchPublisher
    service: RightsService
    subscriber: Any
    fetcher: SignalFetcher | None = None


def build(
    settings: RightsSettings,
    *,
    store: RegistryStore | None = None,
    tracer_provider: TracerProvider | None = None,
    fetcher: SignalFetcher | None = None,
) -> RightsComponents:
    """Everything the rights service runs, wired but not started.

    ``fetcher`` replaces the signal fetcher built from the settings (and switches fetching on).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if tracer_provider is None:
        tracer_provider = setup_tracing("rights", settings.data_dir, enabled=settings.telemetry)
    provider = tracer_provider
    tracer = trace.get_tracer("consentry.rights", tracer_provider=provider)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id="consentry-rights",
        tracer_provider=provider,
        security=settings.kafka_security(),
    )
    store = store or SqlRegistryStore.from_url(settings.database_url_for("rights"))
    publisher = KeyedBatchPublisher(broker, {})
    policy = settings.policy()
    if fetcher is None and settings.fetch_signals:
        fetcher = SignalFetcher(settings.fetcher_config())
    service = RightsService(store, publisher, policy, topic_of=settings.topic, tracer=tracer, fetcher=fetcher)

    subscriber = broker.subscriber(
        settings.topic(topics.ITEMS),
        group_id=settings.group("rights"),
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_ms,
        decoder=raw_batch_decoder,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="rights.decide",
        description="Decides each item against the registry and publishes decisions.v1.",
    )

    @subscriber
    async def decide_items(message: KafkaMessage) -> None:
        await service.decide_records(in_records(message.raw_message))

    # For the AsyncAPI document: what rights publishes.
    broker.publisher(
        settings.topic(topics.DECISIONS),
        title="decisions.v1",
        schema=DecisionEvent,
        description="One decision per item and purpose, with reasons and evidence.",
    )
    broker.publisher(
        settings.topic(topics.RIGHTS_UPDATES),
        title="rights.updates.v1",
        schema=RegistryChange,
        description="Every registry record created or replaced by an import.",
    )
    return RightsComponents(settings, broker, store, publisher, service, subscriber, fetcher)


def _ops(components: RightsComponents) -> APIRouter:
    group = components.settings.group("rights")

    async def store_check() -> str | None:
        await components.store.ping()
        return None

    async def lag() -> None:
        await consumer_lag(group, getattr(components.subscriber, "consumer", None))

    async def details() -> dict[str, Any]:
        return {"registry_version": components.service.registry_version}

    return ops_router(
        "rights",
        checks={
            "kafka": broker_check(components.broker),
            "database": store_check,
            "consumer": consumer_check(components.subscriber),
        },
        scrape_hooks=[lag],
        details=details,
    )


def create_app(
    settings: RightsSettings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """The rights ASGI app; its lifespan loads the registry and starts the consumer."""
    components = build(settings or RightsSettings(), tracer_provider=tracer_provider)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await components.store.initialise()
        await components.service.refresh()
        async with broker_lifespan(
            components.broker,
            components.settings,
            [topics.ITEMS, topics.DECISIONS, topics.RIGHTS_UPDATES],
            partitions=components.settings.partitions,
            publisher=components.publisher,
        ):
            yield
        if components.fetcher is not None:
            await components.fetcher.aclose()
        await components.store.close()

    app = FastAPI(title="Consentry rights", version="1", lifespan=lifespan)
    app.state.components = components
    app.include_router(http_router)
    app.include_router(_ops(components))
    app.include_router(asyncapi_router(components.broker, "Consentry rights"))
    return app
