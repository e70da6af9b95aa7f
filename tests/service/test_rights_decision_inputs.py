"""A published decision carries the item's inputs, so its ledger entry can be replayed alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from faststream.kafka import TestKafkaBroker

from consentry_rights.app import build
from consentry_rights.domain import RegistryView
from consentry_rights.domain.replay import replay_decision
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import DecisionEvent, ItemEvent, LedgerEntry
from tests.service.fakes import FakeRegistryStore

ITEM = ItemEvent(
    event_id="ev-1",
    manifest_id="m-1",
    item_id="photo-1",
    line=2,
    platform="acme-ai",
    purpose="ai-training",
    territory="FR",
    jurisdiction="FR",
    commercial=False,
    url="https://photos.example/a.jpg",
    sha256="ab" * 32,
    license="CC-BY-NC-4.0",
    submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
    evidence={"headers": '{"x-robots-tag":["noindex"]}'},
)


async def test_the_decision_carries_the_item_inputs_and_replays_from_them(tmp_path: Path) -> None:
    settings = RightsSettings(data_dir=tmp_path, telemetry=False)
    components = build(settings, store=FakeRegistryStore())
    published: list[dict[str, object]] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict[str, object]) -> None:
        published.append(body)

    async with TestKafkaBroker(components.broker) as test_broker:
        await test_broker.publish_batch(ITEM.model_dump_json().encode(), topic="items.v1")

    [body] = published
    decision = DecisionEvent.model_validate(body)
    assert (decision.sha256, decision.license) == (ITEM.sha256, ITEM.license)
    assert (decision.territory, decision.jurisdiction, decision.commercial) == ("FR", "FR", False)

    # The ledger copies them; the entry alone decides the same again.
    entry = LedgerEntry(
        index=0,
        **decision.model_dump(exclude={"item_event_id"}),
        topic="decisions.v1",
        partition=0,
        offset=0,
    )
    replayed = replay_decision(entry, RegistryView(version=decision.registry_version), settings.policy())
    assert (replayed.verdict, list(replayed.reasons)) == (decision.verdict, decision.reasons)
    assert decision.reasons[0] == "licence:CC-BY-NC-4.0"  # non-commercial use, as recorded
