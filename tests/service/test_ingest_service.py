"""The ingest service on FastStream's in-memory test broker: uploads in, items.v1 events out."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from faststream.kafka import TestKafkaBroker

from consentry_ingest.adapters.spill import RecordSpool
from consentry_ingest.app import build
from consentry_ingest.service import ManifestRejected, MissingPlatform, OutOfSpoolSpace, Submission
from consentry_ingest.settings import IngestSettings
from consentry_shared.contracts.v1 import ItemEvent, Purpose

MANIFEST = (
    b'{"manifest": {"dataset": "d", "platform": "acme-ai", "purpose": "search"}}\n'
    b'{"id": "a", "url": "https://x.example/a", "license": "MIT"}\n'
    b'{"id": "b", "url": "HTTPS://X.example:443/b", "sha256": "' + b"A" * 64 + b'"}\n'
)


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
async def ingest(tmp_path: Path) -> AsyncIterator[tuple[object, list[ItemEvent]]]:
    components = build(IngestSettings(data_dir=tmp_path, telemetry=False))
    published: list[ItemEvent] = []

    @components.broker.subscriber("items.v1")
    async def collect(body: dict) -> None:
        published.append(ItemEvent.model_validate(body))

    async with TestKafkaBroker(components.broker):
        yield components.service, published


async def test_a_manifest_becomes_one_normalised_event_per_item(ingest: tuple) -> None:
    service, published = ingest
    accepted = await service.submit(chunks(MANIFEST), Submission(filename="m.jsonl"))
    assert (accepted.items, accepted.platform, accepted.purpose) == (2, "acme-ai", Purpose.SEARCH)
    assert [e.item_id for e in published] == ["a", "b"]
    assert str(published[1].url) == "https://x.example/b"
    assert published[1].sha256 == "a" * 64
    assert {e.manifest_id for e in published} == {accepted.manifest_id}
    assert [e.line for e in published] == [2, 3]


async def test_resubmitting_repeats_the_same_ids_and_a_new_purpose_is_a_new_manifest(ingest: tuple) -> None:
    service, published = ingest
    first = await service.submit(chunks(MANIFEST), Submission())
    again = await service.submit(chunks(MANIFEST, 1000), Submission())
    other = await service.submit(chunks(MANIFEST), Submission(purpose=Purpose.AI_TRAINING))
    assert first.manifest_id == again.manifest_id != other.manifest_id
    ids = [e.event_id for e in published]
    assert ids[0:2] == ids[2:4]
    assert not set(ids[4:]) & set(ids[:2])


async def test_one_bad_line_rejects_the_whole_manifest_and_publishes_nothing(ingest: tuple) -> None:
    service, published = ingest
    bad = MANIFEST + b'{"id": "c", "url": "ftp://x.example/c"}\n{"id": "a", "url": "https://x.example/a2"}\n'
    with pytest.raises(ManifestRejected) as rejected:
        await service.submit(chunks(bad), Submission())
    assert [(e.line, e.field) for e in rejected.value.errors] == [(4, "url"), (5, "id")]
    assert published == []


async def test_a_platform_is_required(ingest: tuple) -> None:
    service, _ = ingest
    with pytest.raises(MissingPlatform):
        await service.submit(chunks(b'{"id": "a", "url": "https://x.example/a"}\n'), Submission())


async def test_a_laion_style_parquet_manifest_with_a_column_mapping(ingest: tuple, tmp_path: Path) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    service, published = ingest
    table = pa.table(
        {
            "URL": ["https://img.example/1.jpg", "https://img.example/2.jpg"],
            "TEXT": ["a cat", "a dog"],
            "LICENSE": ["CC-BY-4.0", None],
            "key": ["000001", "000002"],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    accepted = await service.submit(
        chunks(buffer.getvalue(), 4096),
        Submission(platform="acme-ai", filename="part-00000.parquet", columns={"id": "key"}),
    )
    assert (accepted.items, accepted.format) == (2, "parquet")
    assert [(e.item_id, e.license) for e in published] == [("000001", "CC-BY-4.0"), ("000002", None)]


async def test_crawl_time_evidence_and_cdxj_facts_reach_the_item_event(ingest: tuple) -> None:
    service, published = ingest
    line = (
        b'org,example)/page 20260101120000 {"url": "https://example.org/page", "mime": "text/html", '
        b'"status": "200", "digest": "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "length": "100", '
        b'"offset": "10", "filename": "crawl.warc.gz"}\n'
    )
    await service.submit(chunks(line), Submission(platform="acme-ai", filename="index.cdxj"))
    jsonl = (
        b'{"id": "p", "url": "https://example.org/p", "headers": {"X-Robots-Tag": "noai"},'
        b' "robots_txt": "User-agent: GPTBot\\nDisallow: /\\n", "fetched_at": "2026-11-01T00:00:00Z"}\n'
    )
    await service.submit(chunks(jsonl), Submission(platform="acme-ai"))
    cdxj_event, jsonl_event = published
    assert cdxj_event.extra["timestamp"] == "20260101120000"
    assert cdxj_event.evidence["fetched_at"].startswith("2026-01-01T12:00:00")
    assert jsonl_event.evidence["headers"] == '{"x-robots-tag":["noai"]}'
    assert jsonl_event.evidence["robots_txt"].startswith("User-agent: GPTBot")


async def test_a_dataset_card_alone_is_refused_with_a_reason(ingest: tuple) -> None:
    from consentry_ingest.service import UnsupportedManifest

    service, _ = ingest
    with pytest.raises(UnsupportedManifest, match="data files"):
        await service.submit(
            chunks(b"---\nlicense: cc-by-4.0\n---\n# Card\n"), Submission(filename="README.md")
        )


async def test_manifests_produced_to_kafka_are_ingested_or_dead_lettered(tmp_path: Path) -> None:
    from consentry_shared.contracts.v1 import DeadLetter

    components = build(IngestSettings(data_dir=tmp_path, telemetry=False))
    published: list[ItemEvent] = []
    letters: list[DeadLetter] = []

    @components.broker.subscriber("items.v1")
    async def collect(body: dict) -> None:
        published.append(ItemEvent.model_validate(body))

    @components.broker.subscriber("manifests.v1.dlq")
    async def collect_dead(body: dict) -> None:
        letters.append(DeadLetter.model_validate(body))

    good = {
        "manifest": {"id": "kafka-native", "platform": "acme-ai", "purpose": "ai-inference"},
        "items": [{"id": "a", "url": "https://x.example/a"}, {"id": "b", "url": "https://x.example/b"}],
    }
    bad = {
        "manifest": {"platform": "acme-ai"},
        "items": [{"id": "a", "url": "https://x.example/a"}, {"id": "b"}],
    }
    async with TestKafkaBroker(components.broker) as broker:
        await broker.publish(good, topic="manifests.v1")
        await broker.publish(bad, topic="manifests.v1")
        await broker.publish(b"not json", topic="manifests.v1")

    assert [(e.item_id, e.purpose) for e in published] == [
        ("a", Purpose.AI_INFERENCE),
        ("b", Purpose.AI_INFERENCE),
    ]
    assert published[0].manifest_id.startswith("acme-ai:id:kafka-native@")
    assert len(letters) == 2
    assert "item 2 field url" in letters[0].reason
    assert "invalid manifests.v1 message" in letters[1].reason


async def test_the_asyncapi_document_names_the_topics_and_their_contracts(tmp_path: Path) -> None:
    import httpx

    from consentry_ingest.app import create_app

    app = create_app(IngestSettings(data_dir=tmp_path, telemetry=False))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ingest") as client:
        spec = (await client.get("/asyncapi")).json()
        openapi = (await client.get("/openapi.json")).json()
    assert spec["asyncapi"].startswith("3.")
    addresses = {c["address"] for c in spec["channels"].values()}
    assert {"items.v1", "manifests.v1"} <= addresses
    assert "ItemEvent" in str(spec["components"])
    assert "/manifests" in openapi["paths"]


async def test_items_are_published_in_order_across_spooled_blocks_and_no_spool_file_is_left(
    tmp_path: Path,
) -> None:
    # Over 1 MiB: the records are spooled in several blocks (one per chunk read), published in
    # batches of 1,000 that do not line up with the blocks.
    components = build(IngestSettings(data_dir=tmp_path, telemetry=False, publish_batch_items=1000))
    lines: list[int] = []

    @components.broker.subscriber("items.v1")
    async def collect(body: dict) -> None:
        lines.append(body["line"])

    padding = "p" * 120
    data = b'{"manifest": {"platform": "acme-ai"}}\n' + b"".join(
        b'{"id": "%d", "url": "https://x.example/%s/%d"}\n' % (n, padding.encode(), n) for n in range(9_000)
    )
    assert len(data) > 1 << 20
    async with TestKafkaBroker(components.broker):
        accepted = await components.service.submit(chunks(data, 1 << 16), Submission())
        with pytest.raises(ManifestRejected):
            await components.service.submit(chunks(data + b'{"id": "0", "url": "x"}\n'), Submission())
        with pytest.raises(MissingPlatform):
            await components.service.submit(
                chunks(b'{"id": "a", "url": "https://x.example/a"}\n'), Submission()
            )
    assert accepted.items == 9_000
    assert lines == list(range(2, 9_002))
    assert [p.name for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("full_at", ["spooling the upload", "spooling its records"])
async def test_a_full_spool_disk_is_a_507_that_says_so_and_publishes_nothing(
    ingest: tuple, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, full_at: str
) -> None:
    service, published = ingest

    def no_space(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if full_at == "spooling its records":
        monkeypatch.setattr(RecordSpool, "append", no_space)
    else:
        monkeypatch.setattr(service, "_spool_body", no_space_async(no_space))
    with pytest.raises(OutOfSpoolSpace, match=r"spool disk .* is full; nothing was published") as full:
        await service.submit(chunks(MANIFEST), Submission())
    assert full.value.status == 507
    assert published == []
    assert [p.name for p in (tmp_path / "spool").rglob("*") if p.is_file()] == []


def no_space_async(fail: Callable[..., None]) -> Callable[..., Awaitable[None]]:
    async def spool(*args: object, **kwargs: object) -> None:
        fail(*args, **kwargs)

    return spool
