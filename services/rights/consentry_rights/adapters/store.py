"""The registry's storage port and its SQL adapter (SQLite and PostgreSQL).

Contract: :meth:`RegistryStore.upsert` stores a whole import in one transaction and bumps the
registry version once. A record is identified by ``(kind, id)``; re-importing it replaces it in
the *current* registry (a deal re-imported with ``revoked_at`` is how a revocation arrives), but
the version it replaces is kept: the registry is bitemporal.

- Transaction time: every stored version of a record carries the ``registry_version`` and the
  ``recorded_at`` of the import that brought it, and the version that superseded it (if any).
  :meth:`RegistryStore.snapshot` with ``as_of_version`` (or ``as_of``, a recorded time) returns
  the registry exactly as it stood then, so a decision can be reproduced.
- Valid time: a record's own ``from`` / ``until`` (and a deal's ``revoked_at``) are kept beside it
  in columns, so a listing can ask what was in force at a moment (``valid_at``).

The current registry lives in its own table (one row per record) so that the engine's snapshot
stays one plain scan however long the history grows; the history table holds every version.

The store also keeps the signal files records were read from (:meth:`RegistryStore.evidence`),
which holder each origin belongs to, and remembers each item's latest verdict
(:meth:`RegistryStore.remember_decisions`), so that a registry change can find the items it
touches (:meth:`RegistryStore.decided_pages`, streamed) and decide them again, storing only
the verdicts that changed (:meth:`RegistryStore.remember_verdicts`): live revocation.

Errors: :class:`RegistryStoreError` is the base; :class:`RecordOwnedElsewhere` means an import
tried to replace a record another holder owns (nothing was stored).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Text,
    and_,
    func,
    inspect,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import Selectors
from consentry_shared.contracts.v1 import (
    Deal,
    ItemEvent,
    Reservation,
    Verdict,
    registry_record_adapter,
    utc_now,
)
from consentry_shared.db import create_engine, is_sqlite


class RegistryStoreError(Exception):
    """Base of the registry store's errors."""


class RecordOwnedElsewhere(RegistryStoreError):
    """An import would replace a record that another holder owns; nothing was stored."""

    def __init__(self, kind: str, record_id: str, owner: str) -> None:
        super().__init__(f"{kind} {record_id!r} belongs to holder {owner!r}")
        self.kind = kind
        self.record_id = record_id
        self.owner = owner


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One stored version of a record: what it said, when it was recorded, and until when it was
    the current one (``superseded_in``: the registry version that replaced it, ``None`` if current)."""

    registry_version: int
    recorded_at: datetime
    superseded_in: int | None
    record: RegistryRecord


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """A signal file as it was handed in (``kind`` is ``robots.txt``, ``ai.txt`` or
    ``tdmrep.json``), kept byte for byte; records read from it name its ``sha256``."""

    sha256: str
    kind: str
    origin: str
    body: bytes
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """Which records a listing wants. ``None`` means no filter.

    ``deal_licensee`` / ``deal_holder`` restrict *deals* (only) to those of that licensee or
    holder: how the API shows a platform or a holder only the deals that concern them.
    ``valid_at`` keeps records in force at that moment (valid time); works have no validity and
    always pass. ``id_prefix`` keeps the ids that start with it.
    """

    kind: str | None = None
    id_prefix: str | None = None
    holder: str | None = None
    deal_licensee: str | None = None
    deal_holder: str | None = None
    valid_at: datetime | None = None


class RegistryStore(abc.ABC):
    @abc.abstractmethod
    async def initialise(self) -> None: ...

    @abc.abstractmethod
    async def version(self) -> int:
        """The current registry version (0 for an empty registry)."""

    @abc.abstractmethod
    async def version_at(self, recorded: datetime) -> int:
        """The registry version that was current at ``recorded`` (transaction time): the last
        import recorded at or before it, 0 before the first."""

    @abc.abstractmethod
    async def snapshot(
        self, as_of_version: int | None = None, *, as_of: datetime | None = None
    ) -> tuple[int, list[RegistryRecord]]:
        """Every record of the registry and the version they make up, read consistently.

        Without arguments: the current registry. With ``as_of_version``: the records as they
        stood right after that import (a version beyond the current one gives the current
        registry under its own number). With ``as_of``: as of that recorded time.
        """

    @abc.abstractmethod
    async def upsert(
        self,
        records: Sequence[RegistryRecord],
        *,
        owner: str | None = None,
        evidence: EvidenceFile | None = None,
    ) -> int:
        """Store ``records`` atomically and return the new registry version.

        With ``owner``, raise :class:`RecordOwnedElsewhere` (storing nothing) if any of them
        would replace a record whose current holder is someone else. ``evidence`` is stored in
        the same transaction. No records: no new version (the current one is returned), the
        evidence is still stored.
        """

    @abc.abstractmethod
    async def records_page(
        self, as_of_version: int, query: RecordQuery, *, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, str]]:
        """Up to ``limit`` records of the registry at ``as_of_version`` matching ``query``, ordered
        by ``(kind, id)`` and starting after ``after``: ``(kind, id, JSON)`` with the JSON as an
        import line. Pages of one version are consistent with each other: the history only grows.
        """

    @abc.abstractmethod
    async def history(self, kind: str, record_id: str) -> list[RecordVersion]:
        """Every stored version of one record, oldest first (empty if it never existed)."""

    @abc.abstractmethod
    async def evidence(self, sha256: str) -> EvidenceFile | None:
        """The signal file with that hash, if one was stored."""

    @abc.abstractmethod
    async def origin_holder(self, origin: str) -> str | None:
        """The holder ``origin`` (``scheme://host[:port]``) is registered to."""

    @abc.abstractmethod
    async def register_origin(self, origin: str, holder: str) -> None:
        """Register ``origin`` to ``holder`` (replacing an earlier registration)."""

    @abc.abstractmethod
    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        """Store (or replace) the latest verdict of each item."""

    @abc.abstractmethod
    async def manifest_verdicts(self, manifest_id: str) -> dict[str, int]:
        """How many of a manifest's items are decided, by their current verdict."""

    @abc.abstractmethod
    def decided_pages(self, selectors: Selectors, *, size: int) -> AsyncGenerator[list[DecidedItem], None]:
        """Every remembered item that any of ``selectors`` matches (sha256, md5, identifier,
        domain or subdomain, URL prefix), as :meth:`Selectors.covers` says, in pages of at most
        ``size`` items (none empty), so the first can be decided again while the rest are read.

        More may come back (SQLite's LIKE ignores case), never less: re-deciding an extra item
        costs only time. Each item comes once. The caller MUST close the iterator (``aclosing``)
        if it stops early: it may hold a database connection."""

    async def decided_items(self, selectors: Selectors) -> list[DecidedItem]:
        """All of :meth:`decided_pages` in one list."""
        found: list[DecidedItem] = []
        async with aclosing(self.decided_pages(selectors, size=_CHUNK)) as pages:
            async for page in pages:
                found += page
        return found

    @abc.abstractmethod
    async def remember_verdicts(self, changed: Sequence[VerdictChange]) -> None:
        """Set the verdict and decision event id of items already remembered (by item event id),
        leaving what was stored of the item as it is; an id not remembered is ignored. Cheaper
        than :meth:`remember_decisions` for re-decided items: nothing of the item is written."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise if the database cannot be reached (readiness)."""

    @abc.abstractmethod
    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """A remembered item's new verdict, and the decision that published it."""

    item_event_id: str
    verdict: Verdict
    decision_event_id: str


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
    """The current registry: one row per record, the latest version of each."""

    __tablename__ = "rights_record"

    kind: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    holder: str = Field(index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    registry_version: int = Field(sa_column=Column(BigInteger, nullable=False))
    recorded_at: datetime


class RecordVersionRow(_RightsTable, table=True):
    """Every version of every record (append-only, but for ``superseded_in`` being set once)."""

    __tablename__ = "rights_record_version"
    __table_args__ = (Index("ix_rights_record_version_current", "superseded_in", "kind", "id"),)

    kind: str = Field(primary_key=True)
    id: str = Field(primary_key=True)
    registry_version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    superseded_in: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    holder: str
    licensee: str | None = None
    valid_from: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    valid_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    body: str = Field(sa_column=Column(Text, nullable=False))


class VersionRow(_RightsTable, table=True):
    __tablename__ = "rights_version"

    version: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    recorded_at: datetime
    records: int


class EvidenceRow(_RightsTable, table=True):
    __tablename__ = "rights_evidence"

    sha256: str = Field(primary_key=True)
    kind: str
    origin: str
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class OriginRow(_RightsTable, table=True):
    __tablename__ = "rights_origin"

    origin: str = Field(primary_key=True)
    holder: str
    registered_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class DecidedItemRow(_RightsTable, table=True):
    __tablename__ = "rights_decided_item"

    item_event_id: str = Field(primary_key=True)
    manifest_id: str | None = Field(default=None, index=True)
    host: str = Field(index=True)
    url: str
    sha256: str | None = Field(default=None, index=True)
    item: str = Field(sa_column=Column(Text, nullable=False))
    verdict: str
    decision_event_id: str


_record = RecordRow.__table__  # type: ignore[attr-defined]
_history = RecordVersionRow.__table__  # type: ignore[attr-defined]
_version = VersionRow.__table__  # type: ignore[attr-defined]
_evidence = EvidenceRow.__table__  # type: ignore[attr-defined]
_origin = OriginRow.__table__  # type: ignore[attr-defined]
_decided = DecidedItemRow.__table__  # type: ignore[attr-defined]

_CHUNK = 1000  # rows per statement: well under SQLite's and asyncpg's bound-parameter limits


def _utc(moment: datetime | None) -> datetime | None:
    """UTC, and naive on SQLite's side: it stores text, so every value must be in one zone."""
    return None if moment is None else moment.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _history_row(record: RegistryRecord, body: str, version: int, now: datetime) -> dict[str, Any]:
    valid_from = valid_until = revoked_at = None
    if isinstance(record, Reservation):
        valid_from, valid_until = record.valid_from, record.valid_until
    elif isinstance(record, Deal):
        valid_from, valid_until, revoked_at = record.valid_from, record.valid_until, record.revoked_at
    return {
        "kind": record.kind,
        "id": record.id,
        "registry_version": version,
        "superseded_in": None,
        "recorded_at": now,
        "holder": record.holder,
        "licensee": record.licensee if isinstance(record, Deal) else None,
        "valid_from": _utc(valid_from),
        "valid_until": _utc(valid_until),
        "revoked_at": _utc(revoked_at),
        "body": body,
    }


def _ids_by_kind(records: Sequence[RegistryRecord]) -> dict[str, list[str]]:
    """Ids grouped by kind: ``kind = ? AND id IN (...)`` uses the primary key on both databases,
    where a row-value ``(kind, id) IN (...)`` made PostgreSQL scan the table once per chunk."""
    grouped: dict[str, list[str]] = {}
    for record in records:
        grouped.setdefault(record.kind, []).append(record.id)
    return grouped


def _as_of(version: int) -> Any:
    return and_(
        _history.c.registry_version <= version,
        or_(_history.c.superseded_in.is_(None), _history.c.superseded_in > version),
    )


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
            await conn.run_sync(_add_manifest_column)
            if not self._sqlite:
                # Two instances starting together must not both copy the history below.
                await conn.exec_driver_sql("LOCK TABLE rights_version IN EXCLUSIVE MODE")
            # A registry stored before versions were kept: its current rows become its history.
            if (await conn.execute(select(func.count()).select_from(_history))).scalar_one() == 0:
                rows = (
                    await conn.execute(
                        select(_record.c.body, _record.c.registry_version, _record.c.recorded_at)
                    )
                ).all()
                for start in range(0, len(rows), _CHUNK):
                    await conn.execute(
                        _history.insert(),
                        [
                            _history_row(
                                registry_record_adapter.validate_json(body), body, version, _aware(recorded)
                            )
                            for body, version, recorded in rows[start : start + _CHUNK]
                        ],
                    )

    async def version(self) -> int:
        async with self._engine.connect() as conn:
            return await self._current_version(conn)

    @staticmethod
    async def _current_version(conn: AsyncConnection) -> int:
        return int((await conn.execute(select(func.coalesce(func.max(_version.c.version), 0)))).scalar_one())

    async def version_at(self, recorded: datetime) -> int:
        # rights_version.recorded_at predates tz-aware columns; the history table's is aware.
        async with self._engine.connect() as conn:
            found = await conn.execute(
                select(func.coalesce(func.max(_history.c.registry_version), 0)).where(
                    _history.c.recorded_at <= _utc(recorded)
                )
            )
            return int(found.scalar_one())

    async def snapshot(
        self, as_of_version: int | None = None, *, as_of: datetime | None = None
    ) -> tuple[int, list[RegistryRecord]]:
        if as_of is not None:
            if as_of_version is not None:
                raise ValueError("give as_of_version or as_of, not both")
            as_of_version = await self.version_at(as_of)
        async with self._engine.connect() as conn:
            if not self._sqlite:
                # Both reads must see the same commit; SQLite's transaction already does.
                await conn.execution_options(isolation_level="REPEATABLE READ")
            await conn.begin()
            version = await self._current_version(conn)
            if as_of_version is None or as_of_version >= version:
                rows = await conn.execute(select(_record.c.body))
            else:
                version = max(as_of_version, 0)
                rows = await conn.execute(select(_history.c.body).where(_as_of(version)))
            records = [registry_record_adapter.validate_json(r[0]) for r in rows]
        return version, records

    async def upsert(
        self,
        records: Sequence[RegistryRecord],
        *,
        owner: str | None = None,
        evidence: EvidenceFile | None = None,
    ) -> int:
        now = utc_now()
        async with self._engine.begin() as conn:
            if not self._sqlite:
                # One writer at a time: versions must come out in commit order.
                await conn.exec_driver_sql("LOCK TABLE rights_version IN EXCLUSIVE MODE")
            if owner is not None:
                await self._check_owner(conn, records, owner)
            if not records:
                # Nothing changes: no new version (so every version has records, and version_at is
                # exact), but a signal file that reserves nothing is still kept as evidence.
                if evidence is not None:
                    await self._store_evidence(conn, evidence)
                return await self._current_version(conn)
            version = await self._current_version(conn) + 1
            await conn.execute(
                _version.insert().values(version=version, recorded_at=now, records=len(records))
            )
            if evidence is not None:
                await self._store_evidence(conn, evidence)
            insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_record)
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                bodies = [r.model_dump_json(by_alias=True, exclude_none=True) for r in chunk]
                # Close the versions these replace before adding theirs.
                for kind, ids in _ids_by_kind(chunk).items():
                    await conn.execute(
                        _history.update()
                        .where(
                            _history.c.kind == kind,
                            _history.c.id.in_(ids),
                            _history.c.superseded_in.is_(None),
                        )
                        .values(superseded_in=version)
                    )
                await conn.execute(
                    _history.insert(),
                    [_history_row(r, body, version, now) for r, body in zip(chunk, bodies, strict=True)],
                )
                rows = [
                    {
                        "kind": r.kind,
                        "id": r.id,
                        "holder": r.holder,
                        "body": body,
                        "registry_version": version,
                        "recorded_at": now,
                    }
                    for r, body in zip(chunk, bodies, strict=True)
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

    @staticmethod
    async def _check_owner(conn: AsyncConnection, records: Sequence[RegistryRecord], owner: str) -> None:
        for start in range(0, len(records), _CHUNK):
            for kind, ids in _ids_by_kind(records[start : start + _CHUNK]).items():
                taken = (
                    await conn.execute(
                        select(_record.c.id, _record.c.holder)
                        .where(_record.c.kind == kind, _record.c.id.in_(ids), _record.c.holder != owner)
                        .order_by(_record.c.id)
                        .limit(1)
                    )
                ).first()
                if taken is not None:
                    raise RecordOwnedElsewhere(kind, taken[0], taken[1])

    async def _store_evidence(self, conn: AsyncConnection, evidence: EvidenceFile) -> None:
        insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_evidence)
        await conn.execute(
            insert.values(
                sha256=evidence.sha256,
                kind=evidence.kind,
                origin=evidence.origin,
                body=evidence.body,
                recorded_at=_utc(evidence.recorded_at),
            ).on_conflict_do_nothing(index_elements=["sha256"])  # same bytes, same evidence
        )

    async def records_page(
        self, as_of_version: int, query: RecordQuery, *, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, str]]:
        h = _history.c
        conditions: list[Any] = [_as_of(as_of_version)]
        if query.kind is not None:
            conditions.append(h.kind == query.kind)
        if query.holder is not None:
            conditions.append(h.holder == query.holder)
        if query.id_prefix is not None:
            conditions.append(h.id.like(f"{_escape_like(query.id_prefix)}%", escape="\\"))
        if query.deal_licensee is not None:
            conditions.append(or_(h.kind != "deal", h.licensee == query.deal_licensee))
        if query.deal_holder is not None:
            conditions.append(or_(h.kind != "deal", h.holder == query.deal_holder))
        if query.valid_at is not None:
            at = _utc(query.valid_at)
            conditions += [
                or_(h.valid_from.is_(None), h.valid_from <= at),
                or_(h.valid_until.is_(None), h.valid_until > at),
                or_(h.revoked_at.is_(None), h.revoked_at > at),
            ]
        if after is not None:
            conditions.append(tuple_(h.kind, h.id) > tuple_(*after))
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(h.kind, h.id, h.body).where(*conditions).order_by(h.kind, h.id).limit(limit)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    async def history(self, kind: str, record_id: str) -> list[RecordVersion]:
        h = _history.c
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(h.registry_version, h.recorded_at, h.superseded_in, h.body)
                .where(h.kind == kind, h.id == record_id)
                .order_by(h.registry_version)
            )
            return [
                RecordVersion(int(r[0]), _aware(r[1]), r[2], registry_record_adapter.validate_json(r[3]))
                for r in rows
            ]

    async def evidence(self, sha256: str) -> EvidenceFile | None:
        e = _evidence.c
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(e.sha256, e.kind, e.origin, e.body, e.recorded_at).where(e.sha256 == sha256)
                )
            ).first()
        if row is None:
            return None
        return EvidenceFile(row[0], row[1], row[2], bytes(row[3]), _aware(row[4]))

    async def origin_holder(self, origin: str) -> str | None:
        async with self._engine.connect() as conn:
            found = await conn.execute(select(_origin.c.holder).where(_origin.c.origin == origin))
            return found.scalar_one_or_none()

    async def register_origin(self, origin: str, holder: str) -> None:
        insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_origin)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert.values(origin=origin, holder=holder, registered_at=utc_now()).on_conflict_do_update(
                    index_elements=["origin"],
                    set_={"holder": insert.excluded.holder, "registered_at": insert.excluded.registered_at},
                )
            )

    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        if not decided:
            return
        rows = [
            (
                d.item.event_id,
                d.item.manifest_id,
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

    async def manifest_verdicts(self, manifest_id: str) -> dict[str, int]:
        query = (
            select(_decided.c.verdict, func.count())
            .where(_decided.c.manifest_id == manifest_id)
            .group_by(_decided.c.verdict)
        )
        async with self._engine.connect() as conn:
            return {verdict: int(count) for verdict, count in await conn.execute(query)}

    async def decided_pages(
        self, selectors: Selectors, *, size: int
    ) -> AsyncGenerator[list[DecidedItem], None]:
        conditions: list[Any] = []
        if selectors.sha256:
            conditions.append(_decided.c.sha256.in_(sorted(selectors.sha256)))
        for domain in sorted(selectors.domains):
            conditions.append(_decided.c.host == domain)
            conditions.append(_decided.c.host.like(f"%.{_escape_like(domain)}", escape="\\"))
        for prefix in sorted(selectors.url_prefixes):
            conditions.append(_decided.c.url.like(f"{_escape_like(prefix)}%", escape="\\"))
        # md5s and identifiers have no column: the stored item JSON is searched for them (a scan,
        # acceptable for a registry change), and the rows found are checked exactly below. The
        # JSON is stored as consumed, so it may spell them as its producer did (ingest writes the
        # canonical form; a direct items.v1 producer may not): an md5 differs only in case and a
        # DOI by case and a resolver prefix, but an ISBN, ISRC or ISWC may be hyphenated or an
        # ISBN-10, so for those every item that carries identifiers at all is a candidate.
        identity = sorted(selectors.md5 | selectors.identifiers)
        lowered = func.lower(_decided.c.item)
        patterns: set[str] = set()
        for value in identity:
            if value in selectors.md5 or value.startswith("doi:"):
                patterns.add(f"%{_escape_like(value.lower().removeprefix('doi:'))}%")
            else:
                patterns.add('%"identifiers"%')
        for pattern in sorted(patterns):
            conditions.append(lowered.like(pattern, escape="\\"))
        if not conditions:
            return
        query = select(_decided.c.item, _decided.c.verdict, _decided.c.decision_event_id).where(
            or_(*conditions)
        )
        # One query streamed through a server-side cursor (one scan, one snapshot), ``size`` rows
        # per round trip; items are validated a page at a time, as the caller asks for them.
        async with self._engine.connect() as conn:
            rows = await conn.stream(query.execution_options(yield_per=size))
            async for chunk in rows.partitions(size):
                found = [DecidedItem(ItemEvent.model_validate_json(r[0]), Verdict(r[1]), r[2]) for r in chunk]
                if identity:
                    found = [decided for decided in found if selectors.covers(decided.item, decided.host)]
                if found:
                    yield found

    async def remember_verdicts(self, changed: Sequence[VerdictChange]) -> None:
        if not changed:
            return
        rows = [(c.item_event_id, c.verdict.value, c.decision_event_id) for c in changed]
        async with self._engine.begin() as conn:
            if self._sqlite:
                await conn.exec_driver_sql(_SQLITE_SET_VERDICT, [(v, d, i) for i, v, d in rows])
                return
            await conn.exec_driver_sql(_PG_VERDICT_STAGE)
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # an asyncpg.Connection, inside that transaction
            await driver.copy_records_to_table(
                "rights_verdict_stage",
                records=rows,
                columns=_VERDICT_COLUMNS,
            )
            await conn.exec_driver_sql(_PG_SET_VERDICT)

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        await self._engine.dispose()


_DECIDED_COLUMNS = [
    "item_event_id",
    "manifest_id",
    "host",
    "url",
    "sha256",
    "item",
    "verdict",
    "decision_event_id",
]
_SQLITE_REMEMBER = """
INSERT INTO rights_decided_item
(item_event_id, manifest_id, host, url, sha256, item, verdict, decision_event_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (item_event_id) DO UPDATE
SET verdict = excluded.verdict, decision_event_id = excluded.decision_event_id
"""
_VERDICT_COLUMNS = ["item_event_id", "verdict", "decision_event_id"]
_SQLITE_SET_VERDICT = """
UPDATE rights_decided_item SET verdict = ?, decision_event_id = ? WHERE item_event_id = ?
"""
_PG_VERDICT_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS rights_verdict_stage
(item_event_id TEXT NOT NULL, verdict TEXT NOT NULL, decision_event_id TEXT NOT NULL) ON COMMIT DELETE ROWS
"""
# An id given twice: its last change wins (as SQLite's statements, run in order, make it).
_PG_SET_VERDICT = """
UPDATE rights_decided_item AS d SET verdict = s.verdict, decision_event_id = s.decision_event_id
FROM (
    SELECT DISTINCT ON (item_event_id) item_event_id, verdict, decision_event_id
    FROM (SELECT *, row_number() OVER () AS seq FROM rights_verdict_stage) AS staged
    ORDER BY item_event_id, seq DESC
) AS s
WHERE d.item_event_id = s.item_event_id
"""
_PG_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS rights_decided_stage
(LIKE rights_decided_item INCLUDING DEFAULTS) ON COMMIT DELETE ROWS
"""
# A batch may hold an item twice (a redelivery): keep its last row.
_PG_MERGE = """
INSERT INTO rights_decided_item
(item_event_id, manifest_id, host, url, sha256, item, verdict, decision_event_id)
SELECT DISTINCT ON (item_event_id)
item_event_id, manifest_id, host, url, sha256, item, verdict, decision_event_id
FROM (SELECT *, row_number() OVER () AS seq FROM rights_decided_stage) AS staged
ORDER BY item_event_id, seq DESC
ON CONFLICT (item_event_id) DO UPDATE
SET verdict = excluded.verdict, decision_event_id = excluded.decision_event_id
"""


def _add_manifest_column(conn: Any) -> None:
    """A database made before decided items kept their manifest gets the column (its earlier rows
    stay without one: they count in no manifest's status)."""
    columns = {column["name"] for column in inspect(conn).get_columns("rights_decided_item")}
    if "manifest_id" not in columns:
        conn.exec_driver_sql("ALTER TABLE rights_decided_item ADD COLUMN manifest_id TEXT")
        conn.exec_driver_sql(
            "CREATE INDEX IF NOT EXISTS ix_rights_decided_item_manifest_id "
            "ON rights_decided_item (manifest_id)"
        )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
