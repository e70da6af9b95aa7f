"""The rights service with a sharded registry view, on FastStream's in-memory broker.

The service is given an assignment as its rebalance listener would give it; items whose hash is
keyed to a partition outside that share must still be decided against their records (the view
widens first), and live revocation must see records of every partition.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from aiokafka import TopicPartition
from faststream.kafka import TestKafkaBroker

from consentry_rights.adapters.store import RecordQuery
from consentry_rights.app import build
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import Deal, DecisionEvent, ItemEvent, Reservation
from consentry_shared.kafka import InRecord, partition_for
from tests.service.fakes import FakeRegistryStore

PARTITIONS = 6
SHAS = [hashlib.sha256(f"work-{n}".encode()).hexdigest() for n in range(60)]


def partition(sha: str) -> int:
    return partition_for(sha.encode(), PARTITIONS)


def hash_reservation(n: int) -> Reservation:
    return Reservation.model_validate(
        {
            "id": f"res-{n}",
            "holder": "h",
            "match": {"sha256": SHAS[n]},
            "purposes": ["ai-training"],
            "from": "2024-01-01T00:00:00Z",
        }
    )


def item(
    n: int, sha: str, *, url: str = "https://photos.example/a.jpg", licence: str | None = "CC0-1.0"
) -> ItemEvent:
    return ItemEvent(
        event_id=f"ev-{n}",
        manifest_id="m-1",
        item_id=f"item-{n}",
        line=n + 1,
        platform="acme-ai",
        purpose="ai-training",
        url=url,
        sha256=sha,
        license=licence,
        submitted_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


async def test_the_view_holds_its_share_and_an_item_outside_it_is_still_decided_by_its_record(
    tmp_path: Path,
) -> None:
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=FakeRegistryStore())
    service = components.service
    decisions: list[DecisionEvent] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict[str, object]) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    domain_wide = Reservation.model_validate(
        {
            "id": "dom",
            "holder": "h",
            "match": {"domain": "blocked.example"},
            "purposes": ["ai-training"],
            "from": "2024-01-01T00:00:00Z",
        }
    )
    held = {0, 1, 2}
    mine = [n for n, sha in enumerate(SHAS) if partition(sha) in held]
    theirs = [n for n, sha in enumerate(SHAS) if partition(sha) not in held]
    assert mine and theirs
    async with TestKafkaBroker(components.broker) as test_broker:
        await service.import_records([hash_reservation(n) for n in range(len(SHAS))] + [domain_wide])
        assert service.registry_share()["hash_keyed"] == len(SHAS)  # no assignment yet: everything

        await service.assign(PARTITIONS, held)
        share = service.registry_share()
        assert share["held"] == sorted(held)
        assert share["hash_keyed"] == len(mine)
        assert share["hash_keyed_left_out"] == len(theirs)
        assert share["records"] == len(mine) + 1  # and the domain-wide reservation

        # One of ours, one keyed elsewhere (a producer that picked the partition itself), one
        # domain-reserved item without a hash.
        batch = [
            item(1, SHAS[mine[0]]),
            item(2, SHAS[theirs[0]]),
            item(3, SHAS[mine[1]], url="https://blocked.example/x"),
        ]
        await test_broker.publish_batch(*(i.model_dump_json().encode() for i in batch), topic="items.v1")

    verdicts = {d.item_id: (d.verdict, d.reasons[0]) for d in decisions}
    assert verdicts == {
        "item-1": ("violation", f"reservation:res-{mine[0]}"),
        "item-2": ("violation", f"reservation:res-{theirs[0]}"),
        "item-3": ("violation", f"reservation:res-{mine[1]}"),
    }
    # The share was widened by the stray item's partition, and stays so until the next assignment.
    widened = service.registry_share()
    assert widened["held"] == sorted(held | {partition(SHAS[theirs[0]])})
    await service.assign(PARTITIONS, held)
    assert service.registry_share()["held"] == sorted(held)


async def test_revocation_sees_the_hash_keyed_deals_of_other_partitions(tmp_path: Path) -> None:
    """An item granted by a hash-only deal keyed to another instance's partition stays consented
    when a domain reservation covering it arrives: the deal still beats the reservation. With
    only this instance's share, the re-decision would miss the deal and revoke it."""
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=FakeRegistryStore())
    service = components.service
    decisions: list[DecisionEvent] = []

    @components.broker.subscriber("decisions.v1")
    async def collect(body: dict[str, object]) -> None:
        decisions.append(DecisionEvent.model_validate(body))

    sha = SHAS[0]
    deal = Deal.model_validate(
        {
            "id": "deal-hash",
            "holder": "h",
            "licensee": "acme-ai",
            "match": {"sha256": sha},
            "purposes": ["ai-training"],
            "from": "2024-01-01T00:00:00Z",
            "until": "2099-01-01T00:00:00Z",
        }
    )
    licensed = item(1, sha, licence=None)
    async with TestKafkaBroker(components.broker) as test_broker:
        await service.import_records([deal])
        await test_broker.publish_batch(licensed.model_dump_json().encode(), topic="items.v1")
        assert [(d.item_id, d.verdict) for d in decisions] == [("item-1", "consent")]

        # This instance now holds every partition but the deal's.
        await service.assign(PARTITIONS, set(range(PARTITIONS)) - {partition(sha)})
        assert service.registry_share()["hash_keyed"] == 0
        await service.import_records(
            [
                Reservation.model_validate(
                    {
                        "id": "dom",
                        "holder": "h",
                        "match": {"domain": "photos.example"},
                        "purposes": ["ai-training"],
                        "from": "2024-01-01T00:00:00Z",
                    }
                )
            ]
        )
    assert service.last_reevaluation == (1, 0)  # re-decided, still consent: nothing published
    assert [(d.item_id, d.verdict) for d in decisions] == [("item-1", "consent")]
    assert service.registry_share()["hash_keyed"] == 0  # the widening for revocation is not kept


async def test_sharding_off_holds_everything_whatever_the_assignment(tmp_path: Path) -> None:
    settings = RightsSettings(data_dir=tmp_path, telemetry=False, shard_registry=False)
    components = build(settings, store=FakeRegistryStore())
    assert components.subscriber is not None
    async with TestKafkaBroker(components.broker):
        await components.service.import_records([hash_reservation(n) for n in range(len(SHAS))])
    share = components.service.registry_share()
    assert share["partitions"] is None and share["records"] == len(SHAS)


class GatedStore(FakeRegistryStore):
    """A store whose page reads wait for ``gate``: a registry that takes long to read."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def records_page(
        self, as_of_version: int, query: RecordQuery, *, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, str]]:
        await self.gate.wait()
        return await super().records_page(as_of_version, query, after=after, limit=limit)


class _Consumer:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))


async def test_the_listener_returns_before_the_rebuild_and_the_next_batch_waits_for_it(
    tmp_path: Path,
) -> None:
    """aiokafka sends no heartbeats while the listener runs, so it must not wait for a long
    registry read; the batch that follows must."""
    store = GatedStore()
    components = build(RightsSettings(data_dir=tmp_path, telemetry=False), store=store)
    service, listener = components.service, components.share_listener
    assert listener is not None
    listener.subscriber = SimpleNamespace(consumer=_Consumer())
    held = {0, 1, 2}
    theirs = next(n for n, sha in enumerate(SHAS) if partition(sha) not in held)
    mine = next(n for n, sha in enumerate(SHAS) if partition(sha) in held)
    async with TestKafkaBroker(components.broker):
        await service.import_records([hash_reservation(n) for n in range(len(SHAS))])
        store.gate.clear()
        await asyncio.wait_for(
            listener.on_partitions_assigned({TopicPartition("items.v1", p) for p in held}), timeout=10
        )
        assert service.registry_share()["held"] is None  # not rebuilt yet: the read is held up
        batch = [item(1, SHAS[mine]), item(2, SHAS[theirs])]
        records = [
            InRecord(
                "items.v1",
                partition(i.sha256 or ""),
                n,
                (i.sha256 or "").encode(),
                i.model_dump_json().encode(),
                {},
            )
            for n, i in enumerate(batch)
        ]
        deciding = asyncio.create_task(service.decide_records(records))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not deciding.done()  # the batch waits for the share's view
        store.gate.set()
        assert await asyncio.wait_for(deciding, timeout=10) == 2
        now_held = service.registry_share()["held"]
        assert isinstance(now_held, list) and set(now_held) >= held
        await listener.close()
