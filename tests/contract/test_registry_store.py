"""The registry store contract, run against SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consentry_rights.adapters.store import DecidedItem, RegistryStore, SqlRegistryStore, VerdictChange
from consentry_rights.domain.revocation import Selectors
from consentry_shared.contracts.v1 import ItemEvent, Verdict, Work, registry_record_adapter
from consentry_shared.db import create_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RegistryStore]:
    url = (
        f"sqlite:///{tmp_path / 'rights.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("fresh_database_url")
    )
    adapter = SqlRegistryStore.from_url(url)
    await adapter.initialise()
    yield adapter
    await adapter.close()


def work(n: int, licence: str = "MIT") -> Work:
    return Work(id=f"w{n}", holder="h", sha256=f"{n:064x}", license=licence)


def item(n: int, url: str, sha256: str | None = None) -> ItemEvent:
    return ItemEvent.model_validate(
        {
            "event_id": f"ev-{n}",
            "manifest_id": "m",
            "item_id": f"i{n}",
            "line": n + 1,
            "platform": "p",
            "purpose": "ai-training",
            "url": url,
            "sha256": sha256,
            "submitted_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
    )


async def test_an_import_is_one_new_version_and_re_importing_replaces(store: RegistryStore) -> None:
    assert await store.snapshot() == (0, [])
    assert await store.upsert([work(1), work(2)]) == 1
    assert await store.upsert([work(1, "CC0-1.0")]) == 2
    version, records = await store.snapshot()
    assert version == await store.version() == 2
    assert sorted((r.id, r.license) for r in records if isinstance(r, Work)) == [
        ("w1", "CC0-1.0"),
        ("w2", "MIT"),
    ]


async def test_aliases_round_trip(store: RegistryStore) -> None:
    deal = registry_record_adapter.validate_python(
        {
            "kind": "deal",
            "id": "d",
            "holder": "h",
            "licensee": "p",
            "match": {"domain": "x.example"},
            "purposes": ["ai-training"],
            "from": "2025-01-01T00:00:00Z",
            "until": "2026-01-01T00:00:00Z",
            "revoked_at": "2025-06-01T00:00:00Z",
        }
    )
    await store.upsert([deal])
    assert (await store.snapshot())[1] == [deal]


async def test_decided_items_are_found_by_hash_domain_subdomain_and_prefix(store: RegistryStore) -> None:
    items = [
        item(1, "https://photos.example/a.jpg"),
        item(2, "https://cdn.photos.example/b.jpg"),
        item(3, "https://notphotos.example/c.jpg"),
        item(4, "https://news.example/archive/2024/x"),
        item(5, "https://news.example/archive_old/y"),  # "_" must not act as a LIKE wildcard
        item(6, "https://elsewhere.example/z", sha256="ab" * 32),
    ]
    await store.remember_decisions([DecidedItem(i, Verdict.CONSENT, f"d-{i.event_id}") for i in items])
    await store.remember_decisions([DecidedItem(items[0], Verdict.VIOLATION, "d-new")])  # replaces

    async def found(selectors: Selectors) -> set[str]:
        return {d.item.item_id for d in await store.decided_items(selectors)}

    assert await found(Selectors(domains=frozenset({"photos.example"}))) == {"i1", "i2"}
    assert await found(Selectors(url_prefixes=frozenset({"https://news.example/archive/"}))) == {"i4"}
    assert await found(Selectors(sha256=frozenset({"ab" * 32}))) == {"i6"}
    assert await found(Selectors()) == set()
    latest = [
        d
        for d in await store.decided_items(Selectors(domains=frozenset({"photos.example"})))
        if d.item.item_id == "i1"
    ]
    assert [(d.verdict, d.decision_event_id) for d in latest] == [(Verdict.VIOLATION, "d-new")]


async def test_an_item_twice_in_one_batch_keeps_its_last_verdict(store: RegistryStore) -> None:
    twice = item(9, "https://twice.example/x")
    await store.remember_decisions(
        [DecidedItem(twice, Verdict.CONSENT, "first"), DecidedItem(twice, Verdict.VIOLATION, "second")]
    )
    found = await store.decided_items(Selectors(domains=frozenset({"twice.example"})))
    assert [(d.verdict, d.decision_event_id) for d in found] == [(Verdict.VIOLATION, "second")]


async def test_decided_items_stream_in_pages_each_item_once(store: RegistryStore) -> None:
    items = [item(n, f"https://paged.example/{n}") for n in range(23)]
    decoys = [item(100 + n, f"https://other.example/{n}") for n in range(5)]
    await store.remember_decisions(
        [DecidedItem(i, Verdict.CONSENT, f"d-{i.event_id}") for i in items + decoys]
    )
    selectors = Selectors(domains=frozenset({"paged.example"}))
    async with aclosing(store.decided_pages(selectors, size=5)) as pages:
        sizes_and_ids = [(len(page), [d.item.item_id for d in page]) async for page in pages]
    assert all(0 < size <= 5 for size, _ in sizes_and_ids)
    seen = [item_id for _, ids in sizes_and_ids for item_id in ids]
    assert sorted(seen) == sorted(i.item_id for i in items)  # each once, no decoy
    # An exact check after the query may thin a page out, never leave an empty one.
    identity = Selectors(md5=frozenset({"ab" * 16}))
    async with aclosing(store.decided_pages(identity, size=5)) as pages:
        assert [page async for page in pages] == []


async def test_remember_verdicts_changes_only_verdicts_of_remembered_items(store: RegistryStore) -> None:
    items = [item(n, f"https://verdicts.example/{n}") for n in range(4)]
    await store.remember_decisions([DecidedItem(i, Verdict.CONSENT, f"d{n}") for n, i in enumerate(items)])
    await store.remember_verdicts(
        [
            VerdictChange("ev-0", Verdict.UNKNOWN, "first"),
            VerdictChange("ev-0", Verdict.VIOLATION, "r0"),  # given twice: the last wins
            VerdictChange("ev-2", Verdict.VIOLATION, "r2"),
            VerdictChange("ev-never-decided", Verdict.VIOLATION, "r9"),  # ignored
        ]
    )
    found = {
        d.item.item_id: (d.verdict, d.decision_event_id, d.item)
        for d in await store.decided_items(Selectors(domains=frozenset({"verdicts.example"})))
    }
    assert {k: v[:2] for k, v in found.items()} == {
        "i0": (Verdict.VIOLATION, "r0"),
        "i1": (Verdict.CONSENT, "d1"),
        "i2": (Verdict.VIOLATION, "r2"),
        "i3": (Verdict.CONSENT, "d3"),
    }
    assert [found[i.item_id][2] for i in items] == items  # the items as they were stored
    assert await store.manifest_verdicts("m") == {"consent": 2, "violation": 2}
    assert await store.decided_items(Selectors(domains=frozenset({"never.example"}))) == []


async def test_verdicts_can_be_remembered_while_pages_are_still_streamed(store: RegistryStore) -> None:
    # As live revocation does: each page's new verdicts are stored before the next page is read.
    items = [item(n, f"https://stream.example/{n}") for n in range(12)]
    await store.remember_decisions([DecidedItem(i, Verdict.CONSENT, f"d{n}") for n, i in enumerate(items)])
    selectors = Selectors(domains=frozenset({"stream.example"}))
    seen: list[str] = []
    async with aclosing(store.decided_pages(selectors, size=4)) as pages:
        async for page in pages:
            assert all(d.verdict is Verdict.CONSENT for d in page)  # no item comes back changed
            seen += [d.item.event_id for d in page]
            await store.remember_verdicts(
                [VerdictChange(d.item.event_id, Verdict.VIOLATION, "r") for d in page]
            )
    assert sorted(seen) == sorted(i.event_id for i in items)
    assert await store.manifest_verdicts("m") == {"violation": 12}


async def test_a_manifest_counts_its_decided_items_by_current_verdict(store: RegistryStore) -> None:
    items = [item(n, f"https://count.example/{n}") for n in range(5)]
    other = ItemEvent.model_validate(
        {**item(99, "https://count.example/99").model_dump(), "manifest_id": "m2"}
    )
    await store.remember_decisions(
        [DecidedItem(i, Verdict.CONSENT, f"d-{i.event_id}") for i in [*items, other]]
    )
    await store.remember_decisions([DecidedItem(items[0], Verdict.VIOLATION, "revoked")])
    assert await store.manifest_verdicts("m") == {"consent": 4, "violation": 1}
    assert await store.manifest_verdicts("m2") == {"consent": 1}
    assert await store.manifest_verdicts("unknown") == {}


async def test_a_database_from_before_manifest_counts_gains_the_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE rights_decided_item (item_event_id VARCHAR PRIMARY KEY, host VARCHAR NOT NULL, "
            "url VARCHAR NOT NULL, sha256 VARCHAR, item TEXT NOT NULL, verdict VARCHAR NOT NULL, "
            "decision_event_id VARCHAR NOT NULL)"
        )
    await engine.dispose()
    store = SqlRegistryStore.from_url(url)
    await store.initialise()
    try:
        await store.remember_decisions([DecidedItem(item(1, "https://old.example/1"), Verdict.CONSENT, "d")])
        assert await store.manifest_verdicts("m") == {"consent": 1}
    finally:
        await store.close()


async def test_decided_items_are_found_by_md5_and_identifier(store: RegistryStore) -> None:
    def with_ids(n: int, **fields: object) -> ItemEvent:
        return item(n, f"https://shelf.example/{n}").model_copy(update=fields)

    book = ItemEvent.model_validate(
        {**item(1, "https://shelf.example/1").model_dump(mode="json"), "identifiers": ["isbn:0-306-40615-2"]}
    )
    song = ItemEvent.model_validate(
        {**item(2, "https://shelf.example/2").model_dump(mode="json"), "md5": "AB" * 16}
    )
    # The identifier's digits inside another field must not make a match (the JSON search is
    # narrowed by an exact check).
    decoy = with_ids(3, title="isbn:9780306406157 " + "ab" * 16)
    other = ItemEvent.model_validate(
        {**item(4, "https://shelf.example/4").model_dump(mode="json"), "identifiers": ["doi:10.1/x"]}
    )
    decided = [DecidedItem(i, Verdict.CONSENT, f"d-{i.event_id}") for i in (book, song, decoy, other)]
    # One item remembered with the raw bytes it was consumed as (upper-case md5 on the wire).
    raw = song.model_dump_json(exclude_none=True).replace("ab" * 16, "AB" * 16).encode()
    decided[1] = DecidedItem(song, Verdict.CONSENT, "d-song", raw=raw)
    await store.remember_decisions(decided)

    async def found(selectors: Selectors) -> set[str]:
        return {d.item.item_id for d in await store.decided_items(selectors)}

    assert await found(Selectors(identifiers=frozenset({"isbn:9780306406157"}))) == {"i1"}
    assert await found(Selectors(md5=frozenset({"ab" * 16}))) == {"i2"}
    assert await found(
        Selectors(identifiers=frozenset({"doi:10.1/x"}), domains=frozenset({"none.example"}))
    ) == {"i4"}
    assert await found(Selectors(md5=frozenset({"cd" * 16}), identifiers=frozenset({"doi:10.2/y"}))) == set()

    # A direct items.v1 producer's spelling, kept as consumed: an ISBN-10 with hyphens, a DOI
    # behind a resolver in upper case. The item is still found by the canonical identifiers.
    direct = ItemEvent.model_validate(
        {
            **item(5, "https://shelf.example/5").model_dump(mode="json"),
            "identifiers": ["isbn:0-8044-2957-X", "doi:https://doi.org/10.5/ABC"],
        }
    )
    raw_direct = direct.model_dump_json(exclude_none=True)
    raw_direct = raw_direct.replace("isbn:9780804429573", "isbn:0-8044-2957-X")
    raw_direct = raw_direct.replace("doi:10.5/abc", "doi:https://doi.org/10.5/ABC")
    await store.remember_decisions(
        [DecidedItem(direct, Verdict.CONSENT, "d-direct", raw=raw_direct.encode())]
    )
    assert await found(Selectors(identifiers=frozenset({"isbn:9780804429573"}))) == {"i5"}
    assert await found(Selectors(identifiers=frozenset({"doi:10.5/abc"}))) == {"i5"}


async def test_new_record_kinds_and_fields_round_trip(store: RegistryStore) -> None:
    records = [
        registry_record_adapter.validate_python(body)
        for body in (
            {"kind": "holder", "id": "h", "name": "Holder", "creator_ids": ["orcid:0000-0002-1825-0097"]},
            {"kind": "work", "id": "w", "holder": "h", "doi": "10.1/X", "md5": "cd" * 16, "license": "MIT"},
            {
                "kind": "reservation",
                "id": "r",
                "holder": "h",
                "match": {"identifier": "isrc:USRC17607839"},
                "purposes": ["all"],
                "territories": ["FR"],
                "from": "2025-01-01T00:00:00Z",
            },
            {
                "kind": "deal",
                "id": "d",
                "holder": "h",
                "licensee": "p",
                "match": {"md5": "cd" * 16},
                "purposes": ["ai-training"],
                "from": "2025-01-01T00:00:00Z",
                "until": "2026-01-01T00:00:00Z",
                "attribution": True,
                "compensation": {"basis": "revenue-share", "amount": "2.5"},
            },
        )
    ]
    await store.upsert(records)
    _version, stored = await store.snapshot()
    assert sorted(stored, key=lambda r: r.kind) == sorted(records, key=lambda r: r.kind)
