"""End to end on real Kafka: manifests through ingest, rights and ledger, as separate processes.

Prints items/s through the whole pipeline and the latency from the start of each manifest's
upload to its last ledger entry (p50 / p99 over the manifests), and, in the same run, the ceiling:
the raw aiokafka produce -> consume rate of the same item messages on the same broker.

    KAFKA_BOOTSTRAP_SERVERS=... [DATABASE_URL=postgresql://...] .venv/bin/python bench/bench_pipeline.py \\
        --items 200000 --manifest-size 10000 [--rights 2 --ledger 1] [--concurrency 4]

Without DATABASE_URL the services use SQLite files in a temporary directory. `make infra-up`
starts a local Apache Kafka and PostgreSQL and `make infra-env` prints their addresses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from consentry.client import ConsentryClient, Urls
from consentry.supervisor import Supervisor
from consentry_shared.kafka import delete_topics

LICENCES = ["CC-BY-4.0", "CC0-1.0", "MIT", None, "CC-BY-NC-4.0", "LicenseRef-All-Rights-Reserved"]


def free_port_block() -> int:
    """A base port p such that p, p+1, p+2 and p+10.. look free (good enough for a benchmark)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base < 60000:
            return base


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def partitions_held(url: str) -> str:
    """The partitions a service's consumer holds, read off its /metrics lag gauge."""
    held: dict[str, set[int]] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("consentry_consumer_lag{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            held.setdefault(labels["topic"], set()).add(int(labels["partition"]))
    return ", ".join(f"{topic}: {sorted(parts)}" for topic, parts in sorted(held.items())) or "none"


def write_manifest(path: Path, index: int, size: int) -> None:
    with path.open("w") as out:
        out.write(json.dumps({"manifest": {"id": f"bench-{index}", "platform": "bench-ai"}}) + "\n")
        for n in range(size):
            item = {"id": f"{index}-{n}", "url": f"https://site{n % 997}.example/{index}/{n}.jpg"}
            licence = LICENCES[n % len(LICENCES)]
            if licence:
                item["license"] = licence
            out.write(json.dumps(item) + "\n")


async def raw_ceiling(bootstrap: str, payloads: list[bytes], partitions: int) -> float:
    """Raw aiokafka: send_batch per partition, then consume everything with getmany; msgs/s."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, max_batch_size=1024 * 1024)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        futures = []
        per_partition = len(payloads) // partitions + 1
        for p in range(partitions):
            chunk = payloads[p * per_partition : (p + 1) * per_partition]
            batch = producer.create_batch()
            for value in chunk:
                if batch.append(key=None, value=value, timestamp=None) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=p))
                    batch = producer.create_batch()
                    batch.append(key=None, value=value, timestamp=None)
            futures.append(await producer.send_batch(batch, topic, partition=p))
        await asyncio.gather(*futures)
        received = 0
        while received < len(payloads):
            for records in (await consumer.getmany(timeout_ms=1000, max_records=10_000)).values():
                received += len(records)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
        await delete_topics(bootstrap, prefix=topic)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--manifest-size", type=int, default=10_000)
    parser.add_argument("--rights", type=int, default=1, help="rights processes in the consumer group")
    parser.add_argument("--ledger", type=int, default=1, help="ledger processes in the consumer group")
    parser.add_argument("--concurrency", type=int, default=4, help="manifests uploaded at once")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--tracing",
        choices=["none", "file", "compare"],
        default="none",
        help="OTEL_TRACES_EXPORTER for the services; compare runs both, off first",
    )
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit('set KAFKA_BOOTSTRAP_SERVERS (make infra-up; eval "$(make -s infra-env)")')
    work = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    manifests = []
    count = max(1, args.items // args.manifest_size)
    for index in range(count):
        path = work / f"manifest-{index}.jsonl"
        write_manifest(path, index, args.manifest_size)
        manifests.append(path)
    total = count * args.manifest_size

    sample = [line.encode() for line in (work / "manifest-0.jsonl").read_text().splitlines()[1:]]
    payloads = [sample[n % len(sample)] for n in range(total)]
    ceiling = asyncio.run(raw_ceiling(bootstrap, payloads, args.partitions))

    runs = ["none", "file"] if args.tracing == "compare" else [args.tracing]
    results = {tracing: run_pipeline(args, bootstrap, manifests, work / tracing, tracing) for tracing in runs}
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(
        f"pipeline: {total:,} items in {count} manifests of {args.manifest_size:,}, "
        f"{args.rights} rights / {args.ledger} ledger process(es), Apache Kafka + {database}"
    )
    for tracing, result in results.items():
        rate = total / result.elapsed
        latencies = sorted(result.latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"  tracing={tracing}")
        print(f"    end to end          {rate:>10,.0f} items/s ({result.elapsed:.1f} s)")
        print(
            f"    manifest latency    p50 {statistics.median(latencies):.2f} s, p99 {p99:.2f} s "
            f"(upload start -> last item in the ledger, {args.concurrency} uploads at once)"
        )
        print(
            "    CPU seconds by process (whole run incl. start-up): "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.cpu.items())
        )
        print(
            "    partitions held (from each process's consentry_consumer_lag): "
            + "; ".join(f"{name} {held}" for name, held in result.assignment.items())
        )
    if len(results) == 2:
        off, on = (total / results[t].elapsed for t in ("none", "file"))
        print(f"  tracing cost: {100 * (off - on) / off:+.1f}% throughput (file exporter vs none)")
    print(f"  ceiling (same run)  {ceiling:>10,.0f} msgs/s raw aiokafka produce -> consume of the same items")


@dataclass
class RunResult:
    elapsed: float
    latencies: list[float]
    cpu: dict[str, float]
    assignment: dict[str, str]


async def _fresh_database(url: str) -> str:
    """A new empty database on the server of ``url`` (each run starts from an empty log)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:12]}"
    parsed = make_url(url)
    conn = await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False)


def run_pipeline(
    args: argparse.Namespace, bootstrap: str, manifests: list[Path], data_dir: Path, tracing: str
) -> RunResult:
    base = free_port_block()
    env = {
        "CONSENTRY_TOPIC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
        "CONSENTRY_INGEST_PORT": str(base),
        "CONSENTRY_RIGHTS_PORT": str(base + 1),
        "CONSENTRY_LEDGER_PORT": str(base + 2),
        "CONSENTRY_INGEST_PARTITIONS": str(args.partitions),
        "CONSENTRY_RIGHTS_PARTITIONS": str(args.partitions),
        "CONSENTRY_LEDGER_PARTITIONS": str(args.partitions),
        "OTEL_TRACES_EXPORTER": tracing,
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = asyncio.run(_fresh_database(os.environ["DATABASE_URL"]))
    supervisor = Supervisor(
        data_dir,
        bootstrap,
        extra_env=env,
        instances={"rights": args.rights, "ledger": args.ledger},
        say=lambda m: print(m, file=sys.stderr),
    )
    urls = Urls(f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}", f"http://127.0.0.1:{base + 2}")
    latencies: list[float] = []
    lock = threading.Lock()

    def run(path: Path) -> None:
        with ConsentryClient(urls) as client:
            t0 = time.perf_counter()
            accepted = client.submit(path)
            client.wait(accepted["manifest_id"], accepted["items"], timeout=1800)
            with lock:
                latencies.append(time.perf_counter() - t0)

    try:
        supervisor.start_all()
        time.sleep(2.0)  # let every consumer group settle before the clock starts
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(run, manifests))
        elapsed = time.perf_counter() - started
        cpu = {s.name: cpu_seconds(s.process.pid) for s in supervisor.services if s.process}
        assignment = {s.name: partitions_held(s.url) for s in supervisor.services if s.name != "ingest"}
    finally:
        supervisor.stop_all()
        asyncio.run(delete_topics(bootstrap, prefix=env["CONSENTRY_TOPIC_PREFIX"]))
    return RunResult(elapsed, latencies, cpu, assignment)


if __name__ == "__main__":
    main()
