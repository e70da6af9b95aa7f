"""The ledger store on SQLite or PostgreSQL (SQLModel tables, SQLAlchemy Core for bulk writes).

Append-only enforcement (what :meth:`SqlLedgerStore.initialise` installs):

- Both back-ends: triggers on ``ledger_entry`` and ``ledger_checkpoint`` that reject every
  ``UPDATE`` and ``DELETE`` (PostgreSQL: and ``TRUNCATE``), whoever issues it.
- PostgreSQL: a ``consentry_ledger_writer`` role (``NOLOGIN``) with ``SELECT`` and ``INSERT`` on the
  log tables and nothing else; every append runs under ``SET LOCAL ROLE`` to it, so even a bug
  that bypasses the triggers' intent cannot rewrite a row. The role is created when the
  connecting user may (superuser or ``CREATEROLE``); a DBA can also create it and grant it to the
  service's user beforehand. When the role can neither be created nor assumed, the store logs a
  warning and appends as the connecting user (normally the tables' owner): the triggers still
  refuse changes, but an owner could drop them.

None of this stops a superuser or the owner from rewriting history (``ALTER TABLE ... DISABLE
TRIGGER``, ``DROP TABLE``). That is why tamper evidence rests on the signed checkpoints that
auditors keep, not on the database: ``consentry ledger verify`` finds any rewrite.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg  # no stubs; used for COPY and its errors only
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    Text,
    any_,
    bindparam,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import Field, SQLModel

from consentry_ledger.adapters.store import (
    AppendConflict,
    LedgerStore,
    LedgerStoreError,
    ManifestEntry,
    StoredCheckpoint,
)
from consentry_ledger.domain import AppendPlan, SequencedEntry
from consentry_shared.contracts.v1 import utc_now
from consentry_shared.db import create_engine, is_sqlite

log = logging.getLogger(__name__)

_metadata = SQLModel.metadata.__class__()

WRITER_ROLE = "consentry_ledger_writer"
"""The PostgreSQL role appends run as: SELECT and INSERT on the log, no UPDATE/DELETE/TRUNCATE."""

APPEND_ONLY_TABLES = ("ledger_entry", "ledger_checkpoint", "ledger_cosignature")
"""Tables whose rows are never changed once written."""


# On SQLite an INTEGER (not BIGINT) primary key is the rowid itself: one B-tree less per insert.
_INDEX_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class _LedgerTable(SQLModel):
    metadata = _metadata


class EntryRow(_LedgerTable, table=True):
    """One log entry. The decision's event id, verdict and every other field are in ``leaf``
    (its canonical JSON); the columns beside it are the keys entries are looked up by.

    Databases created before the ``event_id`` and ``verdict`` columns were dropped (they
    repeated the leaf, ~45 bytes an entry, ~0.4 µs of each SQLite append) keep them: the
    store finds them at start and goes on filling them (:data:`LEGACY_ENTRY_COLUMNS`).
    """

    __tablename__ = "ledger_entry"

    idx: int = Field(sa_column=Column("idx", _INDEX_TYPE, primary_key=True, autoincrement=False))
    # The unique index is on a 16-byte digest of event_id, not on the id: decision ids are random
    # UUIDs, and a B-tree of short binary keys takes random inserts about twice as fast as one
    # of 36-character strings (bench/bench_ledger_append.py). Two different ids share a key with
    # probability 2**-128 per pair.
    event_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    manifest_id: str
    item_id: str
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(_LedgerTable, table=True):
    __tablename__ = "ledger_checkpoint"

    size: int = Field(sa_column=Column("size", _INDEX_TYPE, primary_key=True, autoincrement=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    tree: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime


class CosignatureRow(_LedgerTable, table=True):
    """A witness's cosignature line on the checkpoint of ``size`` (C2SP tlog-cosignature)."""

    __tablename__ = "ledger_cosignature"

    size: int = Field(sa_column=Column("size", _INDEX_TYPE, primary_key=True, autoincrement=False))
    key_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    witness: str
    line: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime


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
# One index serves both the per-manifest report and the look-up of an item's entries.
Index("ix_ledger_entry_manifest_item", _entry.c.manifest_id, _entry.c.item_id)
_checkpoint = CheckpointRow.__table__  # type: ignore[attr-defined]
_offset = OffsetRow.__table__  # type: ignore[attr-defined]
_meta = MetaRow.__table__  # type: ignore[attr-defined]
_cosignature = CosignatureRow.__table__  # type: ignore[attr-defined]

_PUBLISHED = "published_size"
ENTRY_COLUMNS = ("idx", "event_key", "manifest_id", "item_id", "leaf", "leaf_hash")
"""Column order of ``ledger_entry`` inserts (see :func:`entry_rows`)."""
LEGACY_ENTRY_COLUMNS = (
    "idx",
    "event_id",
    "event_key",
    "manifest_id",
    "item_id",
    "verdict",
    "leaf",
    "leaf_hash",
)
"""The same for a database made before ``event_id`` and ``verdict`` were dropped (see
:func:`legacy_entry_rows`)."""


def _sqlite_insert(columns: Sequence[str]) -> str:
    return f"INSERT INTO ledger_entry ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608


SQLITE_INSERT_ENTRIES = _sqlite_insert(ENTRY_COLUMNS)
SQLITE_INSERT_LEGACY_ENTRIES = _sqlite_insert(LEGACY_ENTRY_COLUMNS)


SQLITE_LOG_SIZE = "SELECT coalesce(max(size), 0) FROM ledger_checkpoint"
SQLITE_INSERT_CHECKPOINT = "INSERT INTO ledger_checkpoint (size, note, tree, created_at) VALUES (?, ?, ?, ?)"
SQLITE_UPSERT_OFFSETS = (
    'INSERT INTO ledger_offset (topic, partition, "offset") VALUES (?, ?, ?) '
    'ON CONFLICT (topic, partition) DO UPDATE SET "offset" = max("offset", excluded."offset")'
)


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The file of a SQLite engine, or ``None`` when a second connection would not reach the
    same database (in memory, or URL options this module does not pass on)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:") or engine.url.query:
        return None
    return database


def _entry_columns(sync: Any) -> set[str]:
    """The columns ``ledger_entry`` has in the database (run through ``run_sync``)."""
    return {c["name"] for c in inspect(sync).get_columns("ledger_entry")}


def _sqlite_datetime(value: datetime) -> str:
    """``value`` as SQLAlchemy's SQLite ``DateTime`` stores it (naive, space-separated, with
    microseconds), so rows written by driver SQL read back like the others."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def event_key(event_id: str) -> bytes:
    """The indexed key of a decision event id: the first 16 bytes of its SHA-256."""
    return hashlib.sha256(event_id.encode()).digest()[:16]


def entry_rows(entries: Sequence[SequencedEntry]) -> list[tuple[int, bytes, str, str, bytes, bytes]]:
    """The ``ledger_entry`` rows of ``entries``, in :data:`ENTRY_COLUMNS` order."""
    sha256 = hashlib.sha256
    return [
        (e.index, sha256(e.event_id.encode()).digest()[:16], e.manifest_id, e.item_id, e.leaf, e.leaf_hash)
        for e in entries
    ]


def legacy_entry_rows(
    entries: Sequence[SequencedEntry],
) -> list[tuple[int, str, bytes, str, str, str, bytes, bytes]]:
    """The rows of ``entries`` in :data:`LEGACY_ENTRY_COLUMNS` order."""
    sha256 = hashlib.sha256
    return [
        (
            e.index,
            e.event_id,
            sha256(e.event_id.encode()).digest()[:16],
            e.manifest_id,
            e.item_id,
            e.verdict,
            e.leaf,
            e.leaf_hash,
        )
        for e in entries
    ]


_SQLITE_PAGE_SIZE = 16384
# Any constant will do: it only has to be the same for every ledger writer of a database.
_APPEND_LOCK = 0x4C454447
# SQLite allows 32,766 bound parameters per statement; IN lists stay well below.
_IN_CHUNK = 900


SQLITE_PRAGMAS = ("PRAGMA cache_size=-32768",)
"""Set on every SQLite connection of the ledger, on top of the shared WAL and synchronous=NORMAL.

Each append inserts a thousand random keys into the event-key index; once that index outgrows
SQLite's default 2 MiB page cache, most of those inserts read their page back from the OS
first. 32 MiB holds the index of about 1.3 million entries (per connection, filled only as
pages are touched): ~2 µs less CPU per entry at 300,000 entries (bench/bench_ledger_append.py's
raw reference runs with the same pragmas).
"""


def _sqlite_ledger_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _sqlite_guards() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for operation in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {operation} refused'); END"
            )
    return statements


_PG_REJECT_FUNCTION = """
CREATE OR REPLACE FUNCTION consentry_ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _pg_trigger(table: str, name: str, events: str, level: str) -> str:
    # Identifiers come from the constants above, never from input.
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger WHERE tgname = '{name}' AND tgrelid = '{table}'::regclass
    ) THEN
        CREATE TRIGGER {name} BEFORE {events} ON {table} FOR EACH {level}
            EXECUTE FUNCTION consentry_ledger_reject_change();
    END IF;
END
$$
"""  # noqa: S608


def _pg_guards() -> list[str]:
    statements = [_PG_REJECT_FUNCTION]
    for table in APPEND_ONLY_TABLES:
        statements.append(_pg_trigger(table, f"{table}_append_only", "UPDATE OR DELETE", "ROW"))
        statements.append(_pg_trigger(table, f"{table}_no_truncate", "TRUNCATE", "STATEMENT"))
    return statements


class SqlLedgerStore(LedgerStore):
    """:class:`LedgerStore` over an async SQLAlchemy engine (aiosqlite or asyncpg).

    See the module docstring for how the log tables are kept append-only.
    """

    def __init__(self, engine: AsyncEngine, *, writer_role: str = WRITER_ROLE) -> None:
        self._engine = engine
        self._sqlite = is_sqlite(engine)
        if self._sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_ledger_pragmas)
        self._wanted_role = writer_role
        self._writer_role: str | None = None
        # SQLite appends go through one connection of their own, in a worker thread (see
        # _append_sqlite); None until the first append, or for a database without a file.
        self._sqlite_file = _sqlite_file(engine) if self._sqlite else None
        self._sqlite_writer: sqlite3.Connection | None = None
        self._sqlite_writer_lock = threading.Lock()
        # Whether ledger_entry still has the event_id and verdict columns (see EntryRow); read
        # by initialise, or by the first append of a store that was not initialised.
        self._legacy_entries: bool | None = None

    @classmethod
    def from_url(cls, url: str) -> SqlLedgerStore:
        return cls(create_engine(url))

    @property
    def writer_role(self) -> str | None:
        """The PostgreSQL role appends run as, or ``None`` (SQLite, or the role is unavailable)."""
        return self._writer_role

    async def initialise(self) -> None:
        """Create the tables, the append-only triggers and (PostgreSQL) the writer role."""
        if self._sqlite:
            await self._use_large_pages()
        async with self._engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
            columns = await conn.run_sync(_entry_columns)
            self._legacy_entries = "event_id" in columns
            if "event_key" not in columns:
                raise LedgerStoreError(
                    "this ledger database predates the event_key column (an earlier development "
                    "version); export it, then start the ledger on a new database"
                )
            # create_all adds indexes only with new tables; logs created before this index get it here.
            await conn.execute(
                text(
                    "CREATE INDEX IF NOT EXISTS ix_ledger_entry_manifest_item "
                    "ON ledger_entry (manifest_id, item_id)"
                )
            )
            for statement in _sqlite_guards() if self._sqlite else _pg_guards():
                await conn.execute(text(statement))
        if not self._sqlite:
            self._writer_role = await self._set_up_writer_role()

    async def _use_large_pages(self) -> None:
        """Give a new SQLite log 16 KiB pages instead of 4 KiB.

        Each append dirties about one leaf page of the event-id index per entry (the ids are
        random UUIDs); larger pages make that B-tree shallower and the appends about 1.5 times
        faster (``bench/bench_ledger_append.py``). The page size of a WAL database is fixed once
        it has content, so this only acts on an empty file: leave WAL, set the size, VACUUM.
        """
        async with self._engine.connect() as conn:
            tables = (await conn.exec_driver_sql("SELECT count(*) FROM sqlite_master")).scalar_one()
            page_size = (await conn.exec_driver_sql("PRAGMA page_size")).scalar_one()
            if tables or page_size == _SQLITE_PAGE_SIZE:
                return
            await conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
            await conn.exec_driver_sql(f"PRAGMA page_size={_SQLITE_PAGE_SIZE}")
            await conn.exec_driver_sql("VACUUM")
            await conn.exec_driver_sql("PRAGMA journal_mode=WAL")

    async def _set_up_writer_role(self) -> str | None:
        """Create (if allowed) and grant the writer role; return it if this user can assume it."""
        role = self._wanted_role
        async with self._engine.connect() as conn:
            exists = (
                await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            ).first()
        if not exists:
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
            except DBAPIError as error:
                # Another ledger created it first (fine), or this user may not create roles.
                log.info("could not create role %s: %s", role, error.orig)
        try:
            async with self._engine.begin() as conn:
                tables = ", ".join(APPEND_ONLY_TABLES)
                await conn.execute(text(f'REVOKE ALL ON {tables} FROM "{role}"'))
                await conn.execute(text(f'GRANT SELECT, INSERT ON {tables} TO "{role}"'))
                await conn.execute(
                    text(f'GRANT SELECT, INSERT, UPDATE ON ledger_offset, ledger_meta TO "{role}"')
                )
        except DBAPIError as error:
            log.warning("cannot grant the ledger tables to role %s: %s", role, error.orig)
        try:
            async with self._engine.begin() as conn:
                # Membership lets a non-superuser SET ROLE; a superuser needs none, and a user
                # who may not grant it simply keeps going (the probe below decides).
                await conn.execute(text(f'GRANT "{role}" TO CURRENT_USER'))
        except DBAPIError:
            pass
        try:
            async with self._engine.begin() as conn:
                await conn.execute(text(f'SET LOCAL ROLE "{role}"'))
                await conn.execute(select(func.count()).select_from(_checkpoint))
        except DBAPIError as error:
            log.warning(
                "appending as the connecting user, not as %s (%s): the append-only triggers still "
                "refuse UPDATE/DELETE/TRUNCATE, but the tables' owner could drop them",
                role,
                error.orig,
            )
            return None
        return role

    async def _assume_writer_role(self, conn: AsyncConnection) -> None:
        if self._writer_role is not None:
            await conn.execute(text(f'SET LOCAL ROLE "{self._writer_role}"'))

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
        by_key = {event_key(e): e for e in event_ids}
        keys = list(by_key)
        found: set[str] = set()
        async with self._engine.connect() as conn:
            if not self._sqlite:
                wanted = bindparam("keys", keys, type_=ARRAY(LargeBinary))
                rows = await conn.execute(
                    select(_entry.c.event_key).where(_entry.c.event_key == any_(wanted))
                )
                return {by_key[bytes(r[0])] for r in rows}
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                # Driver-level SQL: this runs once per batch with a thousand parameters, and
                # SQLAlchemy's per-parameter processing would cost more than the look-up.
                marks = ", ".join("?" * len(chunk))
                rows = await conn.exec_driver_sql(
                    f"SELECT event_key FROM ledger_entry WHERE event_key IN ({marks})",  # noqa: S608
                    tuple(chunk),
                )
                found.update(by_key[bytes(r[0])] for r in rows)
        return found

    async def append(self, plan: AppendPlan, *, base_size: int) -> None:
        if self._legacy_entries is None:
            async with self._engine.connect() as conn:
                self._legacy_entries = "event_id" in await conn.run_sync(_entry_columns)
        try:
            await self._append(plan, base_size)
        except IntegrityError as error:
            # Another writer took these indexes or event ids first: same remedy as a stale size.
            raise AppendConflict(f"concurrent append: {error.orig}") from None
        except asyncpg.IntegrityConstraintViolationError as error:  # from the raw COPY
            raise AppendConflict(f"concurrent append: {error}") from None
        except sqlite3.IntegrityError as error:  # from the driver-level SQLite append
            raise AppendConflict(f"concurrent append or a repeated event: {error}") from None

    async def _append(self, plan: AppendPlan, base_size: int) -> None:
        if self._sqlite:
            await self._append_sqlite(plan, base_size)
            return
        async with self._engine.begin() as conn:
            await self._assume_writer_role(conn)
            # Writers queue here instead of racing to a unique violation (SQLite's database lock
            # does the same in _append_sqlite).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _APPEND_LOCK})
            current = (
                await conn.execute(select(func.coalesce(func.max(_checkpoint.c.size), 0)))
            ).scalar_one()
            if current != base_size:
                raise AppendConflict(f"log has {current} entries, expected {base_size}")
            if plan.entries:
                await self._insert_entries(conn, plan.entries)
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

    async def _append_sqlite(self, plan: AppendPlan, base_size: int) -> None:
        """The SQLite append: one hop to a worker thread that runs the whole transaction on the
        store's own writer connection, instead of six hops to aiosqlite's thread (one per
        statement). On a busy machine each hop waits for the thread to be scheduled, which
        cost more than the statements (bench/bench_ledger_append.py).

        Same transaction as on PostgreSQL: ``BEGIN IMMEDIATE`` takes the write lock before the
        size is read, so the check and the writes are one atomic step (another writer waits on
        the busy timeout); entries, checkpoint and offsets commit together or not at all.
        """
        if self._sqlite_file is None:
            await self._append_sqlite_aio(plan, base_size)
            return
        await asyncio.to_thread(self._append_sqlite_sync, plan, base_size)

    def _append_sqlite_sync(self, plan: AppendPlan, base_size: int) -> None:
        # A threading lock, not an asyncio one: if the awaiting task is cancelled, the thread
        # still runs to its end, and the next append must wait for it.
        with self._sqlite_writer_lock:
            db = self._sqlite_writer
            if db is None:
                assert self._sqlite_file is not None
                db = sqlite3.connect(
                    self._sqlite_file, timeout=30, isolation_level=None, check_same_thread=False
                )
                # What consentry_shared.db sets on every SQLite connection, and the ledger's own.
                for pragma in (
                    "PRAGMA journal_mode=WAL",
                    "PRAGMA synchronous=NORMAL",
                    "PRAGMA foreign_keys=ON",
                    *SQLITE_PRAGMAS,
                ):
                    db.execute(pragma)
                self._sqlite_writer = db
            db.execute("BEGIN IMMEDIATE")
            try:
                current = db.execute(SQLITE_LOG_SIZE).fetchone()[0]
                if current != base_size:
                    raise AppendConflict(f"log has {current} entries, expected {base_size}")
                if plan.entries:
                    db.executemany(*self._sqlite_entry_insert(plan.entries))
                    db.execute(
                        SQLITE_INSERT_CHECKPOINT,
                        (
                            plan.tree.size,
                            plan.checkpoint_note,
                            plan.tree.to_bytes(),
                            _sqlite_datetime(utc_now()),
                        ),
                    )
                if plan.offsets:
                    db.executemany(SQLITE_UPSERT_OFFSETS, [(t, p, o) for (t, p), o in plan.offsets.items()])
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    async def _append_sqlite_aio(self, plan: AppendPlan, base_size: int) -> None:
        """The same transaction on the engine's own connection (an in-memory database, which
        a second connection would not see)."""
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            db: Any = raw.driver_connection  # an aiosqlite.Connection, this pool slot's
            await db.execute("BEGIN IMMEDIATE")
            try:
                current = (await db.execute_fetchall(SQLITE_LOG_SIZE))[0][0]
                if current != base_size:
                    raise AppendConflict(f"log has {current} entries, expected {base_size}")
                if plan.entries:
                    await db.executemany(*self._sqlite_entry_insert(plan.entries))
                    await db.execute(
                        SQLITE_INSERT_CHECKPOINT,
                        (
                            plan.tree.size,
                            plan.checkpoint_note,
                            plan.tree.to_bytes(),
                            _sqlite_datetime(utc_now()),
                        ),
                    )
                if plan.offsets:
                    await db.executemany(
                        SQLITE_UPSERT_OFFSETS, [(t, p, o) for (t, p), o in plan.offsets.items()]
                    )
            except BaseException:
                # A refused statement leaves SQLite's transaction open. If ROLLBACK fails too,
                # the pool's reset-on-return rolls back before the connection is reused.
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _insert_entries(self, conn: AsyncConnection, entries: Sequence[SequencedEntry]) -> None:
        """Bulk insert on PostgreSQL by binary ``COPY``, bypassing SQLAlchemy's per-row parameter
        handling (the append hot path; SQLite appends go through :meth:`_append_sqlite`)."""
        rows: Sequence[tuple[Any, ...]]
        columns: Sequence[str]
        if self._legacy_entries:
            rows, columns = legacy_entry_rows(entries), LEGACY_ENTRY_COLUMNS
        else:
            rows, columns = entry_rows(entries), ENTRY_COLUMNS
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection  # an asyncpg.Connection, in this transaction
        await driver.copy_records_to_table("ledger_entry", records=rows, columns=columns)

    def _sqlite_entry_insert(
        self, entries: Sequence[SequencedEntry]
    ) -> tuple[str, Sequence[tuple[Any, ...]]]:
        """The SQLite statement and rows that insert ``entries`` into this database's layout."""
        if self._legacy_entries:
            return SQLITE_INSERT_LEGACY_ENTRIES, legacy_entry_rows(entries)
        return SQLITE_INSERT_ENTRIES, entry_rows(entries)

    async def leaves(self, start: int, end: int) -> list[bytes]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_entry.c.leaf).where(_entry.c.idx >= start, _entry.c.idx < end).order_by(_entry.c.idx)
            )
            return [bytes(r[0]) for r in rows]

    async def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_entry.c.leaf_hash)
                .where(_entry.c.idx >= start, _entry.c.idx < end)
                .order_by(_entry.c.idx)
            )
            return [bytes(r[0]) for r in rows]

    async def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_checkpoint.c.size, _checkpoint.c.note, _checkpoint.c.tree).where(
                        _checkpoint.c.size == size
                    )
                )
            ).first()
        return StoredCheckpoint(size=row.size, note=row.note, tree=row.tree) if row else None

    async def index_of_event(self, event_id: str) -> int | None:
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(
                    # The key is what the log holds unique: equal keys are the same event id.
                    select(_entry.c.idx).where(_entry.c.event_key == event_key(event_id))
                )
            ).scalar_one_or_none()
        return None if value is None else int(value)

    async def indexes_of_item(self, manifest_id: str, item_id: str) -> list[int]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_entry.c.idx)
                .where(_entry.c.manifest_id == manifest_id, _entry.c.item_id == item_id)
                .order_by(_entry.c.idx)
            )
            return [int(r[0]) for r in rows]

    async def add_cosignature(self, size: int, key_id: bytes, witness: str, line: str) -> bool:
        insert: Any = (sqlite_insert if self._sqlite else pg_insert)(_cosignature)
        async with self._engine.begin() as conn:
            await self._assume_writer_role(conn)
            result = await conn.execute(
                insert.values(
                    size=size, key_id=key_id, witness=witness, line=line, received_at=utc_now()
                ).on_conflict_do_nothing(index_elements=["size", "key_id"])
            )
        return bool(result.rowcount)

    async def cosignatures(self, size: int) -> list[str]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(_cosignature.c.line)
                .where(_cosignature.c.size == size)
                .order_by(_cosignature.c.witness, _cosignature.c.key_id)
            )
            return [r[0] for r in rows]

    async def latest_cosigned_size(self, key_ids: Sequence[bytes], quorum: int) -> int | None:
        if not key_ids:
            return None
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(
                    select(_cosignature.c.size)
                    .where(_cosignature.c.key_id.in_(list(key_ids)))
                    .group_by(_cosignature.c.size)
                    .having(func.count(func.distinct(_cosignature.c.key_id)) >= quorum)
                    .order_by(_cosignature.c.size.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
        return None if value is None else int(value)

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
            await self._assume_writer_role(conn)
            await conn.execute(
                insert.values(key=_PUBLISHED, value=size).on_conflict_do_update(
                    index_elements=["key"], set_={"value": insert.excluded.value}
                )
            )

    async def ping(self) -> None:
        async with self._engine.connect() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        with self._sqlite_writer_lock:
            if self._sqlite_writer is not None:
                self._sqlite_writer.close()
                self._sqlite_writer = None
        await self._engine.dispose()
