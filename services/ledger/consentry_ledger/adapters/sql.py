"""The ledger store on SQLite or PostgreSQL (SQLModel tables, SQLAlchemy Core for bulk writes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from consentry_shared.contracts.v1 import utc_now
from consentry_shared.db import create_engine, is_sqlite
from sqlalchemy import BigInteger, Column, LargeBinary, Text, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from consentry_ledger.adapters.store import (
    AppendConflict,
    LedgerStore,
    ManifestEntry,
    StoredCheckpoint,
)
from consentry_ledger.domain import AppendPlan

_metadata = SQLModel.metadata.__class__()


class _LedgerTable(SQLModel):
    metadata = _metadata


class EntryRow(_LedgerTable, table=True):
    __tablename__ = "ledger_entry"

    idx: int = Field(sa_column=Column("idx", BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(unique=True)
    manifest_id: str = Field(index=True)
    item_id: str
    verdict: str
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(_LedgerTable, table=True):
    __tablename__ = "ledger_checkpoint"

    size: int = Field(sa_column=Column("size", BigInteger, primary_key=True, autoincrement=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    tree: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class OffsetRow(_LedgerTable, table=True):
    __tablename__ = "ledger_offset"

    topic: str = Field(primary_key=True)
    partition: int = Field(primary_key=True)
    offset: int = Field(sa_column=Column("offset", BigInteger, nullable=False))


class MetaRow(_LedgerTable, table=True):
    __tablename__ = "ledger_meta"

    key: str = Field(primary_key=True)
    value: int = Field(sa_column=Column("value", BigInteger, nullable=False))


_entry = EntryRow.__table__  # type: ignore[attr-defined]
_checkpoint = CheckpointRow.__table__  # type: ignore[attr-defined]
_offset = OffsetRow.__table__  # type: ignore[attr-defined]
_meta = MetaRow.__table__  # type: ignore[attr-defined]

_PUBLISHED = "published_size"
# SQLite allows 32,766 bound parameters per statement; IN lists stay well below.
_IN_CHUNK = 900


class SqlLedgerStore(LedgerStore):
    """:class:`LedgerStore` over an async SQLAlchemy engine (aiosqlite or asyncpg)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlLedgerStore:
        return cls(create_engine(url))

    async def initialise(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_checkpoint.c.size, _checkpoint.c.note, _checkpoint.c.tree)
                    .order_by(_checkpoint.c.size.desc())
                    .limit(1)
                )
            ).first()
        return StoredCheckpoint(size=row.size, note=row.note, tree=row.tree) if row else None

    async def known_event_ids(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        async with self._engine.connect() as conn:
            for start in range(0, len(event_ids), _IN_CHUNK):
                chunk = list(event_ids[start : start + _IN_CHUNK])
                rows = await conn.execute(select(_entry.c.event_id).where(_entry.c.event_id.in_(chunk)))
                found.update(r[0] for r in rows)
        return found

    async def append(self, plan: AppendPlan, *, base_size: int) -> None:
        try:
            await self._append(plan, base_size)
        except IntegrityError as error:
            # Another writer took these indexes or event ids first: same remedy as a stale size.
            raise AppendConflict(f"concurrent append: {error.orig}") from None

    async def _append(self, plan: AppendPlan, base_size: int) -> None:
        async with self._engine.begin() as conn:
            current = (
                await conn.execute(select(func.coalesce(func.max(_checkpoint.c.size), 0)))
            ).scalar_one()
            if current != base_size:
                raise AppendConflict(f"log has {current} entries, expected {base_size}")
            if plan.entries:
                await conn.execute(
                    _entry.insert(),
                    [
                        {
                            "idx": e.index,
                            "event_id": e.event_id,
                            "manifest_id": e.manifest_id,
                            "item_id": e.item_id,
                            "verdict": e.verdict,
                            "leaf": e.leaf,
                            "leaf_hash": e.leaf_hash,
                        }
                        for e in plan.entries
                    ],
                )
                await conn.execute(
                    _checkpoint.insert().values(
                        size=plan.tree.size,
                        note=plan.checkpoint_note,
                        tree=plan.tree.to_bytes(),
                        created_at=utc_now(),
                    )
                )
            if plan.offsets:
                rows = [{"topic": t, "partition": p, "offset": o} for (t, p), o in plan.offsets.items()]
                insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_offset)
                await conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["topic", "partition"],
                        set_={"offset": func.max(_offset.c.offset, insert.excluded.offset)}
                        if self._sqlite
                        else {"offset": func.greatest(_offset.c.offset, insert.excluded.offset)},
                    ),
                    rows,
                )

    async def leaves(self, start: int, end: int) -> list[bytes]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_entry.c.leaf).where(_entry.c.idx >= start, _entry.c.idx < end).order_by(_entry.c.idx)
            )
            return [bytes(r[0]) for r in rows]

    async def manifest_entries(self, manifest_id: str) -> list[ManifestEntry]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_entry.c.idx, _entry.c.leaf)
                .where(_entry.c.manifest_id == manifest_id)
                .order_by(_entry.c.idx)
            )
            return [ManifestEntry(index=r[0], leaf=bytes(r[1])) for r in rows]

    async def manifest_count(self, manifest_id: str) -> int:
        async with self._engine.connect() as conn:
            return int(
                (
                    await conn.execute(select(func.count()).where(_entry.c.manifest_id == manifest_id))
                ).scalar_one()
            )

    async def offsets(self) -> dict[tuple[str, int], int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(_offset.c.topic, _offset.c.partition, _offset.c.offset))
            return {(r[0], r[1]): r[2] for r in rows}

    async def published_size(self) -> int:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(select(_meta.c.value).where(_meta.c.key == _PUBLISHED))
            ).scalar_one_or_none()
        return int(value or 0)

    async def mark_published(self, size: int) -> None:
        insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_meta)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert.values(key=_PUBLISHED, value=size).on_conflict_do_update(
                    index_elements=["key"], set_={"value": insert.excluded.value}
                )
            )

    async def close(self) -> None:
        await self._engine.dispose()
