"""The rights service on FastStream's in-memory test broker: items in, decisions and dead letters out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import DeadLetter, DecisionEvent, ItemEvent, Reservation
from faststream.kafka import TestKafkaBroker

from tests.service.fakes import FakeRegistryStore

ITEM = ItemEvent(
    event_id="ev-1",
    manifest_id="m-1",
    item_id="photo-1",
    line=2,
    platform="acme-ai",
    purpose="ai-training",
    url="https://photos.example/a.jpg",
    license="CC-BY-4.0",
    submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
)


async def test_items_become_decisions_and_poison_goes_to_the_dead_letter_topic(tmp_path: Path) -> None:
    store = FakeRegistryStore()
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=store)
    broker = components.broker
    decisions: list[DecisionEvent] = []
    letters: list[DeadLetter] = []

    @broker.subscriber("decisions.v1")
    async def collect(body: dict) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    @broker.subscriber("items.v1.dlq")
    async def collect_dead(body: dict) -> None:
        letters.append(DeadLetter.model_validate(body))

    async with TestKafkaBroker(broker) as test_broker:
        await components.service.import_records(
            [
                Reservation.model_validate(
                    {
                        "id": "r1",
                        "holder": "h",
                        "match": {"domain": "photos.example"},
                        "purposes": ["ai-training"],
                        "from": "2024-01-01T00:00:00Z",
                    }
                )
            ]
        )
        await test_broker.publish_batch(
            ITEM.model_dump_json().encode(),
            b'{"event_id": "broken"}',
            topic="items.v1",
        )

    assert len(decisions) == 1
    decision = decisions[0]
    assert decision.verdict == "violation"
    assert decision.reasons[0] == "reservation:r1"
    assert decision.registry_version == 1
    assert decision.event_id != ITEM.event_id
    assert [e.signal for e in decision.evidence if e.ref == "r1"] == ["registry.reservation"]
    assert len(letters) == 1
    assert letters[0].source_topic == "items.v1"
    assert "invalid items.v1 message" in letters[0].reason
    assert json.loads(letters[0].payload) == {"event_id": "broken"}
