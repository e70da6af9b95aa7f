"""The FastStream broker every service runs, configured once here."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from consentry_shared.kafka.security import KafkaSecurity

# One produce request carries at most this many bytes per partition; it stays below the broker's
# default message.max.bytes (1 MiB) so a full batch is never refused.
MAX_BATCH_BYTES = 900 * 1024


def make_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    security: KafkaSecurity | None = None,
) -> KafkaBroker:
    """A broker with durable producer settings (acks=all).

    It has no telemetry middleware on purpose: tracing is per publish call and per consumed
    manifest group (see :mod:`consentry_shared.telemetry`), not per message.

    Batching is explicit (see :class:`~consentry_shared.kafka.publisher.KeyedBatchPublisher`),
    so ``linger_ms`` stays small: it only merges the per-partition batches of one publish call.
    """
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        linger_ms=2,
        max_batch_size=MAX_BATCH_BYTES + 64 * 1024,
        max_request_size=4 * 1024 * 1024,
        request_timeout_ms=30_000,
        security=security.for_faststream() if security else None,
        logger=None,
    )
