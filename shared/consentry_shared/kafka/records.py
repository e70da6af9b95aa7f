"""What batch handlers read off consumed Kafka records, and dead-letter records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from consentry_shared.contracts.v1 import DeadLetter, utc_now
from consentry_shared.kafka.publisher import OutRecord
from consentry_shared.metrics import DEAD_LETTERS, MESSAGES


@dataclass(frozen=True, slots=True)
class InRecord:
    """A consumed record: its value and where it came from (for offsets and dead letters)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]


def in_records(raw: Any) -> list[InRecord]:
    """The records of a FastStream Kafka message (batch or single) as :class:`InRecord`."""
    consumer_records: Sequence[Any] = raw if isinstance(raw, (tuple, list)) else (raw,)
    out: list[InRecord] = []
    for r in consumer_records:
        headers = {k: (v.decode("utf-8", "replace") if v is not None else "") for k, v in r.headers or ()}
        out.append(
            InRecord(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value if r.value is not None else b"",
                headers=headers,
            )
        )
    if out:
        MESSAGES.labels("in", out[0].topic).inc(len(out))
    return out


def dead_letter_record(record: InRecord, reason: str, *, service: str) -> OutRecord:
    """The ``<topic>.dlq`` record for a poison ``record``: the original bytes and why it failed."""
    letter = DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode("utf-8", "replace") if record.key is not None else None,
        reason=reason[:2000] or "unknown error",
        payload=record.value.decode("utf-8", "replace"),
        service=service,
        failed_at=utc_now(),
    )
    DEAD_LETTERS.labels(record.topic).inc()
    return OutRecord(key=record.key or b"", value=letter.model_dump_json().encode())


def validation_reason(contract: str, error: ValidationError) -> str:
    """A dead-letter reason naming the first bad field of a message that fails ``contract``."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "message"
    return f"invalid {contract} message: {where}: {first['msg']} ({error.error_count()} errors)"


async def raw_batch_decoder(message: Any) -> Any:
    """A FastStream decoder that leaves the bytes alone.

    Batch handlers read :func:`in_records` off the raw records and validate each against its
    contract themselves (so one poison record is dead-lettered, not the batch); FastStream's own
    decoding would JSON-parse every record once more for nothing.
    """
    return message.body
