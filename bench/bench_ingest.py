"""Ingest alone on real Kafka: parse + validate + publish a JSONL manifest, one process.

Prints items/s of `IngestService.submit` (the HTTP upload's whole path minus the socket: spool,
validate every line, build and serialise every `items.v1` event, keyed batch publish, acks) and,
in the same run, the ceiling: raw aiokafka `send_batch` of `items.v1` records as ingest writes
them. Each is the best of `--rounds`, by wall clock and by this process's CPU time (the broker's
CPU is not counted; on a busy machine the CPU figure is the steadier one).

    KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/bench_ingest.py [--items 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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
from consentry_ingest.domain import ManifestParser, RawItem
from consentry_ingest.domain.wire import ItemEventWriter
from consentry_ingest.service import Submission
from consentry_ingest.settings import IngestSettings
from consentry_shared import topics
from consentry_shared.contracts.v1 import Purpose, utc_now
from consentry_shared.kafka import delete_topics, ensure_topics

LICENCES = ["CC-BY-4.0", "CC0-1.0", "MIT", None, "CC-BY-NC-4.0"]


def manifest_bytes(count: int) -> bytes:
    lines = [json.dumps({"manifest": {"id": f"bench-{uuid.uuid4().hex}", "platform": "bench-ai"}})]
    for n in range(count):
        item = {"id": str(n), "url": f"https://site{n % 997}.example/{n}.jpg", "sha256": f"{n:064x}"}
        if licence := LICENCES[n % 5]:
            item["license"] = licence
        lines.append(json.dumps(item))
    return ("\n".join(lines) + "\n").encode()


async def chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def item_records(count: int) -> list[bytes]:
    """``count`` ``items.v1`` values as ingest publishes them for the bench's manifest."""
    parser = ManifestParser("jsonl")
    parsed = parser.feed(manifest_bytes(count)) + parser.close()
    writer = ItemEventWriter(
        manifest_id="bench-ai:id:bench-" + "0" * 32 + "@" + "0" * 12,
        platform="bench-ai",
        purpose=Purpose.AI_TRAINING,
        territory=None,
        commercial=True,
        submitted_at=utc_now(),
    )
    return [writer.record(raw)[1] for raw in parsed if isinstance(raw, RawItem)]


async def raw_send_batch(
    bootstrap: str, topic: str, partitions: int, values: list[bytes]
) -> tuple[float, float]:
    """Wall and CPU seconds to send ``values`` with aiokafka's send_batch, acks included."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, max_batch_size=1024 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        cpu = time.process_time()
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
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await producer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
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
    topic = settings.topic(topics.ITEMS)
    values = item_records(1000) * (args.items // 1000)
    submit_wall = submit_cpu = ceiling_wall = ceiling_cpu = float("inf")
    items = 0
    try:
        for _ in range(args.rounds):  # interleaved, so both see the same machine
            gc.collect()
            started, cpu = time.perf_counter(), time.process_time()
            accepted = await components.service.submit(chunks(data), Submission())
            submit_wall = min(submit_wall, time.perf_counter() - started)
            submit_cpu = min(submit_cpu, time.process_time() - cpu)
            items = accepted.items
            gc.collect()
            wall, cpu = await raw_send_batch(bootstrap, topic, layout[topic], values)
            ceiling_wall, ceiling_cpu = min(ceiling_wall, wall), min(ceiling_cpu, cpu)
    finally:
        await components.broker.stop()
        await delete_topics(bootstrap, prefix=settings.topic_prefix)
    print(f"ingest: {items:,} JSONL items ({len(data) / 1e6:.1f} MB), one process, Apache Kafka")
    print(f"  best of {args.rounds}, by wall clock and by this process's CPU time")
    print(
        f"  IngestService.submit (spool, validate, items.v1 records, keyed batch publish, acks) "
        f"{items / submit_wall:>10,.0f} items/s wall {items / submit_cpu:>10,.0f} items/s CPU"
        f" ({submit_cpu / items * 1e6:.2f} us CPU/item)"
    )
    sent = len(values)
    print(
        f"  ceiling (same run): raw aiokafka send_batch of {sent:,} items.v1 records"
        f"{' ' * 8}{sent / ceiling_wall:>10,.0f} msgs/s  wall {sent / ceiling_cpu:>10,.0f} msgs/s  CPU"
    )


if __name__ == "__main__":
    asyncio.run(main())
