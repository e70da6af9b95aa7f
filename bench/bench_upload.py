"""Uploading through HTTP with the SDK on real Kafka: one request vs a resumable session.

Runs ingest (uvicorn, with a token file: authentication on) and uploads the same generated
JSONL manifest twice with the sync SDK: once as one streamed ``POST /manifests`` (the
reference, measured in the same run) and once as an upload session (``PUT`` chunks of
``--chunk-mib``, then ``finish``, which reads the assembled file once more to hash it before
validating and publishing). Prints MB/s and items/s of both, and the session's cost relative to
the one-shot upload. The two uploads give the same manifest id (checked).

    KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/bench_upload.py [--items 300000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import uvicorn

from consentry.client import ConsentryClient, Urls
from consentry_ingest.app import create_app
from consentry_ingest.settings import IngestSettings
from consentry_shared.auth import Role, issue_token


def write_manifest(path: Path, count: int) -> None:
    with path.open("w") as out:
        for n in range(count):
            item = {"id": str(n), "url": f"https://site{n % 997}.example/{n}.jpg", "sha256": f"{n:064x}"}
            out.write(json.dumps(item) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300_000)
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is shown")
    args = parser.parse_args()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        sys.exit("set KAFKA_BOOTSTRAP_SERVERS (deploy/local/.state/env)")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        token = issue_token(data / "tokens.jsonl", Role.PLATFORM, "bench-ai")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        settings = IngestSettings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=f"bench-upload-{uuid.uuid4().hex[:8]}.",
            data_dir=data,
            telemetry=False,
        )
        server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        manifest = data / "manifest.jsonl"
        write_manifest(manifest, args.items)
        size = manifest.stat().st_size
        urls = Urls(f"http://127.0.0.1:{port}", "http://unused", "http://unused")
        results: dict[str, tuple[float, str]] = {}
        with ConsentryClient(urls, token=token, upload_chunk_bytes=args.chunk_mib * 1024 * 1024) as client:
            # Alternating rounds, best of each: the first upload also pays for the topic's creation.
            for _ in range(args.rounds):
                for name, resumable in (("one request (reference)", False), ("upload session", True)):
                    start = time.perf_counter()
                    accepted = client.submit(manifest, resumable=resumable)
                    elapsed = time.perf_counter() - start
                    if name not in results or elapsed < results[name][0]:
                        results[name] = (elapsed, accepted["manifest_id"])
        server.should_exit = True
        thread.join(30)
    ids = {manifest_id for _, manifest_id in results.values()}
    print(
        f"manifest: {args.items:,} items, {size / 1e6:.1f} MB; session chunks of {args.chunk_mib} MiB; "
        f"best of {args.rounds} alternating rounds; SDK and ingest in one process"
    )
    print(f"{'upload':<26}{'seconds':>9}{'MB/s':>9}{'items/s':>12}")
    for name, (seconds, _) in results.items():
        print(f"{name:<26}{seconds:>9.2f}{size / 1e6 / seconds:>9.1f}{args.items / seconds:>12,.0f}")
    reference = results["one request (reference)"][0]
    print(f"session / one request: {results['upload session'][0] / reference:.2f}x the time")
    print(f"same manifest id: {len(ids) == 1}")


if __name__ == "__main__":
    main()
