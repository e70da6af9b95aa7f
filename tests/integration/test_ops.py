"""/ready and /metrics on real Apache Kafka: readiness follows the consumer, counters move."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from consentry_ingest.app import create_app as ingest_app
from consentry_ingest.settings import IngestSettings
from consentry_ledger.app import create_app as ledger_app
from consentry_ledger.settings import LedgerSettings
from consentry_rights.app import create_app as rights_app
from consentry_rights.settings import RightsSettings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "cli" / "consentry" / "samples"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample of ``name`` with (at least) ``labels``; 0 if absent."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"{name}(?:\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_ready_follows_the_consumer_and_metrics_move(kafka_bootstrap: str, tmp_path: Path) -> None:
    common = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "data_dir": tmp_path,
        "topic_prefix": f"ops-{uuid.uuid4().hex[:8]}.",
        "database_url": None,
        "telemetry": False,
    }
    ingest, rights = ingest_app(IngestSettings(**common)), rights_app(RightsSettings(**common))
    ledger = ledger_app(LedgerSettings(**common))
    async with LifespanManager(ingest), LifespanManager(rights), LifespanManager(ledger):
        lc = httpx.AsyncClient(transport=httpx.ASGITransport(ledger), base_url="http://ledger")
        up = httpx.AsyncClient(transport=httpx.ASGITransport(ingest), base_url="http://ingest")
        rc = httpx.AsyncClient(transport=httpx.ASGITransport(rights), base_url="http://rights")
        assert (await rc.get("/health")).status_code == 200
        async with asyncio.timeout(30):
            while (ready := await rc.get("/ready")).status_code != 200:
                assert ready.status_code == 503
                assert ready.json()["checks"]["kafka"] == "ok"
                await asyncio.sleep(0.2)
        assert ready.json()["checks"] == {"kafka": "ok", "database": "ok", "consumer": "ok"}
        assert (await up.get("/ready")).status_code == 200

        before = (await rc.get("/metrics")).text
        response = await up.post("/manifests", content=(SAMPLES / "manifest.jsonl").read_bytes())
        assert response.status_code == 200
        items = response.json()["items"]
        topic = f"{common['topic_prefix']}items.v1"
        async with asyncio.timeout(60):
            while True:
                text = (await rc.get("/metrics")).text
                total = "consentry_decisions_total"
                decided = metric(text, total) - metric(before, total)
                if decided >= items:
                    break
                await asyncio.sleep(0.2)
        assert metric(text, "consentry_decisions_total", verdict="violation", reason="no-licence") >= 1
        assert metric(text, "consentry_messages_total", direction="in", topic=topic) >= items
        assert "consentry_consumer_lag{" in text
        assert 'group="consentry-' in text

        async with asyncio.timeout(60):
            while (await lc.get(f"/manifests/{response.json()['manifest_id']}/status")).json()[
                "ledgered"
            ] < items:
                await asyncio.sleep(0.2)
        ledger_ready = await lc.get("/ready")
        assert ledger_ready.status_code == 200, ledger_ready.json()
        ledger_metrics = (await lc.get("/metrics")).text
        assert metric(ledger_metrics, "consentry_ledger_size") >= items
        assert metric(ledger_metrics, "consentry_ledger_append_seconds_count") >= 1
        assert "consentry_checkpoint_age_seconds" in ledger_metrics
        assert (await lc.get("/health")).json()["size"] >= items
