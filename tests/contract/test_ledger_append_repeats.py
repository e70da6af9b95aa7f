"""The ledger appends without asking the store about repeats first, and still logs each decision
once: the store's unique event key refuses a batch with a repeat whole, and the retry drops it.

On both adapters (SQLite here, PostgreSQL under the integration mark).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from opentelemetry import trace

from consentry_ledger.adapters.sql import SqlLedgerStore
from consentry_ledger.adapters.store import AppendConflict
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_ledger.service import LedgerService
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import CompactRange, Signer

SIGNER = Signer.generate("repeats.example/ledger")


class CountingStore(SqlLedgerStore):
    """The real store, counting how often the service asks which event ids are logged."""

    asked = 0

    async def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        self.asked += 1
        return await super().known_event_ids(event_ids)


class FakePublisher:
    def __init__(self) -> None:
        self.published: dict[str, list[OutRecord]] = {}

    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        self.published.setdefault(topic, []).extend(records)


def record(n: int, registry_version: int = 1) -> InRecord:
    decision = DecisionEvent(
        event_id=f"ev-{n}",
        item_event_id=f"it-{n}",
        manifest_id="m",
        item_id=f"i-{n}",
        platform="p",
        purpose="ai-training",
        url=f"https://x.example/{n}",
        verdict="consent",
        reasons=["licence:CC0-1.0"],
        evidence=[],
        policy_version="p/1",
        registry_version=registry_version,
        decided_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return InRecord("decisions.v1", 0, n, None, decision.model_dump_json().encode(), {})


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def ledger(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[LedgerService, CountingStore, FakePublisher]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("fresh_database_url"))
    store = CountingStore.from_url(url)
    assert isinstance(store, CountingStore)
    await store.initialise()
    publisher = FakePublisher()
    service = LedgerService(
        store, SIGNER, publisher, origin="repeats.example/ledger", topic_of=str, tracer=trace.get_tracer("t")
    )
    await service.start()
    yield service, store, publisher
    await store.close()


async def test_repeats_are_dropped_and_asked_about_only_after_one_is_seen(
    ledger: tuple[LedgerService, CountingStore, FakePublisher],
) -> None:
    service, store, publisher = ledger
    assert await service.append_records([record(n) for n in range(0, 10)]) == 10
    assert store.asked == 1  # after a start, the first batch asks (a crash redelivers)
    assert await service.append_records([record(n) for n in range(10, 20)]) == 10
    assert store.asked == 1  # no repeat since: the next batch goes straight to the store

    # A redelivery: half old, half new, and one that cannot become an entry (dead-lettered once).
    poison = record(99, registry_version=2**60)
    batch = [record(n) for n in range(15, 25)] + [poison]
    assert await service.append_records(batch) == 5
    assert store.asked == 2  # the refused first attempt, then the retry that asked
    assert service.size == 25
    dead = publisher.published["decisions.v1.dlq"]
    assert len(dead) == 1 and b"2**53" in dead[0].value

    leaves = await store.leaves(0, 100)
    event_ids = [leaf.split(b'"event_id":"')[1].split(b'"')[0] for leaf in leaves]
    assert sorted(event_ids) == sorted(f"ev-{n}".encode() for n in range(25))

    # Redeliveries come in runs: the next batch asks first, and one without repeats stops that.
    assert await service.append_records([record(n) for n in range(25, 30)]) == 5
    assert store.asked == 3
    assert await service.append_records([record(n) for n in range(30, 35)]) == 5
    assert store.asked == 3
    assert service.size == 35


async def test_an_in_memory_sqlite_store_appends_on_its_own_connection() -> None:
    """A database without a file cannot take the separate writer connection: the append runs
    on the engine's connection, with the same checks."""
    store = SqlLedgerStore.from_url("sqlite://")
    await store.initialise()
    try:
        decisions = [
            PositionedDecision(DecisionEvent.model_validate_json(record(n).value), "decisions.v1", 0, n)
            for n in range(3)
        ]
        plan = sequence_batch(decisions, tree=CompactRange(), known_event_ids=(), origin="o", signer=SIGNER)
        await store.append(plan, base_size=0)
        assert len(await store.leaves(0, 10)) == 3
        assert await store.offsets() == {("decisions.v1", 0): 2}
        with pytest.raises(AppendConflict):
            await store.append(plan, base_size=0)  # the log has 3 entries now
        assert len(await store.leaves(0, 10)) == 3
    finally:
        await store.close()
