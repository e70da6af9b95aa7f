"""The ledger store contract, run against every adapter: SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from consentry_ledger.adapters.sql import WRITER_ROLE, SqlLedgerStore
from consentry_ledger.adapters.store import AppendConflict, LedgerStore
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_shared.contracts.v1 import DecisionEvent
from consentry_shared.db import create_engine
from consentry_shared.tlog import CompactRange, Signer

SIGNER = Signer.generate("contract.example/ledger")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # A sync fixture: pytest-asyncio cannot set up the async ``fresh_database_url`` on demand
    # from inside another async fixture.
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return str(request.getfixturevalue("fresh_database_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SqlLedgerStore]:
    adapter = SqlLedgerStore.from_url(store_url)
    await adapter.initialise()
    yield adapter
    await adapter.close()


def batch(start: int, count: int, manifest: str = "m-1", partition: int = 0) -> list[PositionedDecision]:
    return [
        PositionedDecision(
            DecisionEvent(
                event_id=f"ev-{n}",
                item_event_id=f"it-{n}",
                manifest_id=manifest,
                item_id=f"i-{n}",
                platform="p",
                purpose="ai-training",
                url=f"https://x.example/{n}",
                verdict="consent",
                reasons=["licence:MIT"],
                evidence=[],
                policy_version="p/1",
                registry_version=1,
                decided_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
            "decisions.v1",
            partition,
            n,
        )
        for n in range(start, start + count)
    ]


async def append(store: LedgerStore, decisions: list[PositionedDecision], tree: CompactRange) -> CompactRange:
    known = await store.known_event_ids([d.decision.event_id for d in decisions])
    plan = sequence_batch(decisions, tree=tree, known_event_ids=known, origin="o", signer=SIGNER)
    await store.append(plan, base_size=tree.size)
    return plan.tree


async def test_append_then_read_back(store: LedgerStore) -> None:
    assert await store.latest_checkpoint() is None
    tree = await append(store, batch(0, 3), CompactRange())
    tree = await append(store, batch(3, 2, manifest="m-2", partition=1), tree)
    latest = await store.latest_checkpoint()
    assert latest is not None
    assert latest.size == 5
    assert CompactRange.from_bytes(latest.tree).root() == tree.root()
    leaves = await store.leaves(0, 10)
    assert len(leaves) == 5
    assert b'"index":4' in leaves[4]
    assert [e.index for e in await store.manifest_entries("m-2")] == [3, 4]
    assert await store.manifest_count("m-1") == 3
    assert await store.offsets() == {("decisions.v1", 0): 2, ("decisions.v1", 1): 4}


async def test_known_event_ids_makes_redelivery_a_no_op(store: LedgerStore) -> None:
    tree = await append(store, batch(0, 3), CompactRange())
    assert await store.known_event_ids(["ev-1", "ev-9"]) == {"ev-1"}
    tree = await append(store, batch(1, 4), tree)
    assert tree.size == 5
    assert len(await store.leaves(0, 100)) == 5


async def test_append_on_a_stale_size_is_refused_and_writes_nothing(store: LedgerStore) -> None:
    tree = await append(store, batch(0, 2), CompactRange())
    stale = sequence_batch(batch(2, 1), tree=CompactRange(), known_event_ids=set(), origin="o", signer=SIGNER)
    with pytest.raises(AppendConflict):
        await store.append(stale, base_size=0)
    assert len(await store.leaves(0, 100)) == tree.size == 2


async def test_concurrent_writers_cannot_both_win(store: LedgerStore) -> None:
    tree = await append(store, batch(0, 1), CompactRange())
    plans = [
        sequence_batch(batch(10 * k, 2), tree=tree, known_event_ids=set(), origin="o", signer=SIGNER)
        for k in (1, 2)
    ]
    results = await asyncio.gather(
        *(store.append(p, base_size=tree.size) for p in plans), return_exceptions=True
    )
    assert sum(1 for r in results if r is None) == 1
    assert [type(r) for r in results if r is not None] == [AppendConflict]
    assert len(await store.leaves(0, 100)) == 3


async def test_the_outbox_mark_moves_forward(store: LedgerStore) -> None:
    assert await store.published_size() == 0
    await store.mark_published(7)
    assert await store.published_size() == 7


# The layout of ledger_entry before event_id and verdict were dropped (they repeat the leaf).
_LEGACY_ENTRY_TABLE = """
CREATE TABLE ledger_entry (
    idx {index_type} NOT NULL PRIMARY KEY,
    event_id VARCHAR NOT NULL,
    event_key {blob} NOT NULL UNIQUE,
    manifest_id VARCHAR NOT NULL,
    item_id VARCHAR NOT NULL,
    verdict VARCHAR NOT NULL,
    leaf {blob} NOT NULL,
    leaf_hash {blob} NOT NULL
)
"""


async def test_a_log_made_with_the_event_id_and_verdict_columns_keeps_filling_them(store_url: str) -> None:
    engine = create_engine(store_url)
    sqlite = store_url.startswith("sqlite")
    ddl = _LEGACY_ENTRY_TABLE.format(
        index_type="INTEGER" if sqlite else "BIGINT", blob="BLOB" if sqlite else "BYTEA"
    )
    async with engine.begin() as conn:
        await conn.execute(text(ddl))
    await engine.dispose()
    store = SqlLedgerStore.from_url(store_url)
    await store.initialise()
    try:
        tree = await append(store, batch(0, 3), CompactRange())
        tree = await append(store, batch(2, 3), tree)  # ev-2 is a repeat: known, skipped
        assert tree.size == 5
        assert await store.index_of_event("ev-4") == 4
        assert await store.known_event_ids(["ev-0", "ev-9"]) == {"ev-0"}
        repeat = sequence_batch(batch(1, 1), tree=tree, known_event_ids=set(), origin="o", signer=SIGNER)
        with pytest.raises(AppendConflict):
            await store.append(repeat, base_size=tree.size)
    finally:
        await store.close()
    engine = create_engine(store_url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT idx, event_id, verdict FROM ledger_entry ORDER BY idx"))
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [(n, f"ev-{n}", "consent") for n in range(5)]


async def test_a_repeated_event_id_is_refused_by_the_store_itself(store: LedgerStore) -> None:
    tree = await append(store, batch(0, 2), CompactRange())
    repeat = sequence_batch(batch(1, 2), tree=tree, known_event_ids=set(), origin="o", signer=SIGNER)
    with pytest.raises(AppendConflict):
        await store.append(repeat, base_size=tree.size)
    assert len(await store.leaves(0, 100)) == 2
    assert await store.index_of_event("ev-1") == 1
    assert await store.index_of_event("ev-2") is None


# --- append-only ------------------------------------------------------------------------------


@pytest.fixture
async def raw(store_url: str) -> AsyncIterator[AsyncEngine]:
    """A second connection to the same database, as someone with direct database access."""
    engine = create_engine(store_url)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET item_id = 'forged' WHERE idx = 1",
        "UPDATE ledger_entry SET leaf = leaf",
        "DELETE FROM ledger_entry WHERE idx = 2",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_checkpoint SET note = 'forged'",
        "DELETE FROM ledger_checkpoint",
        "UPDATE ledger_cosignature SET line = 'forged'",
        "DELETE FROM ledger_cosignature",
    ],
)
async def test_updates_and_deletes_of_the_log_are_refused(
    store: SqlLedgerStore, raw: AsyncEngine, statement: str
) -> None:
    tree = await append(store, batch(0, 3), CompactRange())
    assert await store.add_cosignature(3, b"\x01\x02\x03\x04", "w", "— w AQIDBA==")
    with pytest.raises(DBAPIError, match="append-only"):
        async with raw.begin() as conn:
            await conn.execute(text(statement))
    assert len(await store.leaves(0, 100)) == 3
    latest = await store.latest_checkpoint()
    assert latest is not None
    assert CompactRange.from_bytes(latest.tree).root() == tree.root()
    # Appending still works after a refused change.
    assert (await append(store, batch(3, 1), tree)).size == 4


@pytest.mark.integration
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_postgresql_refuses_truncate_and_appends_as_a_role_without_update_or_delete(
    store: SqlLedgerStore, raw: AsyncEngine
) -> None:
    await append(store, batch(0, 2), CompactRange())
    for table in ("ledger_entry", "ledger_checkpoint", "ledger_cosignature"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with raw.begin() as conn:
                await conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert store.writer_role == WRITER_ROLE
    async with raw.connect() as conn:
        for table in ("ledger_entry", "ledger_checkpoint", "ledger_cosignature"):
            granted = {
                privilege: (
                    await conn.execute(
                        text("SELECT has_table_privilege(:role, :table, :privilege)"),
                        {"role": WRITER_ROLE, "table": table, "privilege": privilege},
                    )
                ).scalar_one()
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
            }
            assert granted == {
                "SELECT": True,
                "INSERT": True,
                "UPDATE": False,
                "DELETE": False,
                "TRUNCATE": False,
            }, table
    # Even with the triggers gone (an owner could drop them), the writer role may not rewrite.
    async with raw.begin() as conn:
        await conn.execute(text("ALTER TABLE ledger_entry DISABLE TRIGGER ALL"))
    async with raw.connect() as conn:
        await conn.execute(text(f"SET ROLE {WRITER_ROLE}"))
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text("UPDATE ledger_entry SET item_id = 'forged'"))


async def test_cosignatures_are_kept_once_per_witness_key_and_size(store: LedgerStore) -> None:
    await append(store, batch(0, 3), CompactRange())
    assert await store.add_cosignature(3, b"bbbb", "w.example/b", "— w.example/b line-b")
    assert await store.add_cosignature(3, b"aaaa", "w.example/a", "— w.example/a line-a")
    assert not await store.add_cosignature(3, b"aaaa", "w.example/a", "— w.example/a another")
    assert await store.cosignatures(3) == ["— w.example/a line-a", "— w.example/b line-b"]
    assert await store.cosignatures(2) == []
    assert await store.latest_cosigned_size([b"aaaa", b"bbbb"], 2) == 3
    assert await store.latest_cosigned_size([b"aaaa"], 2) is None
    assert await store.latest_cosigned_size([], 1) is None
