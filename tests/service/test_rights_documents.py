"""The parsed-origin-file cache is the rights service's own, sized by a setting: items carrying
crawl-time evidence from more origins than it holds are parsed again, within it they are not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from faststream.kafka import TestKafkaBroker
from pydantic import ValidationError

from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import ItemEvent
from consentry_shared.kafka import InRecord
from tests.service.fakes import FakeRegistryStore

ORIGINS = 40


def records(start: int) -> list[InRecord]:
    out = []
    for n in range(ORIGINS):
        event = ItemEvent.model_validate(
            {
                "event_id": f"ev-{start}-{n}",
                "manifest_id": "m",
                "item_id": f"i-{start}-{n}",
                "line": n + 1,
                "platform": "acme-ai",
                "purpose": "ai-training",
                "url": f"https://site{n}.example/a.jpg",
                "license": "CC0-1.0",
                "submitted_at": datetime(2026, 11, 1, tzinfo=UTC),
                "evidence": {
                    "robots_txt": f"User-agent: GPTBot\nDisallow: /private/\n# site{n}\n",
                    "ai_txt": "User-Agent: *\nDisallow: *.jpg\n",
                    "fetched_at": "2026-10-30T00:00:00Z",
                },
            }
        )
        out.append(InRecord("items.v1", 0, start + n, None, event.model_dump_json().encode(), {}))
    return out


@pytest.mark.parametrize(("size", "parsed_again"), [(4 * ORIGINS, False), (ORIGINS // 2, True)])
async def test_the_setting_sizes_the_cache_the_evidence_path_reads(
    tmp_path: Path, size: int, parsed_again: bool
) -> None:
    settings = RightsSettings(data_dir=tmp_path, telemetry=False, signal_documents=size)
    components = build(settings, store=FakeRegistryStore())
    service = components.service
    documents = service.documents
    assert documents.maxsize == size
    async with TestKafkaBroker(components.broker):
        await service.decide_records(records(0))
        first = documents.misses
        assert first >= 2 * ORIGINS  # each origin's robots.txt and ai.txt parsed once
        await service.decide_records(records(1000))
    assert (documents.misses > first) == parsed_again
    assert documents.hits > 0 or parsed_again


def test_the_setting_is_read_from_the_environment_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RightsSettings().signal_documents == 32_768
    monkeypatch.setenv("CONSENTRY_RIGHTS_SIGNAL_DOCUMENTS", "100000")
    assert RightsSettings().signal_documents == 100_000
    monkeypatch.setenv("CONSENTRY_RIGHTS_SIGNAL_DOCUMENTS", "0")
    with pytest.raises(ValidationError, match="signal_documents"):
        RightsSettings()
