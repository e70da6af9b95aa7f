"""kill -9 of the ledger process at random moments loses nothing and duplicates nothing.

``python -m consentry_ledger`` runs as a subprocess on real Apache Kafka (a topic prefix of its
own) and on PostgreSQL or SQLite, while decisions stream in, some of them twice (a producer's
retry). It is killed with SIGKILL at random moments, mid-batch or not, and restarted. Afterwards
every decision event id is in the log exactly once, indexes are contiguous, the log's tiles
verify against its key (re-hashed entries, offsets increasing per partition, consistency with a
checkpoint saved before the first kill), and ``ledger.entries.v1`` carries every entry.

The seed is printed; rerun a failure with ``LEDGER_CRASH_SEED=<seed>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consentry.ledger_tools import verify_url
from consentry_shared.contracts.v1 import DecisionEvent, Evidence
from consentry_shared.tlog import Signer

pytestmark = pytest.mark.integration

DECISIONS = 3000
DUPLICATES = 150
KILLS = 3
ORIGIN = "crash.example/ledger"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LedgerProcess:
    """``python -m consentry_ledger`` with a fixed data directory, port, database and topics."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.url = f"http://127.0.0.1:{env['CONSENTRY_LEDGER_PORT']}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts} =====\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "consentry_ledger"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    async def size(self, http: httpx.AsyncClient) -> int | None:
        try:
            response = await http.get(f"{self.url}/health", timeout=2)
        except httpx.HTTPError:
            return None
        return int(response.json()["size"]) if response.status_code == 200 else None

    async def wait_ready(self, http: httpx.AsyncClient, within: float = 90) -> int:
        deadline = time.monotonic() + within
        while True:
            size = await self.size(http)
            if size is not None:
                return size
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ledger did not come up:\n{self.tail()}")
            await asyncio.sleep(0.2)

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


def decision(n: int) -> DecisionEvent:
    return DecisionEvent(
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"crash-{n}")),
        item_event_id=f"item-event-{n}",
        manifest_id=f"m-{n % 3}",
        item_id=f"i-{n}",
        platform="acme-ai",
        purpose="ai-training",
        url=f"https://images.example.org/{n}.jpg",
        verdict="violation" if n % 4 == 0 else "consent",
        reasons=["reservation:tdmrep"] if n % 4 == 0 else ["licence:CC0-1.0"],
        evidence=[Evidence(signal="manifest.license", value="CC0-1.0")],
        policy_version="p/1",
        registry_version=7,
        decided_at=datetime(2026, 11, 27, tzinfo=UTC),
    )


@pytest.fixture(params=["postgresql", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("fresh_database_url"))


@pytest.fixture
def ledger(kafka_bootstrap: str, database: str, topic_prefix: str, tmp_path: Path) -> Iterator[LedgerProcess]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database,
        "CONSENTRY_TOPIC_PREFIX": topic_prefix,
        "CONSENTRY_DATA_DIR": str(tmp_path / "data"),
        "CONSENTRY_LEDGER_PORT": str(free_port()),
        "CONSENTRY_LEDGER_ORIGIN": ORIGIN,
        "CONSENTRY_LEDGER_BATCH_MAX_RECORDS": "250",
        # The broker's minimum: a killed consumer's partitions move on after 6 s.
        "CONSENTRY_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "CONSENTRY_TELEMETRY": "false",
    }
    process = LedgerProcess(env, tmp_path / "ledger.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def produce(bootstrap: str, topic: str, rng: random.Random) -> set[str]:
    """Send the decisions in small bursts, some twice; return the distinct event ids."""
    order = list(range(DECISIONS)) + rng.sample(range(DECISIONS), DUPLICATES)
    order.sort(key=lambda n: n if n < DECISIONS else rng.randrange(n, DECISIONS + 200))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for start in range(0, len(order), 100):
            for n in order[start : start + 100]:
                event = decision(n)
                await producer.send(topic, event.model_dump_json().encode(), key=event.item_id.encode())
            await producer.flush()
            # About 25 s in all: the stream outlasts the kills and the restarts between them.
            await asyncio.sleep(rng.uniform(0.3, 1.3))
    finally:
        await producer.stop()
    return {decision(n).event_id for n in range(DECISIONS)}


async def published_entries(bootstrap: str, topic: str, size: int) -> dict[int, bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    seen: dict[int, bytes] = {}
    try:
        async with asyncio.timeout(60):
            while len(seen) < size:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        assert record.key is not None
                        assert record.value is not None
                        seen.setdefault(int(record.key), record.value)
    finally:
        await consumer.stop()
    return seen


async def test_kill_9_at_random_moments_loses_and_duplicates_nothing(
    ledger: LedgerProcess, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("LEDGER_CRASH_SEED", random.randrange(2**32)))
    print(f"LEDGER_CRASH_SEED={seed}")
    rng = random.Random(seed)
    saved = tmp_path / "saved-checkpoint"
    async with httpx.AsyncClient() as http:
        await ledger.wait_ready(http)
        production = asyncio.create_task(produce(kafka_bootstrap, f"{topic_prefix}decisions.v1", rng))
        for kill in range(KILLS):
            # Kill once the ledger has appended something since it (re)started, after a random pause.
            started_at = await ledger.wait_ready(http)
            async with asyncio.timeout(120):
                while (await ledger.size(http) or 0) <= started_at and not production.done():
                    await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            if kill == 0:
                checkpoint = await http.get(f"{ledger.url}/checkpoint")
                if checkpoint.status_code == 200:
                    saved.write_text(checkpoint.text)
            print(f"kill {kill + 1} at size {await ledger.size(http)}, production done: {production.done()}")
            ledger.kill()
            await asyncio.sleep(rng.uniform(0.0, 0.5))
            ledger.start()
        expected = await production
        await ledger.wait_ready(http)
        async with asyncio.timeout(180):
            while (await ledger.size(http) or 0) < len(expected):
                await asyncio.sleep(0.25)
        await asyncio.sleep(1.0)  # anything still in flight would show up now
        size = await ledger.size(http)
        body = (await http.get(f"{ledger.url}/entries", params={"start": 0, "end": size + 100})).content
        vkey = (await http.get(f"{ledger.url}/vkey")).text.strip()

    entries = [json.loads(line) for line in body.splitlines()]
    assert size == len(expected), f"{size} entries for {len(expected)} decisions\n{ledger.tail()}"
    assert [e["index"] for e in entries] == list(range(size))
    event_ids = [e["event_id"] for e in entries]
    assert len(set(event_ids)) == len(event_ids), "an event id was logged twice"
    assert set(event_ids) == expected

    key = Signer.from_skey((tmp_path / "data" / "ledger.key").read_text().strip())
    assert vkey == key.vkey
    since = saved if saved.exists() else None
    result = await asyncio.to_thread(verify_url, ledger.url, vkey=key.vkey, since=since, save=None)
    assert result.ok, result.message

    published = await published_entries(kafka_bootstrap, f"{topic_prefix}ledger.entries.v1", size)
    assert sorted(published) == list(range(size))
    assert [published[i] for i in range(size)] == body.splitlines()
    assert ledger.starts == KILLS + 1
