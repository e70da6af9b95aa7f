"""The keyed batch publisher on real Kafka: the hop every service makes (ingest -> items.v1,
rights -> decisions.v1, ledger -> ledger.entries.v1).

Publishes ``--records`` item-sized records (``--size`` bytes, distinct keys, 6 partitions) in
calls of ``--batch`` through :class:`KeyedBatchPublisher` (key hashing, per-partition batches,
acks awaited per call), and in the same run the ceiling: raw aiokafka ``create_batch`` /
``send_batch`` of the same records to the same partitions. Prints records/s and CPU
microseconds per record of this process (the broker's own CPU excluded), best of ``--repeat``.

    KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/bench_publish.py [--records 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections import defaultdict

from aiokafka import AIOKafkaProducer

from consentry_shared.kafka import (
    KeyedBatchPublisher,
    delete_topics,
    ensure_topics,
    make_broker,
    partition_for,
)
from consentry_shared.kafka.broker import MAX_BATCH_BYTES
from consentry_shared.kafka.publisher import OutRecord


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=450, help="bytes per record value")
    parser.add_argument("--batch", type=int, default=2_000, help="records per publish call")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit("set KAFKA_BOOTSTRAP_SERVERS (make infra-up; eval $(make -s infra-env))")
    topic = f"bench-{uuid.uuid4().hex[:8]}.publish"
    layout = await ensure_topics(bootstrap, [topic], partitions=6)
    pad = b"x" * max(0, args.size - 40)
    records = [
        OutRecord(key=f"{n:064x}".encode(), value=b'{"n":%d,"pad":"%s"}' % (n, pad))
        for n in range(args.records)
    ]
    calls = [records[i : i + args.batch] for i in range(0, len(records), args.batch)]

    broker = make_broker(bootstrap, client_id="bench-publish")
    await broker.connect()
    publisher = KeyedBatchPublisher(broker, layout)
    raw = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=2, max_batch_size=MAX_BATCH_BYTES + 64 * 1024
    )
    await raw.start()

    async def keyed() -> None:
        for call in calls:
            await publisher.publish(topic, call)

    async def ceiling() -> None:
        for call in calls:
            groups: dict[int, list[OutRecord]] = defaultdict(list)
            for record in call:
                groups[partition_for(record.key, 6)].append(record)
            pending = []
            for partition, group in groups.items():
                batch = raw.create_batch()
                for record in group:
                    if batch.append(key=record.key, value=record.value, timestamp=None) is None:
                        pending.append(await raw.send_batch(batch, topic, partition=partition))
                        batch = raw.create_batch()
                        batch.append(key=record.key, value=record.value, timestamp=None)
                pending.append(await raw.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*pending)

    try:
        print(
            f"publish: {args.records:,} records of {args.size} B in calls of {args.batch}, "
            "6 partitions, acks=all"
        )
        for name, run in (
            ("KeyedBatchPublisher.publish", keyed),
            ("ceiling: raw aiokafka send_batch", ceiling),
        ):
            best_wall, best_cpu = float("inf"), float("inf")
            for _ in range(args.repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                await run()
                best_wall = min(best_wall, time.perf_counter() - wall)
                best_cpu = min(best_cpu, time.process_time() - cpu)
            print(
                f"  {name:34} {args.records / best_wall:>11,.0f} records/s   "
                f"{best_cpu / args.records * 1e6:5.2f} us CPU per record"
            )
    finally:
        await raw.stop()
        await broker.stop()
        await delete_topics(bootstrap, prefix=topic)


if __name__ == "__main__":
    asyncio.run(main())
