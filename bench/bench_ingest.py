"""Ingest alone on real Kafka: parse + validate + publish a JSONL manifest, one process.

Prints items/s of `IngestService.submit` (the HTTP upload's whole path minus the socket: spool,
validate every line, build and serialise every `items.v1` event, keyed batch publish, acks) and,
in the same run, the ceiling: raw aiokafka `send_batch` of the same serialised events.

    KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/bench_ingest.py [--items 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from aiokafka import AIOKafkaProducer

from consentry_ingest.app import build
from consentry_ingest.service import Submission
from consentry_ingest.settings import IngestSettings
from consentry_shared import topics
from consentry_shared.kafka import ensure_topics

LICENCES = ["CC-BY-4.0", "CC0-1.0", "MIT", None, "CC-BY-NC-4.0"]


def manifest_bytes(count: int) -> bytes:
    lines = [json.dumps({"manifest": {"id": f"bench-{uuid.uuid4().hex}", "platform": "bench-ai"}})]
    for n in range(count):
        item = {"id": str(n), "url": f"https://site{n % 997}.example/{n}.jpg", "sha256": f"{n:064x}"}
        if LICENCES[n % 5]:
            item["license"] = LICENCES[n % 5]
        lines.append(json.dumps(item))
    return ("\n".join(lines) + "\n").encode()


async def chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def raw_send_batch(bootstrap: str, topic: str, partitions: int, values: list[bytes]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, max_batch_size=1024 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        per = len(values) // partitions + 1
        for p in range(partitions):
            batch = producer.create_batch()
            for value in values[p * per : (p + 1) * per]:
                if batch.append(key=None, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=p))
                    batch = producer.create_batch()
                    batch.append(key=None, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*futures)
        return len(values) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit('set KAFKA_BOOTSTRAP_SERVERS (make infra-up; eval "$(make -s infra-env)")')
    settings = IngestSettings(
        kafka_bootstrap_servers=bootstrap,
        data_dir=Path(tempfile.mkdtemp(prefix="consentry-bench-ingest-")),
        topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
        telemetry=False,
    )
    components = build(settings)
    layout = await ensure_topics(bootstrap, [settings.topic(topics.ITEMS)], partitions=settings.partitions)
    components.publisher.set_layout(layout)
    await components.broker.start()
    data = manifest_bytes(args.items)
    try:
        started = time.perf_counter()
        accepted = await components.service.submit(chunks(data), Submission())
        elapsed = time.perf_counter() - started
    finally:
        await components.broker.stop()
    # The same events, serialised as ingest serialised them, for the ceiling.
    sample = manifest_bytes(1000).split(b"\n")[1:-1]
    values = list(sample) * (args.items // 1000)
    ceiling = await raw_send_batch(
        bootstrap, settings.topic(topics.ITEMS), layout[settings.topic(topics.ITEMS)], values
    )
    print(f"ingest: {accepted.items:,} JSONL items ({len(data) / 1e6:.1f} MB), one process, Apache Kafka")
    print(
        f"  IngestService.submit (spool, validate, ItemEvent, keyed batch publish, acks) "
        f"{accepted.items / elapsed:>10,.0f} items/s ({elapsed:.1f} s)"
    )
    print(f"  ceiling (same run): raw aiokafka send_batch of item-sized records  {ceiling:>10,.0f} msgs/s")


if __name__ == "__main__":
    asyncio.run(main())
