"""Two rights processes in one consumer group on Apache Kafka + PostgreSQL split the hash-keyed
registry between them, and every item is still decided against its records.

``python -m consentry_rights`` runs twice (same topics, group and database). The first, alone,
holds all six ``items.v1`` partitions and so every record; when the second joins, each rebuilds
its view for its three partitions and holds exactly the hash-keyed records whose hash is keyed to
them (checked record by record count against murmur2), while both keep the domain reservation.
Items produced with Kafka's default partitioner -- hash-reserved, hash-registered works,
unregistered, domain-reserved -- are decided whichever instance holds them, with the verdict
and reasons the whole registry gives; one item produced to a partition its hash is not keyed to
is still decided by its reservation (that instance widens its share for it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consentry_rights.domain import RegistryView, decide
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import DecisionEvent, ItemEvent, Reservation, Work
from consentry_shared.kafka import partition_for

pytestmark = pytest.mark.integration

PARTITIONS = 6
RESERVED = [hashlib.sha256(f"reserved-{n}".encode()).hexdigest() for n in range(600)]
WORKS = [hashlib.sha256(f"work-{n}".encode()).hexdigest() for n in range(60)]
FREE = [hashlib.sha256(f"free-{n}".encode()).hexdigest() for n in range(60)]
FROM = "2024-01-01T00:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RightsProcess:
    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.env = {**env, "CONSENTRY_RIGHTS_PORT": str(free_port())}
        self.url = f"http://127.0.0.1:{self.env['CONSENTRY_RIGHTS_PORT']}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "consentry_rights"], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    async def share(self, http: httpx.AsyncClient) -> dict[str, Any] | None:
        try:
            response = await http.get(f"{self.url}/health", timeout=3)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()["registry_share"]
        return body

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])


async def wait_for(
    processes: list[RightsProcess], http: httpx.AsyncClient, done: Any, what: str, within: float = 90
) -> list[dict[str, Any]]:
    """Poll every process's registry share until ``done(shares)`` holds."""
    deadline = time.monotonic() + within
    while True:
        shares = [await p.share(http) for p in processes]
        if all(s is not None for s in shares) and done(shares):
            return [s for s in shares if s is not None]
        for p in processes:
            assert p.process is not None
            assert p.process.poll() is None, f"{p.name} died:\n{p.tail()}"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in processes)
            raise AssertionError(f"{what} not seen within {within} s; last shares {shares}\n{logs}")
        await asyncio.sleep(0.3)


def registry_lines() -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {
            "kind": "reservation",
            "id": f"res-{n}",
            "holder": "society",
            "match": {"sha256": sha},
            "purposes": ["ai-training"],
            "from": FROM,
        }
        for n, sha in enumerate(RESERVED)
    ]
    lines += [
        {
            "kind": "work",
            "id": f"work-{n}",
            "holder": "guild",
            "sha256": sha,
            "license": "LicenseRef-All-Rights-Reserved",
        }
        for n, sha in enumerate(WORKS)
    ]
    lines.append(
        {
            "kind": "reservation",
            "id": "dom",
            "holder": "news",
            "match": {"domain": "blocked.example"},
            "purposes": ["all"],
            "from": FROM,
        }
    )
    return lines


def item(n: int, url: str, sha: str | None) -> ItemEvent:
    return ItemEvent(
        event_id=f"shard-ev-{n}",
        manifest_id="shard-m",
        item_id=f"item-{n}",
        line=n + 1,
        platform="acme-ai",
        purpose="ai-training",
        url=url,
        sha256=sha,
        license="CC0-1.0",
        submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


@pytest.fixture
def rights_pair(
    kafka_bootstrap: str, fresh_database_url: str, topic_prefix: str, tmp_path: Path
) -> Iterator[tuple[RightsProcess, RightsProcess]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": fresh_database_url,
        "CONSENTRY_TOPIC_PREFIX": topic_prefix,
        "CONSENTRY_RIGHTS_PARTITIONS": str(PARTITIONS),
        "CONSENTRY_CONSUMER_SESSION_TIMEOUT_MS": "6000",
        "CONSENTRY_TELEMETRY": "false",
    }
    first = RightsProcess(
        "rights-1", {**env, "CONSENTRY_DATA_DIR": str(tmp_path / "d1")}, tmp_path / "r1.log"
    )
    second = RightsProcess(
        "rights-2", {**env, "CONSENTRY_DATA_DIR": str(tmp_path / "d2")}, tmp_path / "r2.log"
    )
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def hashes_on(held: set[int]) -> int:
    return sum(1 for sha in RESERVED + WORKS if partition_for(sha.encode(), PARTITIONS) in held)


async def test_two_instances_split_the_hash_keyed_registry_and_decide_every_item_by_it(
    rights_pair: tuple[RightsProcess, RightsProcess], kafka_bootstrap: str, topic_prefix: str
) -> None:
    first, second = rights_pair
    hash_keyed = len(RESERVED) + len(WORKS)
    async with httpx.AsyncClient() as http:
        first.start()
        await wait_for(
            [first], http, lambda s: s[0]["held"] == list(range(PARTITIONS)), "rights-1 holding all"
        )
        body = "\n".join(json.dumps(line) for line in registry_lines()).encode()
        response = await http.post(f"{first.url}/registry/import", content=body, timeout=60)
        assert response.status_code == 200, response.text
        alone = await wait_for([first], http, lambda s: s[0]["hash_keyed"] == hash_keyed, "the import loaded")
        assert alone[0]["hash_keyed_left_out"] == 0 and alone[0]["records"] == hash_keyed + 1

        second.start()

        def split(shares: list[dict[str, Any]]) -> bool:
            one, two = (set(s["held"] or ()) for s in shares)
            return (
                bool(one and two)
                and not one & two
                and one | two == set(range(PARTITIONS))
                and all(s["hash_keyed"] + s["hash_keyed_left_out"] == hash_keyed for s in shares)
            )

        shares = await wait_for([first, second], http, split, "a 3 + 3 split with views rebuilt")
    held = [set(s["held"]) for s in shares]
    assert sorted(len(h) for h in held) == [3, 3]
    for share, mine in zip(shares, held, strict=True):
        assert share["hash_keyed"] == hashes_on(mine)  # exactly the records of its partitions
        assert share["records"] == share["hash_keyed"] + 1  # plus the domain reservation
    assert sum(s["hash_keyed"] for s in shares) == hash_keyed
    print(f"hash-keyed records held: {[s['hash_keyed'] for s in shares]} of {hash_keyed}; partitions {held}")

    items = (
        [item(n, f"https://photos.example/r{n}.jpg", RESERVED[n]) for n in range(120)]
        + [item(200 + n, f"https://art.example/w{n}.jpg", sha) for n, sha in enumerate(WORKS)]
        + [item(300 + n, f"https://free.example/f{n}.jpg", sha) for n, sha in enumerate(FREE)]
        + [item(400 + n, f"https://blocked.example/b{n}.jpg", None) for n in range(10)]
    )
    stray_sha = RESERVED[500]
    own_partition = partition_for(stray_sha.encode(), PARTITIONS)
    stray_partition = (own_partition + 3) % PARTITIONS  # held by the other instance
    stray = item(999, "https://photos.example/stray.jpg", stray_sha)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for event in items:
            key = (event.sha256 or str(event.url)).encode()
            await producer.send(f"{topic_prefix}items.v1", event.model_dump_json().encode(), key=key)
        await producer.send(
            f"{topic_prefix}items.v1",
            stray.model_dump_json().encode(),
            key=stray_sha.encode(),
            partition=stray_partition,
        )
        await producer.flush()
    finally:
        await producer.stop()

    wanted = {event.event_id: event for event in [*items, stray]}
    decided: dict[str, tuple[DecisionEvent, int]] = {}
    consumer = AIOKafkaConsumer(
        f"{topic_prefix}decisions.v1", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 90
        while len(decided) < len(wanted) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for partition, records in batches.items():
                for record in records:
                    published = DecisionEvent.model_validate_json(record.value)
                    decided[published.item_event_id] = (published, partition.partition)
    finally:
        await consumer.stop()
    assert set(decided) == set(wanted), f"{len(wanted) - len(decided)} items undecided"

    whole = RegistryView(
        reservations=[
            Reservation.model_validate(line) for line in registry_lines() if line["kind"] == "reservation"
        ],
        works=[Work.model_validate(line) for line in registry_lines() if line["kind"] == "work"],
        version=1,
    )
    policy = RightsSettings().policy()
    deciders: dict[int, set[int]] = {0: set(), 1: set()}
    for event_id, (decision, partition) in decided.items():
        expected = decide(wanted[event_id], whole, policy, decision.decided_at)
        assert (decision.verdict, decision.reasons) == (expected.verdict, list(expected.reasons)), event_id
        deciders[0 if partition in held[0] else 1].add(partition)
    assert deciders[0] and deciders[1]  # both instances decided items
    verdicts = {event_id: d.verdict.value for event_id, (d, _) in decided.items()}
    assert all(verdicts[f"shard-ev-{n}"] == "violation" for n in range(120))
    assert all(verdicts[f"shard-ev-{300 + n}"] == "consent" for n in range(len(FREE)))
    stray_decision, stray_at = decided[stray.event_id]
    assert stray_at == stray_partition
    assert (stray_decision.verdict.value, stray_decision.reasons[0]) == ("violation", "reservation:res-500")

    # The instance that took the stray item widened its share by that hash's partition.
    async with httpx.AsyncClient() as http:
        taker = first if stray_partition in held[0] else second
        after = await taker.share(http)
    assert after is not None and own_partition in after["held"]
