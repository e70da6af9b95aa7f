"""``consentry rights`` against a live rights service on real Apache Kafka and PostgreSQL, with a
token file: import (JSONL, CSV, an origin's robots.txt), list as of a version, show a history;
every stored record is announced on ``rights.updates.v1``, a refused import stores and announces
nothing."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from typer.testing import CliRunner

from consentry.cli import app as cli_app
from consentry_rights.app import create_app
from consentry_rights.settings import RightsSettings
from consentry_shared.auth import Role, issue_token
from consentry_shared.contracts.v1 import RegistryChange
from tests.e2e.stack import free_port

pytestmark = pytest.mark.integration


@dataclass
class Rights:
    url: str
    tokens: dict[str, str]
    topic: str
    kafka: str


@pytest.fixture
def rights(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[Rights]:
    book = tmp_path / "tokens.jsonl"
    tokens = {
        "admin": issue_token(book, Role.ADMIN, "ops"),
        "alice": issue_token(book, Role.HOLDER, "alice"),
        "acme": issue_token(book, Role.PLATFORM, "acme-ai"),
    }
    settings = RightsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topic_prefix,
        database_url=fresh_database_url,
        data_dir=tmp_path,
        telemetry=False,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "rights did not start"
        time.sleep(0.1)
    try:
        yield Rights(f"http://127.0.0.1:{port}", tokens, f"{topic_prefix}rights.updates.v1", kafka_bootstrap)
    finally:
        server.should_exit = True
        thread.join(30)


def run(rights: Rights, who: str, *args: str) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        ["--token", rights.tokens[who], *args],
        env={"CONSENTRY_RIGHTS_URL": rights.url, "CONSENTRY_TOKEN": ""},
    )
    return result.exit_code, result.stdout, result.stderr


async def updates(rights: Rights, expected: int) -> list[RegistryChange]:
    """The changes on rights.updates.v1: read until ``expected`` arrived, then two quiet seconds."""
    consumer = AIOKafkaConsumer(
        rights.topic,
        bootstrap_servers=rights.kafka,
        auto_offset_reset="earliest",
        group_id=f"t-{uuid.uuid4().hex}",
    )
    await consumer.start()
    found: list[RegistryChange] = []
    try:
        quiet_since: float | None = None
        async with asyncio.timeout(60):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                records = [r for rs in batch.values() for r in rs]
                found += [RegistryChange.model_validate_json(r.value) for r in records if r.value is not None]
                if records or len(found) < expected:
                    quiet_since = None
                elif quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > 2:
                    return found
    finally:
        await consumer.stop()


def reservation(record_id: str, holder: str, **extra: object) -> str:
    record = {
        "kind": "reservation",
        "id": record_id,
        "holder": holder,
        "match": {"domain": "photos.example"},
        "purposes": ["ai-training"],
        "from": "2024-01-01T00:00:00Z",
        **extra,
    }
    return json.dumps(record) + "\n"


async def test_the_rights_commands_on_kafka_and_postgresql(rights: Rights, tmp_path: Path) -> None:
    first = tmp_path / "registry.jsonl"
    first.write_text(reservation("r1", "alice") + reservation("r2", "alice"))
    code, stdout, _ = run(rights, "alice", "rights", "import", str(first))
    assert code == 0, stdout
    assert "registry version 1" in stdout

    csv = tmp_path / "more.csv"
    csv.write_text(
        "kind,id,holder,domain,purposes,from,until\nreservation,r1,alice,photos.example,all,2024-01-01T00:00:00Z,2025-01-01T00:00:00Z\n"
    )
    code, stdout, _ = run(rights, "alice", "rights", "import", str(csv))
    assert (code, "registry version 2" in stdout) == (0, True)

    # Someone else's record in the file: refused by line and field, exit 2, nothing stored.
    theirs = tmp_path / "theirs.jsonl"
    theirs.write_text(reservation("r3", "alice") + reservation("r4", "bob"))
    code, _, stderr = run(rights, "alice", "rights", "import", str(theirs))
    assert code == 2
    assert f"{theirs}:2: field holder:" in stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(reservation("r5", "alice", colour="red"))
    code, _, stderr = run(rights, "alice", "rights", "import", str(bad))
    assert (code, f"{bad}:1: field colour:" in stderr) == (2, True)

    # An origin's robots.txt, by an admin for a holder it names.
    robots = tmp_path / "robots.txt"
    robots.write_bytes(b"User-agent: *\nDisallow: /private/\nDisallow: /*.gif$\n")
    code, stdout, stderr = run(
        rights,
        "admin",
        "rights",
        "import",
        "--signals",
        str(robots),
        "--origin",
        "https://photos.example",
        "--holder",
        "alice",
    )
    assert code == 0, stderr
    assert "robots.txt:https://photos.example/private/" in stdout
    assert "'/*.gif$' is not a URL prefix" in stderr
    unnamed = tmp_path / "signals.txt"
    unnamed.write_bytes(b"")
    code, _, stderr = run(
        rights, "admin", "rights", "import", "--signals", str(unnamed), "--origin", "https://x.example"
    )
    assert (code, "--kind" in stderr) == (2, True)

    # The registry as it stood at version 1, and now.
    code, stdout, stderr = run(rights, "acme", "rights", "list", "--as-of-version", "1")
    assert code == 0, stderr
    assert [json.loads(line)["id"] for line in stdout.splitlines()] == ["r1", "r2"]
    assert "until" not in json.loads(stdout.splitlines()[0])
    assert "registry version 1: 2 record(s)" in stderr
    code, stdout, stderr = run(rights, "acme", "rights", "list", "--kind", "reservation")
    assert code == 0
    now = {json.loads(line)["id"]: json.loads(line) for line in stdout.splitlines()}
    assert set(now) == {"r1", "r2", "robots.txt:https://photos.example/private/"}
    assert now["r1"]["until"] == "2025-01-01T00:00:00Z"
    assert "registry version 3" in stderr

    code, stdout, _ = run(rights, "acme", "rights", "show", "reservation", "r1", "--json")
    assert code == 0
    history = json.loads(stdout)
    assert [(v["registry_version"], v["superseded_in"]) for v in history["versions"]] == [(1, 2), (2, None)]
    code, stdout, _ = run(
        rights, "acme", "rights", "show", "reservation", "robots.txt:https://photos.example/private/"
    )
    assert code == 0 and "v3-now" in stdout
    code, _, _ = run(rights, "acme", "rights", "show", "deal", "nope")
    assert code == 2

    # Announced: 2 + 1 + 1 changes; the refused imports announced nothing. (Keyed by record, so
    # spread over partitions: compare in version order.)
    changes = await updates(rights, 4)
    assert sorted((c.registry_version, c.record.id) for c in changes) == [
        (1, "r1"),
        (1, "r2"),
        (2, "r1"),
        (3, "robots.txt:https://photos.example/private/"),
    ]
