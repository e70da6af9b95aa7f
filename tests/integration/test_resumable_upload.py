"""A resumable upload survives a dropped connection, on real Apache Kafka: the SDK (sync and
async faces) uploads through a proxy that cuts the TCP connection in the middle of a chunk, asks
ingest for the committed offset, sends the rest, and the manifest arrives once — the same
manifest id as its bytes give, every item published exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from consentry.client import AsyncConsentryClient, ConsentryClient, ServiceFailed, Urls
from consentry_ingest.app import create_app
from consentry_ingest.service import submission_manifest_id
from consentry_ingest.settings import IngestSettings
from consentry_shared.auth import Role, issue_token
from consentry_shared.contracts.v1 import Purpose
from tests.e2e.stack import free_port

pytestmark = pytest.mark.integration

CHUNK = 128 * 1024


class DroppingProxy:
    """Forwards TCP to ``port``; when the bytes sent upstream (over all connections) cross each
    of ``drop_at``, it forwards up to the mark and resets both sides of that connection."""

    def __init__(self, port: int, drop_at: list[int]) -> None:
        self._target = port
        self._marks = sorted(drop_at)
        self._sent = 0
        self._lock = threading.Lock()
        self.drops = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, counted: bool) -> None:
        try:
            while data := source.recv(65536):
                if counted:
                    with self._lock:
                        mark = self._marks[0] if self._marks else None
                        if mark is not None and self._sent + len(data) >= mark:
                            data = data[: mark - self._sent]
                            self._marks.pop(0)
                            self.drops += 1
                            cut = True
                        else:
                            cut = False
                        self._sent += len(data)
                    target.sendall(data)
                    if cut:
                        # shutdown() wakes the opposite pump blocked in recv(); close() alone would
                        # leave the connection open while that recv() holds the socket.
                        for end in (source, target):
                            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                            with contextlib.suppress(OSError):
                                end.shutdown(socket.SHUT_RDWR)
                            end.close()
                        return
                else:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


@dataclass
class Ingest:
    url: str
    port: int
    token: str
    topic: str
    kafka: str


@pytest.fixture
def ingest(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[Ingest]:
    token = issue_token(tmp_path / "tokens.jsonl", Role.PLATFORM, "acme-ai")
    port = free_port()
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=topic_prefix, data_dir=tmp_path, telemetry=False
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "ingest did not start"
        time.sleep(0.1)
    try:
        yield Ingest(f"http://127.0.0.1:{port}", port, token, f"{topic_prefix}items.v1", kafka_bootstrap)
    finally:
        server.should_exit = True
        thread.join(30)


def write_manifest(path: Path, tag: str, items: int) -> set[str]:
    lines = [
        json.dumps({"id": f"{tag}-{n}", "url": f"https://{tag}.example/item/{n:06d}", "license": "CC-BY-4.0"})
        for n in range(items)
    ]
    path.write_text("\n".join(lines) + "\n")
    return {f"{tag}-{n}" for n in range(items)}


async def published_item_ids(ingest: Ingest, manifest_id: str, expected: int) -> list[str]:
    """Every item event of ``manifest_id`` on items.v1: read until ``expected`` arrived and then
    until two quiet seconds pass, so a duplicate published after them would be seen too."""
    consumer = AIOKafkaConsumer(
        ingest.topic,
        bootstrap_servers=ingest.kafka,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4().hex}",
    )
    await consumer.start()
    found: list[str] = []
    try:
        quiet_since = None
        async with asyncio.timeout(120):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                records = [r for rs in batch.values() for r in rs]
                for record in records:
                    event = json.loads(record.value)
                    if event["manifest_id"] == manifest_id:
                        found.append(event["item_id"])
                if records or len(found) < expected:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 2:
                    return found
    finally:
        await consumer.stop()


def expected_id(path: Path) -> tuple[str, str]:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest, submission_manifest_id("acme-ai", None, digest, Purpose.AI_TRAINING, None)


async def test_the_sync_client_resumes_after_the_connection_drops_mid_chunk(
    ingest: Ingest, tmp_path: Path
) -> None:
    manifest = tmp_path / "big.jsonl"
    ids = write_manifest(manifest, "sync", 12_000)
    size = manifest.stat().st_size
    assert size > 6 * CHUNK
    proxy = DroppingProxy(ingest.port, [int(size * 0.3), int(size * 0.7)])
    urls = Urls(f"http://127.0.0.1:{proxy.port}", "http://unused", "http://unused")
    try:
        with ConsentryClient(urls, token=ingest.token, upload_chunk_bytes=CHUNK) as client:
            accepted = await asyncio.to_thread(client.submit, manifest, resumable=True)
    finally:
        proxy.close()
    assert proxy.drops == 2
    digest, manifest_id = expected_id(manifest)
    assert accepted["content_sha256"] == digest
    assert accepted["manifest_id"] == manifest_id
    assert accepted["items"] == len(ids)
    found = await published_item_ids(ingest, manifest_id, len(ids))
    assert len(found) == len(ids)
    assert set(found) == ids


async def test_the_async_client_resumes_too(ingest: Ingest, tmp_path: Path) -> None:
    manifest = tmp_path / "big.jsonl"
    ids = write_manifest(manifest, "async", 8_000)
    proxy = DroppingProxy(ingest.port, [manifest.stat().st_size // 2])
    urls = Urls(f"http://127.0.0.1:{proxy.port}", "http://unused", "http://unused")
    try:
        async with AsyncConsentryClient(urls, token=ingest.token, upload_chunk_bytes=CHUNK) as client:
            accepted = await client.submit(manifest, resumable=True)
    finally:
        proxy.close()
    assert proxy.drops == 1
    digest, manifest_id = expected_id(manifest)
    assert (accepted["content_sha256"], accepted["manifest_id"]) == (digest, manifest_id)
    found = await published_item_ids(ingest, manifest_id, len(ids))
    assert sorted(found) == sorted(ids)


async def test_without_resuming_a_dropped_upload_publishes_nothing(ingest: Ingest, tmp_path: Path) -> None:
    """The reference: the same drop on a one-shot POST /manifests fails the upload, and nothing
    of it is published (all or nothing)."""
    manifest = tmp_path / "big.jsonl"
    write_manifest(manifest, "oneshot", 8_000)
    proxy = DroppingProxy(ingest.port, [manifest.stat().st_size // 2])
    urls = Urls(f"http://127.0.0.1:{proxy.port}", "http://unused", "http://unused")
    try:
        with ConsentryClient(urls, token=ingest.token) as client, pytest.raises(ServiceFailed):
            await asyncio.to_thread(client.submit, manifest, resumable=False)
    finally:
        proxy.close()
    _, manifest_id = expected_id(manifest)
    assert await published_item_ids(ingest, manifest_id, 0) == []
