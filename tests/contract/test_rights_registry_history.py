"""The bitemporal registry store contract (every version kept, snapshots as of a version or a
recorded time, ownership, listings, evidence files), run against SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consentry_rights.adapters.store import (
    EvidenceFile,
    RecordOwnedElsewhere,
    RecordQuery,
    RegistryStore,
    SqlRegistryStore,
)
from consentry_rights.domain.importing import RegistryRecord
from consentry_shared.contracts.v1 import Deal, Reservation, Work, registry_record_adapter


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlRegistryStore]:
    url = (
        f"sqlite:///{tmp_path / 'rights.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_database_url")
    )
    adapter = SqlRegistryStore.from_url(url)
    await adapter.initialise()
    yield adapter
    await adapter.close()


def work(n: int, licence: str = "MIT", holder: str = "h") -> Work:
    return Work(id=f"w{n}", holder=holder, sha256=f"{n:064x}", license=licence)


def deal(record_id: str, licensee: str, holder: str = "h", **extra: str) -> Deal:
    return Deal.model_validate(
        {
            "id": record_id,
            "holder": holder,
            "licensee": licensee,
            "match": {"domain": "x.example"},
            "purposes": ["ai-training"],
            "from": "2025-01-01T00:00:00Z",
            "until": "2026-01-01T00:00:00Z",
            **extra,
        }
    )


def reservation(record_id: str, holder: str = "h", until: str | None = None) -> Reservation:
    fields = {
        "id": record_id,
        "holder": holder,
        "match": {"domain": "x.example"},
        "purposes": ["ai-training"],
        "from": "2024-01-01T00:00:00Z",
    }
    if until:
        fields["until"] = until
    return Reservation.model_validate(fields)


def keyed(records: list[RegistryRecord]) -> dict[tuple[str, str], RegistryRecord]:
    return {(r.kind, r.id): r for r in records}


async def test_every_import_is_a_version_and_each_can_be_read_back(store: RegistryStore) -> None:
    assert await store.upsert([work(1)]) == 1
    assert await store.upsert([work(2)]) == 2
    assert await store.upsert([work(1, "CC0-1.0")]) == 3

    assert await store.snapshot(0) == (0, [])
    v1 = await store.snapshot(1)
    assert (v1[0], keyed(v1[1])) == (1, {("work", "w1"): work(1)})
    v2 = await store.snapshot(2)
    assert (v2[0], keyed(v2[1])) == (2, {("work", "w1"): work(1), ("work", "w2"): work(2)})
    current = await store.snapshot()
    assert (current[0], keyed(current[1])) == (
        3,
        {("work", "w1"): work(1, "CC0-1.0"), ("work", "w2"): work(2)},
    )
    assert keyed((await store.snapshot(3))[1]) == keyed(current[1])
    beyond = await store.snapshot(99)  # a version not reached yet: the current registry, numbered as such
    assert (beyond[0], keyed(beyond[1])) == (3, keyed(current[1]))
    # Once v3 is history too, reading it must leave out the version v3 replaced.
    await store.upsert([work(3)])
    version, at_v3 = await store.snapshot(3)
    assert version == 3
    assert sorted((r.id, r.license) for r in at_v3 if isinstance(r, Work)) == [
        ("w1", "CC0-1.0"),
        ("w2", "MIT"),
    ]


async def test_a_snapshot_as_of_a_recorded_time(store: RegistryStore) -> None:
    await store.upsert([work(1)])
    await store.upsert([work(1, "CC0-1.0")])
    first, second = await store.history("work", "w1")
    assert first.recorded_at <= second.recorded_at
    assert await store.version_at(first.recorded_at - timedelta(seconds=1)) == 0
    assert await store.version_at(first.recorded_at) == 1
    assert await store.version_at(datetime.now(UTC) + timedelta(days=1)) == 2
    if first.recorded_at < second.recorded_at:
        assert await store.snapshot(as_of=first.recorded_at) == (1, [work(1)])
    assert await store.snapshot(as_of=first.recorded_at - timedelta(seconds=1)) == (0, [])
    assert await store.snapshot(as_of=second.recorded_at) == (2, [work(1, "CC0-1.0")])
    with pytest.raises(ValueError, match="not both"):
        await store.snapshot(1, as_of=second.recorded_at)


async def test_history_lists_each_version_and_what_superseded_it(store: RegistryStore) -> None:
    await store.upsert([deal("d", "acme")])
    await store.upsert([work(5)])
    await store.upsert([deal("d", "acme", revoked_at="2025-06-01T00:00:00Z")])
    versions = await store.history("deal", "d")
    assert [(v.registry_version, v.superseded_in) for v in versions] == [(1, 3), (3, None)]
    assert [v.record for v in versions] == [
        deal("d", "acme"),
        deal("d", "acme", revoked_at="2025-06-01T00:00:00Z"),
    ]
    assert all(v.recorded_at.tzinfo is not None for v in versions)
    assert await store.history("deal", "missing") == []


async def test_an_owner_cannot_replace_another_holders_record_and_nothing_is_stored(
    store: RegistryStore,
) -> None:
    await store.upsert([work(1, holder="alice")], owner="alice")
    evidence = EvidenceFile("ab" * 32, "robots.txt", "https://x.example", b"User-agent: *", datetime.now(UTC))
    with pytest.raises(RecordOwnedElsewhere) as raised:
        await store.upsert(
            [work(2, holder="bob"), work(1, "CC0-1.0", holder="bob")], owner="bob", evidence=evidence
        )
    assert (raised.value.kind, raised.value.record_id, raised.value.owner) == ("work", "w1", "alice")
    assert await store.version() == 1
    assert await store.snapshot() == (1, [work(1, holder="alice")])
    assert [v.record for v in await store.history("work", "w1")] == [work(1, holder="alice")]
    assert await store.history("work", "w2") == []
    assert await store.evidence("ab" * 32) is None
    # The owner itself may change it; an admin import (no owner) may change anything.
    assert await store.upsert([work(1, "CC0-1.0", holder="alice")], owner="alice") == 2
    assert await store.upsert([work(1, "MIT", holder="bob")]) == 3


async def test_listing_pages_and_filters_at_a_version(store: RegistryStore) -> None:
    await store.upsert([deal("d1", "acme"), deal("d2", "other", holder="h2"), reservation("r1"), work(1)])
    await store.upsert([reservation("r2", holder="h2", until="2024-06-01T00:00:00Z"), work(1, "CC0-1.0")])

    async def ids(version: int, query: RecordQuery, page: int = 2) -> list[str]:
        found: list[str] = []
        after: tuple[str, str] | None = None
        while rows := await store.records_page(version, query, after=after, limit=page):
            found += [f"{kind}:{rid}" for kind, rid, _ in rows]
            after = rows[-1][0], rows[-1][1]
        return found

    everything = ["deal:d1", "deal:d2", "reservation:r1", "reservation:r2", "work:w1"]
    assert await ids(2, RecordQuery()) == everything
    assert await ids(1, RecordQuery()) == ["deal:d1", "deal:d2", "reservation:r1", "work:w1"]
    assert await ids(2, RecordQuery(kind="reservation")) == ["reservation:r1", "reservation:r2"]
    assert await ids(2, RecordQuery(holder="h2")) == ["deal:d2", "reservation:r2"]
    assert await ids(2, RecordQuery(deal_licensee="acme")) == [
        "deal:d1",
        "reservation:r1",
        "reservation:r2",
        "work:w1",
    ]
    assert await ids(2, RecordQuery(deal_holder="h2")) == [
        "deal:d2",
        "reservation:r1",
        "reservation:r2",
        "work:w1",
    ]
    in_force = RecordQuery(valid_at=datetime(2024, 7, 1, tzinfo=UTC))  # d1, d2 not yet; r2 over
    assert await ids(2, in_force) == ["reservation:r1", "work:w1"]
    assert await ids(2, RecordQuery(valid_at=datetime(2025, 3, 1, tzinfo=UTC)), page=10) == [
        "deal:d1",
        "deal:d2",
        "reservation:r1",
        "work:w1",
    ]

    # Each line is the record as an import line, at the version asked for.
    lines = {
        rid: body
        for _, rid, body in await store.records_page(1, RecordQuery(kind="work"), after=None, limit=9)
    }
    assert registry_record_adapter.validate_json(lines["w1"]) == work(1)
    lines = {
        rid: body
        for _, rid, body in await store.records_page(2, RecordQuery(kind="work"), after=None, limit=9)
    }
    assert registry_record_adapter.validate_json(lines["w1"]) == work(1, "CC0-1.0")


async def test_evidence_files_are_kept_with_the_import_that_used_them(store: RegistryStore) -> None:
    body = b"User-agent: GPTBot\nDisallow: /\n\x00binary-safe"
    digest = hashlib.sha256(body).hexdigest()
    moment = datetime(2026, 3, 1, 12, tzinfo=UTC)
    record = reservation("robots", holder="h").model_copy(update={"evidence_sha256": digest})
    await store.upsert(
        [record], evidence=EvidenceFile(digest, "robots.txt", "https://x.example", body, moment)
    )
    found = await store.evidence(digest)
    assert found == EvidenceFile(digest, "robots.txt", "https://x.example", body, moment)
    assert (await store.snapshot())[1] == [record]
    await store.upsert(
        [record], evidence=EvidenceFile(digest, "robots.txt", "https://x.example", body, moment)
    )
    assert await store.evidence("cd" * 32) is None


async def test_origins_are_registered_to_one_holder(store: RegistryStore) -> None:
    assert await store.origin_holder("https://x.example") is None
    await store.register_origin("https://x.example", "alice")
    await store.register_origin("https://x.example", "bob")
    assert await store.origin_holder("https://x.example") == "bob"
    assert await store.origin_holder("http://x.example") is None


async def test_a_registry_stored_before_versions_were_kept_gets_its_history(store: SqlRegistryStore) -> None:
    await store.upsert([work(1), work(2)])
    async with store._engine.begin() as conn:  # what an older release left behind: no history rows
        await conn.exec_driver_sql("DELETE FROM rights_record_version")
    await store.initialise()
    assert [v.record for v in await store.history("work", "w1")] == [work(1)]
    assert keyed((await store.snapshot(1))[1]) == {("work", "w1"): work(1), ("work", "w2"): work(2)}


async def test_listing_by_id_prefix_treats_like_wildcards_literally(store: RegistryStore) -> None:
    await store.upsert(
        [reservation("robots.txt:https://a_b.example/"), reservation("robots.txt:https://axb.example/")]
    )
    await store.upsert(
        [reservation("robots.txt:https://a_b.example/x/"), reservation("ai.txt:https://a_b.example/")]
    )
    rows = await store.records_page(
        2, RecordQuery(id_prefix="robots.txt:https://a_b.example/"), after=None, limit=10
    )
    assert [rid for _, rid, _ in rows] == [
        "robots.txt:https://a_b.example/",
        "robots.txt:https://a_b.example/x/",
    ]
