"""Wiring of the ledger service: settings -> store, key, broker, subscriber, HTTP API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace import TracerProvider

from consentry_ledger.adapters.http import install as install_http_api
from consentry_ledger.adapters.keys import load_or_create_signer
from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.adapters.store import LedgerStore
from consentry_ledger.service import LedgerService
from consentry_ledger.settings import LedgerSettings
from consentry_shared import topics
from consentry_shared.contracts.v1 import LedgerEntry
from consentry_shared.kafka import KeyedBatchPublisher, in_records
from consentry_shared.metrics import CHECKPOINT_AGE
from consentry_shared.ops import asyncapi_router
from consentry_shared.runtime import batch_subscriber, broker_lifespan, consumer_ops, plumbing


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
    base = plumbing("ledger", settings, tracer_provider)
    broker, publisher, tracer = base.broker, base.publisher, base.tracer
    store = store or SqlLedgerStore.from_url(settings.database_url_for("ledger"))
    signer = load_or_create_signer(settings.data_dir / "ledger.key", settings.origin)
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

    subscriber = batch_subscriber(
        broker,
        settings,
        topics.DECISIONS,
        service="ledger",
        max_records=settings.batch_max_records,
        timeout_ms=settings.batch_timeout_ms,
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
    service = components.service

    def scrape() -> None:
        if service.checkpoint_at is not None:
            CHECKPOINT_AGE.set(time.time() - service.checkpoint_at)

    async def details() -> dict[str, Any]:
        return {"size": service.size}

    return consumer_ops(
        "ledger",
        components.settings,
        broker=components.broker,
        subscriber=components.subscriber,
        ping=components.store.ping,
        details=details,
        scrape=scrape,
    )
