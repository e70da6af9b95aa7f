"""One trace from the ingest upload through the rights decisions to the ledger append, on real
Apache Kafka, with the batch subscribers of the hot path (spans per manifest group, not per item)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from consentry_ingest.app import create_app as ingest_app
from consentry_ingest.settings import IngestSettings
from consentry_ledger.app import create_app as ledger_app
from consentry_ledger.settings import LedgerSettings
from consentry_rights.app import create_app as rights_app
from consentry_rights.settings import RightsSettings

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "cli" / "consentry" / "samples"


async def test_one_trace_from_upload_to_ledger(kafka_bootstrap: str, tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    prefix = f"trace-{uuid.uuid4().hex[:8]}."
    common = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "data_dir": tmp_path,
        "topic_prefix": prefix,
        "database_url": None,  # SQLite files in tmp_path, whatever DATABASE_URL says
    }
    apps = [
        ingest_app(IngestSettings(**common), tracer_provider=provider),
        rights_app(RightsSettings(**common), tracer_provider=provider),
        ledger_app(LedgerSettings(**common), tracer_provider=provider),
    ]
    async with LifespanManager(apps[0]), LifespanManager(apps[1]), LifespanManager(apps[2]):
        ingest = httpx.AsyncClient(transport=httpx.ASGITransport(apps[0]), base_url="http://ingest")
        ledger = httpx.AsyncClient(transport=httpx.ASGITransport(apps[2]), base_url="http://ledger")
        response = await ingest.post("/manifests", content=(SAMPLES / "manifest.jsonl").read_bytes())
        assert response.status_code == 200, response.text
        manifest_id = response.json()["manifest_id"]
        items = response.json()["items"]
        async with asyncio.timeout(90):
            while (await ledger.get(f"/manifests/{manifest_id}/status")).json()["ledgered"] < items:
                await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)  # the ledger span ends right after the commit
    spans = exporter.get_finished_spans()
    upload = [s for s in spans if s.name == "ingest.upload"]
    assert len(upload) == 1
    trace_id = upload[0].context.trace_id
    in_trace = {s.name for s in spans if s.context.trace_id == trace_id}
    assert "rights.decide" in in_trace, sorted({s.name for s in spans})
    assert "ledger.append" in in_trace, sorted({s.name for s in spans})
    # No span per item on the hot path: far fewer decide spans than items.
    decide_spans = [s for s in spans if s.name == "rights.decide" and s.context.trace_id == trace_id]
    assert sum(int(s.attributes["consentry.items"]) for s in decide_spans) == items
    assert len(decide_spans) < items
    # One producer span per publish call, not per record; each hop's span is the child of the
    # publish span whose traceparent its records carried.
    by_id = {s.context.span_id: s for s in spans}
    item_publishes = [s for s in spans if s.name == f"{prefix}items.v1 publish"]
    assert sum(int(s.attributes["messaging.batch.message_count"]) for s in item_publishes) == items
    assert len(item_publishes) < items
    for span in decide_spans:
        assert span.parent is not None
        assert by_id[span.parent.span_id].name == f"{prefix}items.v1 publish"
    ledger_spans = [s for s in spans if s.name == "ledger.append" and s.context.trace_id == trace_id]
    assert ledger_spans
    for span in ledger_spans:
        assert span.parent is not None
        assert by_id[span.parent.span_id].name == f"{prefix}decisions.v1 publish"
