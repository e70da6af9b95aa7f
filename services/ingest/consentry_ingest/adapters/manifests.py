"""The manifests ingest has accepted, kept so that a manifest's status can say how many items it
received (SQLite or PostgreSQL, like every service's database).

A manifest id stands for its content (see :func:`~consentry_ingest.service.submission_manifest_id`),
so accepting the same manifest again changes nothing but ``last_accepted_at``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from consentry_shared.contracts.v1 import utc_now
from consentry_shared.db import create_engine, is_sqlite

__all__ = ["SqlManifestStore"]

_metadata = MetaData()
_manifest = Table(
    "ingest_manifest",
    _metadata,
    Column("manifest_id", Text, primary_key=True),
    Column("platform", Text, nullable=False, index=True),
    Column("items", BigInteger, nullable=False),
    Column("purpose", String(64), nullable=False),
    Column("format", String(32), nullable=False),
    Column("dataset", Text),
    Column("version", Text),
    Column("content_sha256", String(64), nullable=False),
    Column("first_accepted_at", DateTime(timezone=True), nullable=False),
    Column("last_accepted_at", DateTime(timezone=True), nullable=False),
)


class SqlManifestStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        self._ready = False

    @classmethod
    def from_url(cls, url: str) -> SqlManifestStore:
        return cls(create_engine(url))

    async def initialise(self) -> None:
        """Create the table if it is missing (also done on first use, so an app whose start-up
        hooks did not run, as in the in-memory service tests, still works)."""
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
        self._ready = True

    async def record(
        self,
        *,
        manifest_id: str,
        platform: str,
        items: int,
        purpose: str,
        format: str,
        dataset: str | None,
        version: str | None,
        content_sha256: str,
        at: datetime | None = None,
    ) -> None:
        """Remember an accepted manifest (once its items are published)."""
        now = at or utc_now()
        insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_manifest)
        statement = insert.values(
            manifest_id=manifest_id,
            platform=platform,
            items=items,
            purpose=purpose,
            format=format,
            dataset=dataset,
            version=version,
            content_sha256=content_sha256,
            first_accepted_at=now,
            last_accepted_at=now,
        ).on_conflict_do_update(index_elements=["manifest_id"], set_={"last_accepted_at": now})
        if not self._ready:
            await self.initialise()
        async with self._engine.begin() as conn:
            await conn.execute(statement)

    async def get(self, manifest_id: str) -> dict[str, Any] | None:
        """The accepted manifest as a JSON-ready dict, or ``None`` if ingest never accepted it."""
        if not self._ready:
            await self.initialise()
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(_manifest).where(_manifest.c.manifest_id == manifest_id))
            ).first()
        if row is None:
            return None
        found = dict(row._mapping)
        for key in ("first_accepted_at", "last_accepted_at"):
            found[key] = _aware(found[key]).isoformat()
        return found

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        await self._engine.dispose()


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
