"""Live revocation on real Kafka: a new reservation that touches N earlier consents.

Starts ingest, rights and ledger as processes (as ``bench_pipeline.py`` does), submits one
manifest of ``--items`` items (default 100,000) that all get consent (CC-BY-4.0, hosts under one
domain) and waits until every item is in the ledger. Then imports one reservation of that domain
and measures the time from the import request to (a) the import's answer, by which the rights
service has decided the touched items again and published the flipped decisions, and (b) the
last new ledger entry of the manifest. The reference, from the same run: how long the same items
took the first time, from upload to the last ledger entry.

    KAFKA_BOOTSTRAP_SERVERS=... [DATABASE_URL=postgresql://...] .venv/bin/python bench/bench_revocation.py \\
        [--items 100000]
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
from pathlib import Path

from bench_pipeline import (  # type: ignore[import-not-found]  # bench/ is the script's directory
    _fresh_database,
    cpu_seconds,
    free_port_block,
)

from consentry.client import ConsentryClient, Urls
from consentry.supervisor import Supervisor

DOMAIN = "revocation.example"


def write_manifest(path: Path, size: int) -> None:
    with path.open("w") as out:
        header = {"dataset": "revocation-bench", "platform": "acme-ai", "purpose": "ai-training"}
        out.write(json.dumps({"manifest": header}) + "\n")
        for n in range(size):
            item = {"id": f"i{n}", "url": f"https://img{n % 50}.{DOMAIN}/p/{n}.jpg", "license": "CC-BY-4.0"}
            out.write(json.dumps(item) + "\n")


def write_reservation(path: Path) -> None:
    record = {
        "kind": "reservation",
        "id": f"res-{uuid.uuid4().hex[:8]}",
        "holder": "photo-collective",
        "match": {"domain": DOMAIN},
        "purposes": ["ai-training"],
        "from": "2024-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit('set KAFKA_BOOTSTRAP_SERVERS (make infra-up; eval "$(make -s infra-env)")')
    work = Path(tempfile.mkdtemp(prefix="consentry-revocation-"))
    manifest, registry = work / "manifest.jsonl", work / "reservation.jsonl"
    write_manifest(manifest, args.items)
    write_reservation(registry)

    base = free_port_block()
    env = {
        "CONSENTRY_TOPIC_PREFIX": f"bench-{uuid.uuid4().hex[:8]}.",
        "CONSENTRY_INGEST_PORT": str(base),
        "CONSENTRY_RIGHTS_PORT": str(base + 1),
        "CONSENTRY_LEDGER_PORT": str(base + 2),
        "CONSENTRY_INGEST_PARTITIONS": str(args.partitions),
        "CONSENTRY_RIGHTS_PARTITIONS": str(args.partitions),
        "CONSENTRY_LEDGER_PARTITIONS": str(args.partitions),
        "OTEL_TRACES_EXPORTER": "none",
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = asyncio.run(_fresh_database(os.environ["DATABASE_URL"]))
    supervisor = Supervisor(work / "data", bootstrap, extra_env=env, say=lambda m: print(m, file=sys.stderr))
    urls = Urls(f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}", f"http://127.0.0.1:{base + 2}")
    try:
        supervisor.start_all()
        time.sleep(2.0)  # let every consumer group settle before the clock starts
        with ConsentryClient(urls, timeout=1800) as client:
            started = time.perf_counter()
            accepted = client.submit(manifest)
            manifest_id = accepted["manifest_id"]
            client.wait(manifest_id, args.items, timeout=3600)
            first = time.perf_counter() - started
            rights = next(s for s in supervisor.services if s.name == "rights")
            assert rights.process is not None
            rights_cpu = cpu_seconds(rights.process.pid)

            started = time.perf_counter()
            imported = client.import_registry(registry)
            answered = time.perf_counter() - started
            client.wait(manifest_id, 2 * args.items, timeout=3600)
            last_entry = time.perf_counter() - started
            rights_cpu = cpu_seconds(rights.process.pid) - rights_cpu
            report = client.report(manifest_id)
    finally:
        supervisor.stop_all()

    reasons, verdicts = report.get("reasons", {}), report.get("counts", {})
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(f"revocation: {args.items:,} earlier consents under {DOMAIN}, Apache Kafka + {database}")
    print(f"  import answered (items decided again, decisions published)  {answered:>7.1f} s")
    print(f"  last new ledger entry after the import                     {last_entry:>7.1f} s")
    print(f"  rights CPU during the re-evaluation                        {rights_cpu:>7.1f} s")
    revoked = reasons.get("consent-revoked", 0)
    print(f"  the manifest's current verdicts: {verdicts}; consent-revoked on {revoked:,}")
    print(f"  reference (same run): the first pass, upload -> last entry {first:>7.1f} s")
    print(f"  import answer: {json.dumps(imported)[:200]}")


if __name__ == "__main__":
    main()
