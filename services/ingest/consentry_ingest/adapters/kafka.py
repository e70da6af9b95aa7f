"""Ingest's Kafka entry point: manifests produced straight to ``manifests.v1``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from pydantic import ValidationError

from consentry_ingest.service import IngestError, IngestService, ManifestRejected, Submission
from consentry_ingest.settings import IngestSettings
from consentry_shared import topics
from consentry_shared.contracts.v1 import ManifestMessage
from consentry_shared.kafka import (
    InRecord,
    KeyedBatchPublisher,
    OutRecord,
    dead_letter_record,
    validation_reason,
)
from consentry_shared.telemetry import continued_from

_SERVICE = "ingest"


def as_jsonl(message: ManifestMessage) -> bytes:
    """The message as the JSONL manifest it stands for: the header line, then one line per item,
    so it is validated exactly like an upload (item ``n`` is line ``n + 1``)."""
    header = {"manifest": message.manifest.model_dump(exclude_none=True, mode="json")}
    lines = [json.dumps(header), *(json.dumps(item) for item in message.items)]
    return ("\n".join(lines) + "\n").encode()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def ingest_manifest_records(
    service: IngestService,
    publisher: KeyedBatchPublisher,
    settings: IngestSettings,
    records: Sequence[InRecord],
) -> None:
    """Submit each manifest message like an upload; dead-letter the invalid ones with the reason."""
    dead: list[OutRecord] = []
    for record in records:
        try:
            message = ManifestMessage.model_validate_json(record.value)
        except ValidationError as error:
            dead.append(
                dead_letter_record(record, validation_reason("manifests.v1", error), service=_SERVICE)
            )
            continue
        try:
            with continued_from(record.headers):
                await service.submit(_once(as_jsonl(message)), Submission(format="jsonl"))
        except ManifestRejected as rejected:
            shown = "; ".join(
                (f"item {e.line - 1}" if e.line > 1 else "manifest header")
                + (f" field {e.field}" if e.field else "")
                + f": {e.message}"
                for e in rejected.errors[:20]
            )
            dead.append(dead_letter_record(record, f"{rejected}: {shown}", service=_SERVICE))
        except IngestError as error:
            dead.append(dead_letter_record(record, str(error), service=_SERVICE))
    if dead:
        await publisher.publish(settings.topic(topics.dead_letter(topics.MANIFESTS)), dead)
