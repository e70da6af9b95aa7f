"""The rights service with hash-only reservations held compactly against the same service holding
them as ordinary records: the same items (consumed batches, a sharded share that has to widen,
and a live revocation) give byte-for-byte the same published decision events."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from opentelemetry import trace

from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.service import RightsService
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import Deal, DecisionEvent, ItemEvent, Reservation, Work
from consentry_shared.kafka import InRecord, KeyedBatchPublisher, OutRecord, partition_for
from tests.service.fakes import FakeRegistryStore

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
PARTITIONS = 6


def sha(n: int) -> str:
    return hashlib.sha256(f"work-{n}".encode()).hexdigest()


class Published:
    """Stands in for the Kafka publisher: keeps what each publish call was given, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[tuple[bytes | None, bytes]]]] = []

    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        self.calls.append((topic, [(r.key, r.value) for r in records]))


def registry(rng: random.Random) -> list[RegistryRecord]:
    records: list[RegistryRecord] = []
    for n in range(300):
        records.append(
            Reservation.model_validate(
                {
                    "id": f"society:res-{n}",
                    "holder": f"society-{n % 3}",
                    "match": {"sha256": sha(n % 120)},  # some hashes reserved twice
                    "purposes": rng.choice(
                        [["all"], ["ai-training"], ["ai-generative-training"], ["search"]]
                    ),
                    "territories": rng.choice([["*"], ["*"], ["*"], ["DE"]]),
                    "from": rng.choice(["2020-01-01T00:00:00Z", "2026-01-01T00:00:00+02:00"]),
                    "until": rng.choice([None, None, "2026-06-01T00:00:00Z"]),
                }
            )
        )
    records += [
        Reservation.model_validate(
            {
                "id": "by-domain",
                "holder": "h",
                "match": {"domain": "blocked.example"},
                "purposes": ["ai-training"],
                "from": "2024-01-01T00:00:00Z",
            }
        ),
        Deal.model_validate(
            {
                "id": "deal",
                "holder": "society-0",
                "licensee": "acme-ai",
                "match": {"sha256": sha(7)},
                "purposes": ["ai-training"],
                "territories": ["*"],
                "from": "2024-01-01T00:00:00Z",
                "until": "2099-01-01T00:00:00Z",
            }
        ),
        Work.model_validate({"id": "work", "holder": "h", "sha256": sha(8), "license": "CC-BY-NC-4.0"}),
    ]
    return records


HELD = {0, 2, 4}


def batch(rng: random.Random, start: int, size: int, *, held_only: bool) -> list[InRecord]:
    """Items with hashes among the reserved ones and others; ``held_only``: only hashes keyed to
    the partitions of ``HELD``."""
    records = []
    for n in range(start, start + size):
        digest = sha(rng.randrange(160))
        while held_only and partition_for(digest.encode(), PARTITIONS) not in HELD:
            digest = sha(rng.randrange(160))
        event = ItemEvent.model_validate(
            {
                "event_id": f"ev-{n}",
                "manifest_id": "m-1",
                "item_id": f"item-{n}",
                "line": n + 1,
                "platform": rng.choice(["acme-ai", "globex-ml"]),
                "purpose": rng.choice(["ai-training", "ai-generative-training", "search"]),
                "territory": rng.choice([None, "DE", "US"]),
                "jurisdiction": rng.choice([None, "EU", "US"]),
                "url": f"https://{rng.choice(['photos', 'blocked'])}.example/{n}.jpg",
                "sha256": digest,
                "license": rng.choice([None, "CC-BY-4.0", "CC0-1.0"]),
                "submitted_at": AT - timedelta(days=1),
            }
        )
        key = digest.encode()
        partition = partition_for(key, PARTITIONS)
        records.append(InRecord("items.v1", partition, n, key, event.model_dump_json().encode(), {}))
    return records


async def run(
    compact: bool, *, sharded: bool
) -> tuple[RightsService, Published, FakeRegistryStore, dict[str, object]]:
    rng = random.Random(11)
    store = FakeRegistryStore()
    published = Published()
    service = RightsService(
        store,
        cast(KeyedBatchPublisher, published),
        RightsSettings().policy(),
        topic_of=lambda name: name,
        tracer=trace.get_tracer("test"),
        compact_registry=compact,
    )
    await store.upsert(registry(rng))
    if sharded:
        await service.assign(PARTITIONS, HELD)
    else:
        await service.refresh()
    for start in range(0, 400, 200):
        await service.decide_records(batch(rng, start, 200, held_only=True))
    share = service.registry_share()
    # Items of every partition: a share has to widen its view for them first.
    await service.decide_records(batch(rng, 400, 200, held_only=False))
    # A live revocation: a hash-only reservation and one by domain, after those decisions.
    change: list[RegistryRecord] = [
        Reservation.model_validate(
            {
                "id": "society:late",
                "holder": "society-1",
                "match": {"sha256": sha(150)},
                "purposes": ["all"],
                "from": "2026-10-01T00:00:00Z",
            }
        ),
        Reservation.model_validate(
            {
                "id": "late-domain",
                "holder": "h",
                "match": {"domain": "photos.example"},
                "purposes": ["ai-generative-training"],
                "from": "2026-10-01T00:00:00Z",
            }
        ),
    ]
    await service.import_records(change)
    return service, published, store, share


@pytest.mark.parametrize("sharded", [False, True])
async def test_compact_and_plain_views_publish_the_same_decisions(
    sharded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consentry_rights.service.utc_now", lambda: AT)
    compact, compact_out, compact_store, compact_share = await run(True, sharded=sharded)
    plain, plain_out, plain_store, plain_share = await run(False, sharded=sharded)

    assert compact_out.calls == plain_out.calls
    assert compact.last_reevaluation == plain.last_reevaluation
    assert await compact_store.manifest_verdicts("m-1") == await plain_store.manifest_verdicts("m-1")
    # The comparison covers every kind of outcome, revocations included.
    events = [
        DecisionEvent.model_validate_json(value)
        for topic, records in compact_out.calls
        if topic == "decisions.v1"
        for _, value in records
    ]
    assert len(events) > 600
    assert {e.verdict.value for e in events} >= {"consent", "violation"}
    assert any(e.reasons[0] == "consent-revoked" for e in events)
    assert any(r.startswith("reservation:society:") for e in events for r in e.reasons)
    assert compact.last_reevaluation[1] > 0
    # Both held (and left out) the same records, before and after widening.
    assert compact_share == plain_share
    assert compact.registry_share() == plain.registry_share()
    kept, left_out = compact_share["hash_keyed"], compact_share["hash_keyed_left_out"]
    assert isinstance(kept, int)
    assert isinstance(left_out, int)
    assert kept > 0
    assert (left_out > 0) == sharded
