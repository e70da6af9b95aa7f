"""End to end: the CLI against `consentry up` — on real Apache Kafka + PostgreSQL, and on the
embedded default (Tansu + SQLite). Every rule of the decision engine is exercised by the sample
manifest; every item's ledger entry is checked; the export verifies and a changed byte is found."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consentry.client import ConsentryClient
from tests.e2e.expected import EXTRA_REASONS, SAMPLE_EXPECTED
from tests.e2e.stack import SAMPLES, cli, client_env, consentry_up, credentials

pytestmark = pytest.mark.e2e


class Stack:
    def __init__(
        self, client: ConsentryClient, env: dict[str, str], data_dir: Path, kafka: str | None, prefix: str
    ):
        self.client = client
        self.env = env
        self.data_dir = data_dir
        self.kafka = kafka
        self.prefix = prefix


@pytest.fixture(scope="module", params=["apache-kafka+postgresql", "embedded"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("consentry")
    prefix = f"e2e-{uuid.uuid4().hex[:8]}."
    overrides = {"CONSENTRY_TOPIC_PREFIX": prefix, "OTEL_TRACES_EXPORTER": "file"}
    kafka = None
    if request.param != "embedded":
        kafka = request.getfixturevalue("kafka_bootstrap")
        overrides["KAFKA_BOOTSTRAP_SERVERS"] = kafka
        overrides["DATABASE_URL"] = request.getfixturevalue("module_database_url")
    with consentry_up(data_dir, overrides) as (client, _process):
        if kafka is None:  # the embedded broker: `consentry up` says where it is
            endpoints = dict(line.split("=", 1) for line in (data_dir / "endpoints.env").read_text().split())
            kafka = endpoints["KAFKA_BOOTSTRAP_SERVERS"]
        rights = cli("rights", "import", str(SAMPLES / "registry.jsonl"), env=client_env(client))
        assert rights.returncode == 0, rights.stderr
        assert "imported 10 records" in rights.stdout
        yield Stack(client, client_env(client), data_dir, kafka, prefix)


def _submit_json(stack: Stack, manifest: Path, *extra: str) -> dict:
    result = cli("submit", str(manifest), "--json", *extra, env=stack.env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_rule_reaches_the_ledger(stack: Stack) -> None:
    report = _submit_json(stack, SAMPLES / "manifest.jsonl")

    assert report["items"] == len(SAMPLE_EXPECTED)
    results = {r["id"]: r for r in report["results"]}
    assert set(results) == set(SAMPLE_EXPECTED)
    for item_id, (verdict, reason) in SAMPLE_EXPECTED.items():
        assert results[item_id]["verdict"] == verdict, (item_id, results[item_id])
        assert reason in results[item_id]["reasons"], (item_id, results[item_id]["reasons"])
    for item_id, reason in EXTRA_REASONS.items():
        assert reason in results[item_id]["reasons"], (item_id, results[item_id]["reasons"])
    consents = sum(1 for v, _ in SAMPLE_EXPECTED.values() if v == "consent")
    assert report["counts"] == {
        "consent": consents,
        "violation": len(SAMPLE_EXPECTED) - consents,
        "unknown": 0,
    }

    # Every item's ledger entry carries the decision and its source position.
    note = stack.client.checkpoint()
    assert note is not None
    leaves = stack.client.leaves(0, int(note.split("\n")[1]))
    entries = {e["item_id"]: e for e in map(json.loads, leaves) if e["manifest_id"] == report["manifest_id"]}
    assert set(entries) == set(SAMPLE_EXPECTED)
    for item_id, result in results.items():
        entry = entries[item_id]
        assert entry["index"] == result["ledger_index"]
        assert entry["verdict"] == result["verdict"]
        assert entry["platform"] == "acme-ai"
        assert entry["purpose"] == "ai-training"
        assert entry["topic"] == f"{stack.prefix}decisions.v1"
        assert entry["evidence"], item_id
    # The deal that granted news-1 left its terms on the record.
    terms = {
        e["signal"]: e["value"] for e in entries["news-1"]["evidence"] if e.get("ref") == "deal-daily-news"
    }
    assert terms["registry.deal.attribution"] == "Source: Daily News"
    assert terms["registry.deal.compensation"] == "basis=per-item;amount=0.05;currency=EUR"
    assert entries["press-us-1"]["territory"] == "US"


def test_fail_on_violation_exits_3_and_resubmission_adds_nothing(stack: Stack, tmp_path: Path) -> None:
    first = _submit_json(stack, SAMPLES / "manifest.jsonl")
    gated = cli("submit", str(SAMPLES / "manifest.jsonl"), "--fail-on-violation", env=stack.env)
    assert gated.returncode == 3, gated.stdout + gated.stderr
    assert "violation" in gated.stdout

    # A later manifest spread over every partition: once it is in, the repeats before it are too.
    later = tmp_path / "later.jsonl"
    later.write_text(
        "".join(
            json.dumps({"id": f"later-{i}", "url": f"https://later.example/{i}", "license": "CC0-1.0"}) + "\n"
            for i in range(60)
        )
    )
    second = _submit_json(stack, later, "--platform", "acme-ai")
    assert second["counts"]["consent"] == 60
    assert stack.client.ledgered(first["manifest_id"]) == len(SAMPLE_EXPECTED)


def test_bad_manifest_names_line_and_field_and_publishes_nothing(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "ok-1", "url": "https://ok.example/1"}\n'
        '{"id": "bad-1", "url": "ftp://nope.example/x"}\n'
        '{"id": "bad-2", "url": "https://ok.example/2", "sha256": "abc"}\n'
    )
    result = cli("submit", str(bad), "--platform", "acme-ai", env=stack.env)
    assert result.returncode == 2
    assert f"{bad}:2" in result.stderr
    assert "url" in result.stderr
    assert f"{bad}:3" in result.stderr
    assert "sha256" in result.stderr

    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "ok-1", "url": "https://ok.example/1"}\n')
    accepted = cli("submit", str(good), "--platform", "acme-ai", env=stack.env)
    assert accepted.returncode == 0, accepted.stderr


def test_registry_import_errors_name_line_and_field(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "registry.jsonl"
    bad.write_text(
        '{"kind": "work", "id": "w1", "holder": "h", "sha256": "' + "a" * 64 + '", "license": "MIT"}\n'
        '{"kind": "deal", "id": "d1", "holder": "h", "licensee": "p", "match": {},'
        ' "purposes": ["ai-training"],'
        ' "from": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}\n'
    )
    result = cli("rights", "import", str(bad), env=stack.env)
    assert result.returncode == 2
    assert f"{bad}:2" in result.stderr
    assert "match" in result.stderr


def test_export_verifies_and_a_changed_byte_is_located(stack: Stack, tmp_path: Path) -> None:
    _submit_json(stack, SAMPLES / "manifest.jsonl")
    export = tmp_path / "export"
    exported = cli("ledger", "export", str(export), env=stack.env)
    assert exported.returncode == 0, exported.stderr
    verified = cli("ledger", "verify", str(export), env={})
    assert verified.returncode == 0, verified.stderr + verified.stdout
    assert "OK" in verified.stdout

    bundle = sorted((export / "tile" / "entries").rglob("*"))
    bundle = next(p for p in bundle if p.is_file())
    data = bytearray(bundle.read_bytes())
    target = data.index(b'"verdict":"violation"') + len('"verdict":"')
    # Flip one letter inside the first violation verdict: "violation" -> "violatiom".
    data[target + 8] = ord("m")
    bundle.write_bytes(bytes(data))
    index = _index_of_byte(bytes(data), target)
    failed = cli("ledger", "verify", str(export), env={})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"entry {index}" in failed.stderr or f"index {index}" in failed.stderr, failed.stderr


def _index_of_byte(bundle: bytes, position: int) -> int:
    """Which entry of a tlog-tiles entry bundle holds byte ``position`` (bundle 0 starts at 0)."""
    offset, index = 0, 0
    while offset < len(bundle):
        length = int.from_bytes(bundle[offset : offset + 2], "big")
        if offset + 2 <= position < offset + 2 + length:
            return index
        offset += 2 + length
        index += 1
    raise AssertionError("position outside the bundle")


def test_poison_items_go_to_the_dead_letter_topic(stack: Stack, tmp_path: Path) -> None:
    asyncio.run(_poison_roundtrip(stack, tmp_path))


async def _poison_roundtrip(stack: Stack, tmp_path: Path) -> None:
    assert stack.kafka is not None
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(f"{stack.prefix}items.v1", b'{"not": "an item"}', key=b"poison")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        f"{stack.prefix}items.v1.dlq",
        bootstrap_servers=stack.kafka,
        auto_offset_reset="earliest",
        group_id=f"test-{uuid.uuid4().hex}",
    )
    await consumer.start()
    try:
        letter = None
        async with asyncio.timeout(60):
            while letter is None:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    for record in records:
                        if record.key == b"poison":
                            letter = json.loads(record.value)
    finally:
        await consumer.stop()
    assert letter["source_topic"] == f"{stack.prefix}items.v1"
    assert "invalid items.v1 message" in letter["reason"]
    assert letter["payload"] == '{"not": "an item"}'
    # ...and the pipeline keeps flowing.
    after = tmp_path / "after.jsonl"
    after.write_text('{"id": "after-poison", "url": "https://after.example/1", "license": "MIT"}\n')
    assert _submit_json(stack, after, "--platform", "acme-ai")["counts"]["consent"] == 1


def test_revoking_a_deal_reaches_the_ledger_within_seconds(stack: Stack, tmp_path: Path) -> None:
    registry = tmp_path / "deal.jsonl"
    deal = {
        "kind": "deal",
        "id": "deal-live",
        "holder": "gallery",
        "licensee": "acme-ai",
        "match": {"domain": "live.example"},
        "purposes": ["ai-training"],
        "territories": ["*"],
        "from": "2025-01-01T00:00:00Z",
        "until": "2099-01-01T00:00:00Z",
    }
    registry.write_text(json.dumps(deal) + "\n")
    assert cli("rights", "import", str(registry), env=stack.env).returncode == 0
    manifest = tmp_path / "live.jsonl"
    manifest.write_text('{"id": "live-1", "url": "https://live.example/a.jpg"}\n')
    first = _submit_json(stack, manifest, "--platform", "acme-ai")
    assert first["results"][0]["verdict"] == "consent"

    registry.write_text(json.dumps({**deal, "revoked_at": "2026-01-01T00:00:00Z"}) + "\n")
    revoked = cli("rights", "import", str(registry), env=stack.env)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 30
    while True:
        report = stack.client.report(first["manifest_id"])
        latest = report["items"][-1]
        if latest["verdict"] == "violation":
            break
        assert time.monotonic() < deadline, report
        time.sleep(0.3)
    assert latest["reasons"][0] == "consent-revoked"
    assert "deal-revoked:deal-live" in latest["reasons"]
    assert latest["index"] > first["results"][0]["ledger_index"]


def test_platform_tokens_upload_for_their_platform_and_see_only_their_manifests(
    stack: Stack, tmp_path: Path
) -> None:
    written = stack.data_dir / "credentials.env"
    assert written.stat().st_mode & 0o777 == 0o600
    tokens = credentials(stack.data_dir)
    assert tokens["CONSENTRY_PLATFORM"] == "acme-ai"
    acme = {**stack.env, "CONSENTRY_TOKEN": tokens["CONSENTRY_PLATFORM_TOKEN"]}

    # The sample declares acme-ai: its own token uploads it (and sees the live bar on a terminal).
    waited = cli("submit", str(SAMPLES / "manifest.jsonl"), "--wait", env={**acme, "TTY_COMPATIBLE": "1"})
    assert waited.returncode == 0, waited.stderr
    assert "ledgered" in waited.stderr and "items/s" in waited.stderr and "ETA" in waited.stderr
    report = _submit_json(stack, SAMPLES / "manifest.jsonl", "--token", tokens["CONSENTRY_PLATFORM_TOKEN"])
    assert report["platform"] == "acme-ai"
    manifest_id = report["manifest_id"]

    created = cli(
        "token",
        "create",
        "--role",
        "platform",
        "--name",
        "rival-ai",
        "--data-dir",
        str(stack.data_dir),
        env={},
    )
    assert created.returncode == 0, created.stderr
    rival_token = created.stdout.strip()
    assert rival_token.startswith("cst_")
    rival = {**stack.env, "CONSENTRY_TOKEN": rival_token}

    # Another platform cannot upload acme-ai's manifest, nor see its report or status.
    refused = cli("submit", str(SAMPLES / "manifest.jsonl"), env=rival)
    assert refused.returncode == 2
    assert "acme-ai" in refused.stderr and "rival-ai" in refused.stderr
    hidden = cli("report", manifest_id, env=rival)
    assert hidden.returncode == 2
    assert "no manifest" in hidden.stderr
    assert cli("status", manifest_id, env=rival).returncode == 2
    # An id nobody knows is an error, not an empty report.
    unknown = cli("report", "acme-ai:id:never-submitted", env=acme)
    assert unknown.returncode == 2
    assert "no manifest 'acme-ai:id:never-submitted'" in unknown.stderr
    # Received by ingest, decided by rights (by verdict), entered in the ledger: all of them. (The
    # rights service remembers a batch's verdicts just after publishing them, so allow a moment.)
    for _ in range(50):
        shown = cli("status", manifest_id, "--json", env=acme)
        assert shown.returncode == 0, shown.stderr
        state = json.loads(shown.stdout)
        if state["decided"] == report["items"]:
            break
        time.sleep(0.2)
    assert state["received"] == state["decided"] == state["ledgered"] == report["items"]
    assert sum(state["verdicts"].values()) == report["items"]
    # ...but uploads under its own name, which the id says.
    own = tmp_path / "rival.jsonl"
    own.write_text('{"id": "r-1", "url": "https://rival.example/1", "license": "MIT"}\n')
    mine = _submit_json(stack, own, "--token", rival_token)
    assert mine["manifest_id"].startswith("rival-ai:")
    assert mine["counts"]["consent"] == 1

    # No token anywhere (an empty CONSENTRY_TOKEN, no credentials file where we stand): 401.
    anonymous = cli("report", manifest_id, env={**stack.env, "CONSENTRY_TOKEN": ""}, cwd=tmp_path)
    assert anonymous.returncode == 2
    assert "bearer token" in anonymous.stderr


def test_the_async_sdk_submits_item_dicts_and_waits_for_the_ledger(stack: Stack) -> None:
    asyncio.run(_async_sdk_roundtrip(stack))


async def _async_sdk_roundtrip(stack: Stack) -> None:
    from consentry.client import AsyncConsentryClient, NotAuthorized

    tokens = credentials(stack.data_dir)
    items = ({"id": f"sdk-{n}", "url": f"https://sdk.example/{n}", "license": "CC0-1.0"} for n in range(40))
    header = {"dataset": "sdk-demo", "version": "1"}
    async with AsyncConsentryClient(stack.client.urls, token=tokens["CONSENTRY_PLATFORM_TOKEN"]) as client:
        accepted = await client.submit(items, header=header, purpose="ai-training")
        assert (accepted["items"], accepted["platform"], accepted["dataset"]) == (40, "acme-ai", "sdk-demo")
        progress: list[int] = []
        done = await client.wait(accepted["manifest_id"], 40, timeout=120, on_progress=progress.append)
        assert done == 40 and progress[-1] == 40
        assert (await client.status(accepted["manifest_id"]))["ledgered"] == 40
        report = await client.report(accepted["manifest_id"])
        assert report["counts"]["consent"] == 40
        assert {i["id"] for i in report["items"]} == {f"sdk-{n}" for n in range(40)}
    async with AsyncConsentryClient(stack.client.urls, token="cst_not-a-token") as stranger:
        with pytest.raises(NotAuthorized):
            await stranger.status(accepted["manifest_id"])


def test_the_sync_sdk_submits_a_file_object_in_one_request_or_a_session(stack: Stack) -> None:
    import io

    from consentry.client import ConsentryClient, RejectedInput

    tokens = credentials(stack.data_dir)
    body = b"".join(
        json.dumps({"id": f"fo-{n}", "url": f"https://fo.example/{n}", "license": "MIT"}).encode() + b"\n"
        for n in range(25)
    )
    with ConsentryClient(stack.client.urls, token=tokens["CONSENTRY_PLATFORM_TOKEN"]) as client:
        accepted = client.submit(io.BytesIO(body), filename="stream.jsonl")
        assert (accepted["items"], accepted["platform"]) == (25, "acme-ai")
        assert client.wait(accepted["manifest_id"], 25, timeout=120) == 25
        # Resumable from a seekable file object as well: the same bytes, the same manifest id.
        again = client.submit(io.BytesIO(body), filename="stream.jsonl", resumable=True)
        assert again["manifest_id"] == accepted["manifest_id"]
        with pytest.raises(RejectedInput) as rejected:
            client.submit(io.BytesIO(b'{"id": "x", "url": "ftp://x"}\n'), filename="bad.jsonl")
        assert rejected.value.status == 422
        assert rejected.value.errors[0]["field"] == "url"
