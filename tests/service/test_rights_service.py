"""The rights service on FastStream's in-memory test broker: items in, decisions and dead letters out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from faststream.kafka import TestKafkaBroker

from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import DeadLetter, Deal, DecisionEvent, Holder, ItemEvent, Reservation
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


def deal(**overrides: object) -> Deal:
    fields: dict[str, object] = {
        "id": "d1",
        "holder": "h",
        "licensee": "acme-ai",
        "match": {"domain": "photos.example"},
        "purposes": ["ai-training"],
        "territories": ["*"],
        "from": "2024-01-01T00:00:00Z",
        "until": "2099-01-01T00:00:00Z",
    }
    fields.update(overrides)
    return Deal.model_validate(fields)


async def test_revoking_a_deal_publishes_consent_revoked_for_items_decided_before(tmp_path: Path) -> None:
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=FakeRegistryStore())
    decisions: list[DecisionEvent] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    unlicensed = ITEM.model_copy(update={"license": None})  # only a deal can grant it
    other = ItemEvent.model_validate(
        {
            **unlicensed.model_dump(),
            "event_id": "ev-2",
            "item_id": "elsewhere",
            "url": "https://other.example/x",
        }
    )
    async with TestKafkaBroker(components.broker) as test_broker:
        await components.service.import_records([deal()])
        await test_broker.publish_batch(
            unlicensed.model_dump_json().encode(), other.model_dump_json().encode(), topic="items.v1"
        )
        assert [(d.item_id, d.verdict) for d in decisions] == [
            ("photo-1", "consent"),
            ("elsewhere", "violation"),
        ]

        await components.service.import_records([deal(revoked_at="2025-06-01T00:00:00Z")])
        assert components.service.last_reevaluation == (1, 1)  # only the photos.example item was touched
        revoked = decisions[-1]
        assert (revoked.item_id, revoked.verdict) == ("photo-1", "violation")
        assert revoked.reasons[:1] == ["consent-revoked"]
        assert "deal-revoked:d1" in revoked.reasons
        assert revoked.event_id != decisions[0].event_id
        assert revoked.registry_version == 2

        await components.service.import_records([deal(id="d2")])
        granted = decisions[-1]
        assert (granted.verdict, granted.reasons[:2]) == ("consent", ["consent-granted", "deal:d2"])
        assert len(decisions) == 4


async def test_a_reservation_by_identifier_revokes_consent_and_a_deal_by_md5_records_its_terms(
    tmp_path: Path,
) -> None:
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=FakeRegistryStore())
    decisions: list[DecisionEvent] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict[str, object]) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    book = ItemEvent.model_validate(
        {**ITEM.model_dump(), "url": "https://books.example/b.pdf", "identifiers": ["doi:10.1000/Book-1"]}
    )
    song = ItemEvent.model_validate(
        {**ITEM.model_dump(), "event_id": "ev-2", "item_id": "song", "license": None, "md5": "cd" * 16}
    )
    async with TestKafkaBroker(components.broker) as test_broker:
        await components.service.import_records(
            [
                Holder.model_validate({"id": "h", "name": "Holder"}),
                deal(
                    match={"md5": "cd" * 16},
                    attribution="Song: H",
                    compensation={"basis": "per-item", "amount": "0.01", "currency": "USD"},
                ),
            ]
        )
        await test_broker.publish_batch(
            book.model_dump_json().encode(), song.model_dump_json().encode(), topic="items.v1"
        )
        assert [(d.item_id, d.verdict, d.reasons[0]) for d in decisions] == [
            ("photo-1", "consent", "licence:CC-BY-4.0"),
            ("song", "consent", "deal:d1"),
        ]
        assert [(e.signal, e.value) for e in decisions[1].evidence[1:]] == [
            ("registry.deal.attribution", "Song: H"),
            ("registry.deal.compensation", "basis=per-item;amount=0.01;currency=USD"),
            ("manifest.md5", "cd" * 16),
        ]

        reservation = Reservation.model_validate(
            {
                "id": "r-doi",
                "holder": "h",
                "match": {"identifier": "doi:10.1000/BOOK-1"},
                "purposes": ["ai-training"],
                "from": "2024-01-01T00:00:00Z",
            }
        )
        await components.service.import_records([reservation])
        assert components.service.last_reevaluation == (1, 1)  # only the book carries the DOI
        revoked = decisions[-1]
        assert (revoked.item_id, revoked.verdict, revoked.reasons[:2]) == (
            "photo-1",
            "violation",
            ["consent-revoked", "reservation:r-doi"],
        )
