"""Wiring of the ledger service: settings -> store, key, broker, subscriber, HTTP API."""

from __future__ import annotations

import time
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

from consentry_ledger.adapters.http import install as install_http_api
from consentry_ledger.adapters.keys import load_or_create_signer
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.adapters.store import LedgerStore
from consentry_ledger.service import LedgerService
from consentry_ledger.settings import LedgerSettings
from consentry_shared import topics
from consentry_shared.contracts.v1 import LedgerEntry
from consentry_shared.kafka import KeyedBatchPublisher, in_records, make_broker, raw_batch_decoder
from consentry_shared.metrics import CHECKPOINT_AGE, consumer_lag
from consentry_shared.ops import asyncapi_router, broker_check, consumer_check, ops_router
from consentry_shared.runtime import broker_lifespan
from consentry_shared.telemetry import setup_tracing


@dataclass
class LedgerComponents:
    settings: LedgerSettings
    broker: KafkaBroker
    store: LedgerStore
    publisher: KeyedBatchPublisher
    service: LedgerService
    subscriber: Any


def build(
    settings: LedgerSettings,
    *,
    store: LedgerStore | None = None,
    tracer_provider: TracerProvider | None = None,
) -> LedgerComponents:
    """Everything the ledger runs, wired but not started."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if tracer_provider is None:
        tracer_provider = setup_tracing("ledger", settings.data_dir, enabled=settings.telemetry)
    provider = tracer_provider
    tracer = trace.get_tracer("consentry.ledger", tracer_provider=provider)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id="consentry-ledger",
        tracer_provider=provider,
        security=settings.kafka_security(),
    )
    store = store or SqlLedgerStore.from_url(settings.database_url_for("ledger"))
    signer = load_or_create_signer(settings.data_dir / "ledger.key", settings.origin)
    publisher = KeyedBatchPublisher(broker, {})
    service = LedgerService(
        store,
        signer,
        publisher,
        origin=settings.origin,
        topic_of=settings.topic,
        tracer=tracer,
        witnesses=settings.witnesses,
        witness_quorum=settings.witness_quorum,
    )

    subscriber = broker.subscriber(
        settings.topic(topics.DECISIONS),
        group_id=settings.group("ledger"),
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=settings.batch_timeout_ms,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_ms,
        decoder=raw_batch_decoder,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="ledger.append",
        description="Appends decisions to the transparency log, one checkpoint per batch.",
    )

    @subscriber
    async def append_decisions(message: KafkaMessage) -> None:
        await service.append_records(in_records(message.raw_message))

    broker.publisher(
        settings.topic(topics.LEDGER_ENTRIES),
        title="ledger.entries.v1",
        schema=LedgerEntry,
        description="Every log entry (its leaf bytes: RFC 8785 JSON of this schema), keyed by index.",
    )
    return LedgerComponents(settings, broker, store, publisher, service, subscriber)


def create_app(
    settings: LedgerSettings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    """The ledger's ASGI app; its lifespan starts the store, the log state and the consumer."""
    components = build(settings or LedgerSettings(), tracer_provider=tracer_provider)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await components.store.initialise()
        async with broker_lifespan(
            components.broker,
            components.settings,
            [topics.DECISIONS, topics.LEDGER_ENTRIES],
            partitions=components.settings.partitions,
            publisher=components.publisher,
        ):
            await components.service.start()
            yield
        await components.store.close()

    app = FastAPI(title="Consentry ledger", version="1", lifespan=lifespan)
    app.state.components = components
    install_http_api(app)
    app.include_router(_ops(components))
    app.include_router(asyncapi_router(components.broker, "Consentry ledger"))
    return app


def _ops(components: LedgerComponents) -> APIRouter:
    group = components.settings.group("ledger")
    service = components.service

    async def store_check() -> str | None:
        await components.store.ping()
        return None

    async def scrape() -> None:
        if service.checkpoint_at is not None:
            CHECKPOINT_AGE.set(time.time() - service.checkpoint_at)
        await consumer_lag(group, getattr(components.subscriber, "consumer", None))

    async def details() -> dict[str, Any]:
        return {"size": service.size}

    return ops_router(
        "ledger",
        checks={
            "kafka": broker_check(components.broker),
            "database": store_check,
            "consumer": consumer_check(components.subscriber),
        },
        scrape_hooks=[scrape],
        details=details,
    )
