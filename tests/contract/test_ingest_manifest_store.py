"""The accepted-manifest store of ingest, run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consentry_ingest.adapters.manifests import SqlManifestStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlManifestStore]:
    url = (
        f"sqlite:///{tmp_path / 'ingest.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_database_url")
    )
    adapter = SqlManifestStore.from_url(url)
    await adapter.initialise()
    yield adapter
    await adapter.close()


async def test_an_accepted_manifest_is_remembered_and_accepting_it_again_only_moves_the_last_time(
    store: SqlManifestStore,
) -> None:
    first = datetime(2026, 11, 1, 12, tzinfo=UTC)
    facts = {
        "manifest_id": "acme:ds:1",
        "platform": "acme",
        "items": 3,
        "purpose": "ai-training",
        "format": "jsonl",
        "dataset": "ds",
        "version": None,
        "content_sha256": "ab" * 32,
    }
    await store.record(**facts, at=first)
    await store.record(**facts, at=first + timedelta(hours=1))
    found = await store.get("acme:ds:1")
    assert found == {
        **facts,
        "first_accepted_at": first.isoformat(),
        "last_accepted_at": (first + timedelta(hours=1)).isoformat(),
    }
    assert await store.get("acme:ds:2") is None
