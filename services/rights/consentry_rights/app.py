"""Wiring of the rights service: settings -> registry store, engine policy, broker, HTTP API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.sdk.trace import TracerProvider

from consentry_rights.adapters.fetcher import SignalFetcher
from consentry_rights.adapters.http import registry_router
from consentry_rights.adapters.store import RegistryStore, SqlRegistryStore
from consentry_rights.domain.web_signals import ParsedDocuments
from consentry_rights.service import RightsService
from consentry_rights.settings import RightsSettings
from consentry_shared import topics
from consentry_shared.auth import TokenBook
from consentry_shared.contracts.v1 import DecisionEvent, RegistryChange
from consentry_shared.kafka import KeyedBatchPublisher, in_records
from consentry_shared.ops import asyncapi_router
from consentry_shared.runtime import batch_subscriber, broker_lifespan, consumer_ops, plumbing

log = logging.getLogger(__name__)


@dataclass
class RightsComponents:
    settings: RightsSettings
    broker: KafkaBroker
    store: RegistryStore
    publisher: KeyedBatchPublisher
    service: RightsService
    subscriber: Any
    fetcher: SignalFetcher | None = None
    tokens: TokenBook | None = None
    share_listener: _RegistryShareListener | None = None


class _RegistryShareListener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands each new ``items.v1`` assignment to the service and starts rebuilding its registry
    view for that share in the background.

    Not awaited here: aiokafka sends no heartbeats until this callback returns, and reading a
    large registry takes longer than a session timeout (the group would evict the member and
    rebalance again). The next batch's ``refresh()`` waits for the rebuild, so no batch is
    decided with the old share's view. The partition count comes from the consumer's metadata
    (the topic as it is, not the count the settings would create); without it the service holds
    the whole registry."""

    def __init__(self, service: RightsService, topic: str) -> None:
        self._service = service
        self._topic = topic
        self._rebuilds: set[asyncio.Task[None]] = set()
        self.subscriber: Any = None

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to drop yet: the view only shrinks once the new assignment is known."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        consumer = getattr(self.subscriber, "consumer", None)
        known = consumer.partitions_for_topic(self._topic) if consumer is not None else None
        held = {tp.partition for tp in assigned if tp.topic == self._topic}
        self._service.want(len(known) if known else None, held)
        rebuild = asyncio.create_task(self._service.refresh())
        self._rebuilds.add(rebuild)
        rebuild.add_done_callback(self._finished)

    def _finished(self, rebuild: asyncio.Task[None]) -> None:
        self._rebuilds.discard(rebuild)
        if not rebuild.cancelled() and rebuild.exception() is not None:
            # The next batch's refresh() tries again (and fails the batch if it cannot).
            log.warning("registry rebuild after a rebalance failed: %r", rebuild.exception())

    async def close(self) -> None:
        """Cancel a rebuild still running (at shutdown)."""
        for rebuild in list(self._rebuilds):
            rebuild.cancel()
        await asyncio.gather(*self._rebuilds, return_exceptions=True)


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
    base = plumbing("rights", settings, tracer_provider)
    broker, publisher, tracer = base.broker, base.publisher, base.tracer
    store = store or SqlRegistryStore.from_url(settings.database_url_for("rights"))
    policy = settings.policy()
    if fetcher is None and settings.fetch_signals:
        fetcher = SignalFetcher(settings.fetcher_config())
    service = RightsService(
        store,
        publisher,
        policy,
        topic_of=settings.topic,
        tracer=tracer,
        fetcher=fetcher,
        documents=ParsedDocuments(settings.signal_documents),
    )

    share = _RegistryShareListener(service, settings.topic(topics.ITEMS)) if settings.shard_registry else None
    subscriber = batch_subscriber(
        broker,
        settings,
        topics.ITEMS,
        service="rights",
        max_records=settings.batch_max_records,
        timeout_ms=settings.batch_timeout_ms,
        title="rights.decide",
        description="Decides each item against the registry and publishes decisions.v1.",
        listener=share,
    )
    if share is not None:
        share.subscriber = subscriber

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
    return RightsComponents(
        settings,
        broker,
        store,
        publisher,
        service,
        subscriber,
        fetcher,
        tokens=settings.token_book(),
        share_listener=share,
    )


def _ops(components: RightsComponents) -> APIRouter:
    async def details() -> dict[str, Any]:
        return {
            "registry_version": components.service.registry_version,
            "registry_share": components.service.registry_share(),
        }

    return consumer_ops(
        "rights",
        components.settings,
        broker=components.broker,
        subscriber=components.subscriber,
        ping=components.store.ping,
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
        if components.settings.shard_registry:
            # No hash-keyed records until the consumer is assigned partitions: a sharded instance
            # never holds the whole registry, not even while it starts.
            await components.service.assign(components.settings.partitions, ())
        else:
            await components.service.refresh()
        async with broker_lifespan(
            components.broker,
            components.settings,
            [topics.ITEMS, topics.DECISIONS, topics.RIGHTS_UPDATES],
            partitions=components.settings.partitions,
            publisher=components.publisher,
        ):
            yield
        if components.share_listener is not None:
            await components.share_listener.close()
        if components.fetcher is not None:
            await components.fetcher.aclose()
        await components.store.close()

    app = FastAPI(title="Consentry rights", version="1", lifespan=lifespan)
    app.state.components = components
    app.include_router(registry_router(components.tokens or components.settings.token_book()))
    app.include_router(_ops(components))
    app.include_router(asyncapi_router(components.broker, "Consentry rights"))
    return app
