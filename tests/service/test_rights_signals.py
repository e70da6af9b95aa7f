"""The rights service reading web signals on FastStream's test broker: crawl-time evidence alone,
and with the signal fetcher on (an httpx MockTransport standing in for the web)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
from faststream.kafka import TestKafkaBroker

from consentry_rights.adapters.fetcher import FetcherConfig, SignalFetcher
from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import DecisionEvent, ItemEvent
from tests.service.fakes import FakeRegistryStore

CRAWL_ROBOTS = "User-agent: *\nAllow: /\n"
LIVE_ROBOTS = "User-agent: GPTBot\nDisallow: /\n"


def item(n: int, **overrides: object) -> ItemEvent:
    fields: dict[str, object] = {
        "event_id": f"ev-{n}",
        "manifest_id": "m-1",
        "item_id": f"photo-{n}",
        "line": n,
        "platform": "acme-ai",
        "purpose": "ai-training",
        "url": f"https://photos.example/{n}.jpg",
        "license": "CC0-1.0",
        "media_type": "image/jpeg",
        "submitted_at": datetime(2026, 11, 1, tzinfo=UTC),
        "evidence": {"robots_txt": CRAWL_ROBOTS, "fetched_at": "2026-10-30T08:00:00Z"},
    }
    fields.update(overrides)
    return ItemEvent.model_validate(fields)


async def public_resolver(host: str, port: int) -> Sequence[str]:
    return ["93.184.215.14"]


def web(handler: Callable[[httpx.Request], httpx.Response]) -> SignalFetcher:
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)
    return SignalFetcher(FetcherConfig(timeout=1.0), client=client, resolver=public_resolver)


async def run(
    tmp_path: Path, items: Sequence[ItemEvent], fetcher: SignalFetcher | None
) -> list[DecisionEvent]:
    settings = RightsSettings(data_dir=tmp_path, telemetry=False)
    components = build(settings, store=FakeRegistryStore(), fetcher=fetcher)
    decisions: list[DecisionEvent] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    async with TestKafkaBroker(components.broker) as broker:
        await broker.publish_batch(*(i.model_dump_json().encode() for i in items), topic="items.v1")
    return sorted(decisions, key=lambda d: d.item_id)


async def test_crawl_time_evidence_decides_without_fetching(tmp_path: Path) -> None:
    reserved = item(2, evidence={"headers": json.dumps({"x-robots-tag": ["noai"]})})
    decisions = await run(tmp_path, [item(1), reserved], fetcher=None)
    assert [(d.item_id, d.verdict, d.reasons[0]) for d in decisions] == [
        ("photo-1", "consent", "licence:CC0-1.0"),
        ("photo-2", "violation", "signal:x-robots-tag"),
    ]
    robots = next(e for e in decisions[0].evidence if e.signal == "robots.txt")
    assert robots.ref == "https://photos.example/robots.txt"
    assert robots.body_sha256 == hashlib.sha256(CRAWL_ROBOTS.encode()).hexdigest()
    assert robots.seen_at == datetime(2026, 10, 30, 8, tzinfo=UTC)


async def test_with_the_fetcher_both_captures_are_read_and_the_reason_says_which_decided(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str, str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers["host"], request.url.path))
        if request.url.path == "/robots.txt":
            return httpx.Response(200, text=LIVE_ROBOTS)
        if request.url.path.endswith(".jpg"):
            return httpx.Response(200, headers={"content-type": "image/jpeg"})
        return httpx.Response(404)

    decisions = await run(tmp_path, [item(1), item(2)], fetcher=web(handler))
    assert [(d.verdict, d.reasons) for d in decisions] == [("violation", ["signal:robots.txt@fetch"])] * 2
    signals = {e.signal for e in decisions[0].evidence}
    assert {"robots.txt@crawl", "robots.txt@fetch", "x-robots-tag@fetch"} <= signals
    assert sum(1 for method, _, path in seen if path == "/robots.txt") == 1  # once for the origin
    assert {host for _, host, _ in seen} == {"photos.example"}
    assert ("HEAD", "photos.example", "/1.jpg") in seen


async def test_a_fetch_that_fails_gives_unknown_never_consent(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    [decision] = await run(tmp_path, [item(1)], fetcher=web(handler))
    assert decision.verdict == "unknown"
    assert "signal-unreadable:robots.txt@fetch" in decision.reasons
    assert all(reason.startswith("signal-unreadable:") for reason in decision.reasons)
