"""The registry's storage port and its SQL adapter (SQLite and PostgreSQL).

Contract: :meth:`RegistryStore.upsert` stores a whole import in one transaction and bumps the
registry version once; :meth:`RegistryStore.snapshot` returns every current record with the
version they make up. A record is identified by ``(kind, id)``; re-importing it replaces it
(a deal re-imported with ``revoked_at`` is how a revocation arrives).

The store also remembers each item's latest verdict (:meth:`RegistryStore.remember_decisions`),
so that a registry change can find the items it touches (:meth:`RegistryStore.decided_items`) and
decide them again: live revocation.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import BigInteger, Column, Text, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel

from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import Selectors
from consentry_shared.contracts.v1 import ItemEvent, Verdict, registry_record_adapter, utc_now
from consentry_shared.db import create_engine, is_sqlite


class RegistryStore(abc.ABC):
    @abc.abstractmethod
    async def initialise(self) -> None: ...

    @abc.abstractmethod
    async def version(self) -> int:
        """The current registry version (0 for an empty registry)."""

    @abc.abstractmethod
    async def snapshot(self) -> tuple[int, list[RegistryRecord]]:
        """Every current record and the version they make up, read consistently."""

    @abc.abstractmethod
    async def upsert(self, records: Sequence[RegistryRecord]) -> int:
        """Store ``records`` atomically and return the new registry version."""

    @abc.abstractmethod
    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        """Store (or replace) the latest verdict of each item."""

    @abc.abstractmethod
    async def decided_items(self, selectors: Selectors) -> list[DecidedItem]:
        """Every remembered item that any of ``selectors`` matches (hash, domain or subdomain,
        URL prefix)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached (readiness)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class DecidedItem:
    """An item as it was decided, and the verdict it has now."""

    item: ItemEvent
    verdict: Verdict
    decision_event_id: str
    raw: bytes | None = None  # the item's items.v1 JSON as consumed, stored as is when given

    @property
    def host(self) -> str:
        return (urlsplit(str(self.item.url)).hostname or "").lower()


_metadata = SQLModel.metadata.__class__()


class _RightsTable(SQLModel):
    metadata = _metadata


class RecordRow(_RightsTable, table=True):
    __tablename__ = "rights_record"

    kind: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    holder: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    registry_version: int = Field(sa_column=Column(BigInteger, nullable=False))
    recorded_at: datetime


class VersionRow(_RightsTable, table=True):
    __tablename__ = "rights_version"

    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    recorded_at: datetime
    records: int


class DecidedItemRow(_RightsTable, table=True):
    __tablename__ = "rights_decided_item"

    item_event_id: str = Field(primary_key=True)
    host: str = Field(index=True)
    url: str
    sha256: str | None = Field(default=None, index=True)
    item: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str
    decision_event_id: str


_record = RecordRow.__table__  # type: ignore[attr-defined]
_version = VersionRow.__table__  # type: ignore[attr-defined]
_decided = DecidedItemRow.__table__  # type: ignore[attr-defined]


class SqlRegistryStore(RegistryStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)

    @classmethod
    def from_url(cls, url: str) -> SqlRegistryStore:
        return cls(create_engine(url))

    async def initialise(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)

    async def version(self) -> int:
        async with self._engine.connect() as conn:
            return int(
                (await conn.execute(select(func.coalesce(func.max(_version.c.version), 0)))).scalar_one()
            )

    async def snapshot(self) -> tuple[int, list[RegistryRecord]]:
        async with self._engine.connect() as conn:
            if not self._sqlite:
                # Both reads must see the same commit; SQLite's transaction already does.
                await conn.execution_options(isolation_level="REPEATABLE READ")
            await conn.begin()
            version = int(
                (await conn.execute(select(func.coalesce(func.max(_version.c.version), 0)))).scalar_one()
            )
            rows = await conn.execute(select(_record.c.body))
            records = [registry_record_adapter.validate_json(r[0]) for r in rows]
        return version, records

    async def upsert(self, records: Sequence[RegistryRecord]) -> int:
        now = utc_now()
        async with self._engine.begin() as conn:
            if not self._sqlite:
                # One writer at a time: versions must come out in commit order.
                await conn.exec_driver_sql("LOCK TABLE rights_version IN EXCLUSIVE MODE")
            current = int(
                (await conn.execute(select(func.coalesce(func.max(_version.c.version), 0)))).scalar_one()
            )
            version = current + 1
            await conn.execute(
                _version.insert().values(version=version, recorded_at=now, records=len(records))
            )
            insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_record)
            for start in range(0, len(records), 2000):
                rows = [
                    {
                        "kind": r.kind,
                        "id": r.id,
                        "holder": r.holder,
                        "body": r.model_dump_json(by_alias=True, exclude_none=True),
                        "registry_version": version,
                        "recorded_at": now,
                    }
                    for r in records[start : start + 2000]
                ]
                await conn.execute(
                    insert.on_conflict_do_update(
                        index_elements=["kind", "id"],
                        set_={
                            "holder": insert.excluded.holder,
                            "body": insert.excluded.body,
                            "registry_version": insert.excluded.registry_version,
                            "recorded_at": insert.excluded.recorded_at,
                        },
                    ),
                    rows,
                )
        return version

    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        if not decided:
            return
        rows = [
            (
                d.item.event_id,
                d.host,
                str(d.item.url),
                d.item.sha256,
                d.raw.decode() if d.raw else d.item.model_dump_json(exclude_none=True),
                d.verdict.value,
                d.decision_event_id,
            )
            for d in decided
        ]
        async with self._engine.begin() as conn:
            if self._sqlite:
                # The driver's executemany: SQLAlchemy's per-parameter processing cost more than
                # the insert itself on this hot path.
                await conn.exec_driver_sql(_SQLITE_REMEMBER, rows)
                return
            await conn.exec_driver_sql(_PG_STAGE)  # through SQLAlchemy: this opens the transaction
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # an asyncpg.Connection, inside that transaction
            await driver.copy_records_to_table("rights_decided_stage", records=rows, columns=_DECIDED_COLUMNS)
            await conn.exec_driver_sql(_PG_MERGE)

    async def decided_items(self, selectors: Selectors) -> list[DecidedItem]:
        conditions: list[Any] = []
        if selectors.sha256:
            conditions.append(_decided.c.sha256.in_(sorted(selectors.sha256)))
        for domain in sorted(selectors.domains):
            conditions.append(_decided.c.host == domain)
            conditions.append(_decided.c.host.like(f"%.{_escape_like(domain)}", escape="\\"))
        for prefix in sorted(selectors.url_prefixes):
            conditions.append(_decided.c.url.like(f"{_escape_like(prefix)}%", escape="\\"))
        if not conditions:
            return []
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_decided.c.item, _decided.c.verdict, _decided.c.decision_event_id).where(
                    or_(*conditions)
                )
            )
            return [DecidedItem(ItemEvent.model_validate_json(r[0]), Verdict(r[1]), r[2]) for r in rows]

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        await self._engine.dispose()


_DECIDED_COLUMNS = ["item_event_id", "host", "url", "sha256", "item", "verdict", "decision_event_id"]
_SQLITE_REMEMBER = """
INSERT INTO rights_decided_item (item_event_id, host, url, sha256, item, verdict, decision_event_id)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item_event_id) DO UPDATE
SET verdict = excluded.verdict, decision_event_id = excluded.decision_event_id
"""
_PG_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS rights_decided_stage
(LIKE rights_decided_item INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
# A batch may hold an item twice (a redelivery): keep its last row.
_PG_MERGE = """
INSERT INTO rights_decided_item (item_event_id, host, url, sha256, item, verdict, decision_event_id)
SELECT DISTINCT ON (item_event_id) item_event_id, host, url, sha256, item, verdict, decision_event_id
FROM (SELECT *, row_number() OVER () AS seq FROM rights_decided_stage) AS staged
ORDER BY item_event_id, seq DESC
ON CONFLICT (item_event_id) DO UPDATE
SET verdict = excluded.verdict, decision_event_id = excluded.decision_event_id
"""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
