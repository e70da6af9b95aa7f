"""Live revocation on real Kafka: a new reservation that touches N earlier consents.

Starts ingest, rights and ledger as processes (as ``bench_pipeline.py`` does), submits one
manifest of ``--items`` items (default 100,000) that all get consent (CC-BY-4.0, hosts under one
domain) and waits until every item is in the ledger. Then imports one reservation of that domain
and measures the time from the import request to (a) the import's answer, by which the rights
service has decided the touched items again and published the flipped decisions, (b) the first
and (c) the last new ledger entry of the manifest (polled every 0.1 s beside the import). The CPU
the rights and ledger processes used, and the whole machine's busy CPU over the same span, say
how loaded the run was. The reference, from the same run: how long the same items took the first
time, from upload to the last ledger entry. ``--keep`` keeps the services' data and logs.

    KAFKA_BOOTSTRAP_SERVERS=... [DATABASE_URL=postgresql://...] .venv/bin/python bench/bench_revocation.py \\
        [--items 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
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
from consentry_shared.kafka import delete_topics

DOMAIN = "revocation.example"


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent outside idle and iowait so far (Linux /proc/stat): what every
    process on the machine used, the services, Kafka, the database and anything else running."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


class LedgerWatcher(threading.Thread):
    """Polls the ledger every 0.1 s (its own client) from ``started`` on: when the first of the
    manifest's new entries appeared and when all ``items`` of them had."""

    def __init__(self, urls: Urls, manifest_id: str, items: int, started: float) -> None:
        super().__init__(daemon=True)
        self._urls, self._manifest_id, self._items, self._since = urls, manifest_id, items, started
        self.first_new = self.all_new = float("nan")

    def run(self) -> None:
        with ConsentryClient(self._urls, timeout=60) as client:
            deadline = self._since + 3600
            while time.perf_counter() < deadline:
                done = client.ledgered(self._manifest_id) - self._items
                now = time.perf_counter() - self._since
                if done > 0 and self.first_new != self.first_new:  # still NaN
                    self.first_new = now
                if done >= self._items:
                    self.all_new = now
                    return
                time.sleep(0.1)


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
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
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

            ledger = next(s for s in supervisor.services if s.name == "ledger")
            assert ledger.process is not None
            ledger_cpu, machine_cpu = cpu_seconds(ledger.process.pid), machine_busy_seconds()

            started = time.perf_counter()
            watcher = LedgerWatcher(urls, manifest_id, args.items, started)
            watcher.start()
            imported = client.import_registry(registry)
            answered = time.perf_counter() - started
            watcher.join()
            first_entry, last_entry = watcher.first_new, watcher.all_new
            rights_cpu = cpu_seconds(rights.process.pid) - rights_cpu
            ledger_cpu = cpu_seconds(ledger.process.pid) - ledger_cpu
            machine_cpu = machine_busy_seconds() - machine_cpu
            report = client.report(manifest_id)
    finally:
        supervisor.stop_all()
        asyncio.run(delete_topics(bootstrap, prefix=env["CONSENTRY_TOPIC_PREFIX"]))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    reasons, verdicts = report.get("reasons", {}), report.get("counts", {})
    database = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    print(f"revocation: {args.items:,} earlier consents under {DOMAIN}, Apache Kafka + {database}")
    print(f"  import answered (items decided again, decisions published)  {answered:>7.1f} s")
    print(f"  first new ledger entry after the import                    {first_entry:>7.1f} s")
    print(f"  last new ledger entry after the import                     {last_entry:>7.1f} s")
    print(f"  rights CPU during the re-evaluation                        {rights_cpu:>7.1f} s")
    print(f"  ledger CPU, import -> last entry                           {ledger_cpu:>7.1f} s")
    print(
        f"  machine CPU busy, all processes, import -> last entry      {machine_cpu:>7.1f} s"
        f" of {last_entry * (os.cpu_count() or 1):.1f} ({os.cpu_count()} cores)"
    )
    revoked = reasons.get("consent-revoked", 0)
    print(f"  the manifest's current verdicts: {verdicts}; consent-revoked on {revoked:,}")
    print(f"  reference (same run): the first pass, upload -> last entry {first:>7.1f} s")
    print(f"  import answer: {json.dumps(imported)[:200]}")


if __name__ == "__main__":
    main()
