"""Peak resident memory of the ingest process while it takes one very large manifest.

Starts ingest alone (as ``consentry up`` would, a separate process) on the given Kafka, then
streams generated JSONL manifests of growing size through ``POST /manifests`` without ever holding
one in the benchmark's memory. After each upload it reads the process's peak RSS (``VmHWM``) and
current RSS (``VmRSS``) from ``/proc``. The reference in the same run is the process's peak RSS
right after start-up, before any upload: a constant-memory ingest ends each upload near it, and
the peak does not grow with the manifest.

    eval "$(make -s infra-env)"
    .venv/bin/python bench/bench_ingest_rss.py --sizes 100000,1000000,10000000

The items land on a bench-only ``items.v1`` topic that nothing consumes; the topics are deleted at
the end.
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
from collections.abc import Iterator
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient

from consentry.supervisor import ServiceProcess, StartupFailed, healthy

LICENCES = ["CC-BY-4.0", "CC0-1.0", "MIT", None, "CC-BY-NC-4.0"]


def manifest_chunks(manifest_id: str, items: int, chunk_items: int = 20_000) -> Iterator[bytes]:
    """The manifest as JSONL, generated chunk by chunk (about 2-3 MB per chunk)."""
    yield (json.dumps({"manifest": {"id": manifest_id, "platform": "bench-ai"}}) + "\n").encode()
    for start in range(0, items, chunk_items):
        lines = []
        for n in range(start, min(items, start + chunk_items)):
            item: dict[str, str] = {
                "id": f"{n}",
                "url": f"https://site{n % 9973}.example/{manifest_id}/{n}.jpg",
                "sha256": f"{n:064x}",
            }
            licence = LICENCES[n % len(LICENCES)]
            if licence:
                item["license"] = licence
            lines.append(json.dumps(item))
        yield ("\n".join(lines) + "\n").encode()


def memory_kib(pid: int) -> tuple[int, int]:
    """(peak RSS, current RSS) of a process in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmHWM"].split()[0]), int(fields["VmRSS"].split()[0])


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="100000,1000000,10000000", help="items per manifest, comma-separated"
    )
    parser.add_argument("--port", type=int, default=0, help="ingest's port (default: a free one)")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit('KAFKA_BOOTSTRAP_SERVERS is not set: run `eval "$(make -s infra-env)"` first')
    sizes = [int(s) for s in args.sizes.split(",")]
    port = args.port or _free_port()
    prefix = f"bench-rss-{uuid.uuid4().hex[:8]}."
    with tempfile.TemporaryDirectory(prefix="consentry-bench-rss-") as work:
        env = dict(os.environ)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CONSENTRY_DATA_DIR": work,
                "CONSENTRY_TOPIC_PREFIX": prefix,
                "CONSENTRY_INGEST_PORT": str(port),
                "CONSENTRY_INGEST_DEFAULT_LIMITS": json.dumps(
                    {"max_manifest_items": None, "max_manifest_bytes": None, "uploads_per_minute": None}
                ),
                "OTEL_TRACES_EXPORTER": "none",
            }
        )
        ingest = ServiceProcess("ingest", "consentry_ingest", port, env, Path(work) / "ingest.log")
        ingest.start()
        try:
            deadline = time.monotonic() + 90
            while not healthy(ingest.url):
                if not ingest.alive() or time.monotonic() > deadline:
                    raise StartupFailed(ingest.log_tail())
                time.sleep(0.2)
            assert ingest.process is not None
            pid = ingest.process.pid
            baseline_peak, _ = memory_kib(pid)
            print(f"ingest peak RSS after start-up (reference): {baseline_peak / 1024:,.0f} MiB")
            columns = ("items", "MB uploaded", "items/s", "peak RSS MiB", "RSS after MiB")
            print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (12, 12, 10, 13, 14), strict=True)))
            with httpx.Client(base_url=ingest.url, timeout=None) as client:
                for size in sizes:
                    manifest_id = f"rss-{size}-{uuid.uuid4().hex[:6]}"
                    sent = 0

                    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
                        nonlocal sent
                        for chunk in chunks:
                            sent += len(chunk)
                            yield chunk

                    started = time.perf_counter()
                    response = client.post("/manifests", content=counted(manifest_chunks(manifest_id, size)))
                    elapsed = time.perf_counter() - started
                    if response.status_code != 200:
                        sys.exit(
                            f"upload of {size:,} items failed: {response.status_code} {response.text[:500]}"
                        )
                    assert response.json()["items"] == size, response.text
                    peak, now = memory_kib(pid)
                    print(
                        f"{size:>12,} {sent / 1e6:>12,.0f} {size / elapsed:>10,.0f} "
                        f"{peak / 1024:>13,.0f} {now / 1024:>14,.0f}"
                    )
        finally:
            ingest.stop()
            asyncio.run(delete_topics(bootstrap, prefix))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main()
