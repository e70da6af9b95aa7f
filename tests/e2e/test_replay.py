"""End to end: ``consentry audit replay`` against the log of a real run.

`consentry up` on Apache Kafka + PostgreSQL decides the sample manifest against the sample
registry (version 1); a reservation imported next (version 2) revokes one consent live. The log
is then replayed from the three places it lives — the ledger's API with the rights service's
registry as of each entry's version, the ``ledger.entries.v1`` topic, an export — and every
replay is checked against what the registry change must and must not flip.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from consentry.client import ConsentryClient
from consentry_ledger.adapters.sql import SqlLedgerStore
from tests.e2e.stack import SAMPLES, cli, client_env, consentry_up

pytestmark = pytest.mark.e2e

RESERVATION = {
    "kind": "reservation",
    "id": "res-blog",
    "holder": "blog-authors",
    "match": {"domain": "blog.example"},
    "purposes": ["ai-training"],
    "from": "2024-01-01T00:00:00Z",
}


@dataclass
class Run:
    client: ConsentryClient
    env: dict[str, str]
    kafka_env: dict[str, str]
    results: dict[str, dict[str, Any]]
    revoked_index: int
    data_dir: Path


@pytest.fixture(scope="module")
def run(
    kafka_bootstrap: str, module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    data_dir = tmp_path_factory.mktemp("consentry")
    prefix = f"replay-{uuid.uuid4().hex[:8]}."
    kafka_env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CONSENTRY_TOPIC_PREFIX": prefix}
    overrides = {**kafka_env, "DATABASE_URL": module_database_url, "OTEL_TRACES_EXPORTER": "none"}
    with consentry_up(data_dir, overrides) as (client, _process):
        env = client_env(client)
        imported = cli("rights", "import", str(SAMPLES / "registry.jsonl"), env=env)
        assert imported.returncode == 0, imported.stderr
        submitted = cli("submit", str(SAMPLES / "manifest.jsonl"), "--json", env=env)
        assert submitted.returncode == 0, submitted.stderr
        report = json.loads(submitted.stdout)
        results = {r["id"]: r for r in report["results"]}
        assert results["cc-by-1"]["verdict"] == "consent"

        change = data_dir / "reservation.jsonl"
        change.write_text(json.dumps(RESERVATION) + "\n")
        assert cli("rights", "import", str(change), env=env).returncode == 0
        deadline = time.monotonic() + 60
        while True:  # live revocation: cc-by-1's consent is withdrawn in a new entry
            latest = [i for i in client.report(report["manifest_id"])["items"] if i["id"] == "cc-by-1"][-1]
            if latest["verdict"] == "violation":
                break
            assert time.monotonic() < deadline, latest
            time.sleep(0.3)
        yield Run(client, env, kafka_env, results, latest["index"], data_dir)


def replay(run: Run, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    done = cli("audit", "replay", *args, "--json", env={**run.env, **(env or {})})
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


def test_the_api_replayed_with_the_registry_as_of_each_version_agrees_entirely(run: Run) -> None:
    code, report, stderr = replay(
        run, "--url", run.client.urls.ledger, "--rights-url", run.client.urls.rights
    )
    assert code == 0, stderr
    entries = len(run.results) + 1  # the sample's items and the revocation
    assert (report["entries"], report["replayed"], report["agree"]) == (entries, entries, entries)
    assert report["differ"] == [] and report["not_replayed"] == []
    assert "as of each entry's registry version" in report["registry"]
    assert report["registry_versions_fetched"] == [1, 2]  # each version once


def test_the_topic_replayed_with_todays_registry_shows_the_consent_it_revoked(
    run: Run, tmp_path: Path
) -> None:
    today = tmp_path / "today.jsonl"
    today.write_text((SAMPLES / "registry.jsonl").read_text() + json.dumps(RESERVATION) + "\n")
    code, report, stderr = replay(run, "--topic", "--registry", str(today), env=run.kafka_env)
    assert code == 1, stderr
    assert report["source"].endswith("ledger.entries.v1")
    [flipped] = report["differ"]
    assert flipped["index"] == run.results["cc-by-1"]["ledger_index"]
    assert flipped["registry_version"] == 1
    assert (flipped["logged"]["verdict"], flipped["replayed"]["verdict"]) == ("consent", "violation")
    assert flipped["logged"]["reasons"][0] == "licence:CC-BY-4.0"
    assert flipped["replayed"]["reasons"][0] == "reservation:res-blog"
    assert {"signal": "registry.reservation", "ref": "res-blog"}.items() <= flipped["replayed"]["evidence"][
        0
    ].items()


def test_an_export_replayed_with_the_old_registry_disowns_the_revocation(run: Run, tmp_path: Path) -> None:
    export = tmp_path / "export"
    exported = cli("ledger", "export", str(export), env=run.env)
    assert exported.returncode == 0, exported.stderr
    code, report, stderr = replay(run, str(export), "--registry", str(SAMPLES / "registry.jsonl"))
    assert code == 1, stderr
    [flipped] = report["differ"]
    assert flipped["index"] == run.revoked_index and flipped["registry_version"] == 2
    assert flipped["logged"]["reasons"][:2] == ["consent-revoked", "reservation:res-blog"]
    assert flipped["replayed"]["verdict"] == "consent"


def test_the_topic_rebuilds_the_running_ledgers_database(run: Run, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    done = cli(
        "ledger",
        "rebuild",
        "--database-url",
        target,
        "--url",
        run.client.urls.ledger,
        "--key",
        str(run.data_dir / "ledger.key"),
        env={**run.env, **run.kafka_env},
    )
    assert done.returncode == 0, done.stderr
    live = run.client.checkpoint()
    assert live is not None
    size = len(run.results) + 1
    root = base64.b64decode(live.split("\n")[2]).hex()
    assert f"rebuilt {size} entries" in done.stdout and root in done.stdout
    rebuilt = asyncio.run(_leaves(target, size))
    assert rebuilt == run.client.leaves(0, size)


async def _leaves(url: str, size: int) -> list[bytes]:
    store = SqlLedgerStore.from_url(url)
    try:
        return await store.leaves(0, size)
    finally:
        await store.close()
