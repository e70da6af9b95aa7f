"""Wiring of the ingest service: settings -> broker, publisher, HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace import TracerProvider

from consentry_ingest.adapters.http import router as http_router
from consentry_ingest.adapters.kafka import ingest_manifest_records
from consentry_ingest.adapters.manifests import SqlManifestStore
from consentry_ingest.adapters.uploads import UploadStore
from consentry_ingest.domain.limits import UploadRateLimiter
from consentry_ingest.service import IngestService, spool_dir
from consentry_ingest.settings import IngestSettings
from consentry_shared import topics
from consentry_shared.auth import TokenBook
from consentry_shared.contracts.v1 import ItemEvent
from consentry_shared.kafka import KeyedBatchPublisher, in_records
from consentry_shared.ops import asyncapi_router, broker_check, ops_router
from consentry_shared.runtime import broker_lifespan, plumbing


@dataclass
class IngestComponents:
    settings: IngestSettings
    broker: KafkaBroker
    publisher: KeyedBatchPublisher
    service: IngestService
    tokens: TokenBook
    uploads: UploadStore
    manifests: SqlManifestStore


def build(settings: IngestSettings, *, tracer_provider: TracerProvider | None = None) -> IngestComponents:
    base = plumbing("ingest", settings, tracer_provider)
    broker, publisher, tracer = base.broker, base.publisher, base.tracer
    manifests = SqlManifestStore.from_url(settings.database_url_for("ingest"))
    service = IngestService(
        publisher,
        spool_dir=spool_dir(settings.data_dir),
        topic_of=settings.topic,
        tracer=tracer,
        max_bytes=settings.max_manifest_bytes,
        batch_items=settings.publish_batch_items,
        max_errors=settings.max_reported_errors,
        limiter=UploadRateLimiter(settings.limits_table(), settings.default_limits),
        manifests=manifests,
    )
    uploads = UploadStore(settings.data_dir / "uploads", ttl_s=settings.upload_session_ttl_s)

    @broker.subscriber(
        settings.topic(topics.MANIFESTS),
        group_id=settings.group("ingest"),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        heartbeat_interval_ms=settings.consumer_heartbeat_ms,
        title="ingest.manifests",
        description="Manifests produced straight to Kafka (ManifestMessage); each valid one becomes "
        "items.v1 events, an invalid one goes to manifests.v1.dlq with every error named.",
    )
    async def ingest_manifest(message: KafkaMessage) -> None:
        await ingest_manifest_records(service, publisher, settings, in_records(message.raw_message))

    # For the AsyncAPI document: what ingest publishes.
    broker.publisher(
        settings.topic(topics.ITEMS),
        title="items.v1",
        schema=ItemEvent,
        description="One event per manifest item, keyed by its sha256 or URL.",
    )
    return IngestComponents(settings, broker, publisher, service, settings.token_book(), uploads, manifests)


def create_app(
    settings: IngestSettings | None = None, *, tracer_provider: TracerProvider | None = None
) -> FastAPI:
    components = build(settings or IngestSettings(), tracer_provider=tracer_provider)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await components.manifests.initialise()
        async with broker_lifespan(
            components.broker,
            components.settings,
            [topics.ITEMS, topics.MANIFESTS],
            partitions=components.settings.partitions,
            publisher=components.publisher,
        ):
            yield
        await components.manifests.close()

    app = FastAPI(title="Consentry ingest", version="1", lifespan=lifespan)
    app.state.components = components
    app.include_router(http_router)
    app.include_router(asyncapi_router(components.broker, "Consentry ingest"))

    async def database() -> str | None:
        await components.manifests.ping()
        return None

    app.include_router(
        ops_router("ingest", checks={"kafka": broker_check(components.broker), "database": database})
    )
    return app
