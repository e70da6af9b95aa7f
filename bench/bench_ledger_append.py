"""Append throughput of the ledger, batch by batch, through the real store, signing included.

    .venv/bin/python bench/bench_ledger_append.py [--entries 200000] [--batch 1000]

Decisions look like production ones (UUID event ids, one evidence record, ~490-byte leaves).
Each batch is what the ledger does per consumed Kafka batch: look up which event ids are already
logged, sequence (canonical leaf, leaf hash, tree, one signed Ed25519 checkpoint), and store
entries, checkpoint and offsets in one transaction. Printed, entries/s:

- references, same run: ``hashlib.sha256`` over the leaves (the floor of any hashing), pymerkle's
  ``InmemoryTree.append_entry`` (if installed), and raw ``sqlite3.executemany`` of the same,
  prepared rows into the same schema (the floor of the SQLite store: indexes and WAL writes,
  no Python per entry but the driver's);
- ``sequence only``: the CPU part, no database;
- ``append (SQLite file)`` and, when ``DATABASE_URL`` is set, ``append (PostgreSQL)``: the
  ledger's append step through :class:`SqlLedgerStore` (a fresh database, dropped afterwards);
- ``service (SQLite file)``: :meth:`LedgerService.append_records` from raw Kafka record bytes:
  validation, the append step, the hash cache and the outbox publish (to a null publisher).

Targets (issue 4): 100,000/s on SQLite and 50,000/s on PostgreSQL. The machine matters: compare
with the references printed by the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opentelemetry import trace

from consentry_ledger.adapters.sql import SQLITE_INSERT_ENTRIES, SQLITE_PRAGMAS, SqlLedgerStore, entry_rows
from consentry_ledger.domain import AppendPlan, PositionedDecision, sequence_batch
from consentry_ledger.service import LedgerService
from consentry_shared.contracts.v1 import DecisionEvent, Evidence
from consentry_shared.kafka import InRecord, OutRecord
from consentry_shared.tlog import CompactRange, Signer

ORIGIN = "bench.example/ledger"
SIGNER = Signer.generate(ORIGIN)
TOPIC = "decisions.v1"


def decisions(count: int, first: int = 0) -> list[PositionedDecision]:
    """``count`` decisions numbered from ``first`` (their source offsets follow on)."""
    start = datetime(2026, 11, 27, tzinfo=UTC)
    out = []
    for n in range(first, first + count):
        decision = DecisionEvent(
            event_id=str(uuid.uuid4()),
            item_event_id=str(uuid.uuid4()),
            manifest_id=f"m-{n // 50_000:04d}-5f1c2b9a7e",
            item_id=f"img-{n:09d}",
            platform="acme-ai",
            purpose="ai-generative-training",
            url=f"https://images.example.org/collections/{n % 977}/photo-{n}.jpg",
            verdict="violation" if n % 5 == 0 else "consent",
            reasons=["reservation:tdmrep"] if n % 5 == 0 else ["licence:CC-BY-4.0"],
            evidence=[
                Evidence(
                    signal="registry.reservation" if n % 5 == 0 else "manifest.license",
                    ref=f"https://images.example.org/.well-known/tdmrep.json#{n % 977}",
                    value="tdm-reservation=1" if n % 5 == 0 else "CC-BY-4.0",
                    seen_at=start,
                )
            ],
            policy_version="consentry-policy/2026-11",
            registry_version=1842,
            decided_at=start + timedelta(microseconds=n),
        )
        out.append(PositionedDecision(decision, TOPIC, n % 6, n // 6))
    return out


def batches(items: Sequence[PositionedDecision], size: int) -> list[Sequence[PositionedDecision]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Clock:
    """Wall-clock and CPU time (this process, all its threads) since it was made."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()


def report(label: str, count: int, clock: Clock, target: int | None = None) -> None:
    """Entries/s by the wall clock, and CPU microseconds per entry of this process (for
    PostgreSQL the server's CPU is not in it). The machine is shared: the CPU figure moves less."""
    wall, cpu = time.perf_counter() - clock.wall, time.process_time() - clock.cpu
    rate = count / wall
    verdict = ""
    if target:
        verdict = f"   target {target:,}: {'met' if rate >= target else 'NOT met'}"
    print(f"  {label:<38} {rate:>12,.0f} entries/s {cpu / count * 1e6:6.2f} us CPU{verdict}", flush=True)


def plan_all(items: Sequence[PositionedDecision], size: int) -> list[AppendPlan]:
    tree = CompactRange()
    plans = []
    for batch in batches(items, size):
        plan = sequence_batch(batch, tree=tree, known_event_ids=(), origin=ORIGIN, signer=SIGNER)
        tree = plan.tree
        plans.append(plan)
    return plans


def reference_hashlib(leaves: list[bytes]) -> None:
    sha256 = hashlib.sha256
    started = Clock()
    for leaf in leaves:
        sha256(leaf).digest()
    report("reference hashlib.sha256(leaf)", len(leaves), started)


def reference_pymerkle(leaves: list[bytes]) -> None:
    try:
        from pymerkle import InmemoryTree  # type: ignore[import-not-found]
    except ImportError:
        print("  reference pymerkle                     not installed (uv add --group dev pymerkle)")
        return
    tree = InmemoryTree(algorithm="sha256")
    started = Clock()
    for leaf in leaves:
        tree.append_entry(leaf)
    report("reference pymerkle InmemoryTree.append", len(leaves), started)


def reference_sqlite(plans: list[AppendPlan], directory: Path) -> None:
    """The same rows, the same schema (made by the store), raw sqlite3.executemany per batch."""
    path = directory / "raw.db"
    asyncio.run(_initialise(f"sqlite:///{path}"))
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    for pragma in SQLITE_PRAGMAS:  # the store's own, so the floor is the store's floor
        connection.execute(pragma)
    rows = [entry_rows(plan.entries) for plan in plans]
    count = sum(len(r) for r in rows)
    started = Clock()
    for batch in rows:
        connection.execute("BEGIN")
        connection.executemany(SQLITE_INSERT_ENTRIES, batch)
        connection.execute("COMMIT")
    report("reference raw sqlite3 insert (floor)", count, started)
    connection.close()


async def _initialise(url: str) -> None:
    store = SqlLedgerStore.from_url(url)
    await store.initialise()
    await store.close()


def sequence_only(items: Sequence[PositionedDecision], size: int) -> None:
    started = Clock()
    plan_all(items, size)
    report("sequence only (no database)", len(items), started)


async def append_through_store(
    label: str, url: str, items: Sequence[PositionedDecision], size: int, target: int
) -> None:
    store = SqlLedgerStore.from_url(url)
    await store.initialise()
    tree = CompactRange()
    expect_repeats = True  # as LedgerService._append: ask the store only while repeats come
    started = Clock()
    for batch in batches(items, size):
        known: set[str] = set()
        if expect_repeats:
            known = await store.known_event_ids([p.decision.event_id for p in batch])
            expect_repeats = bool(known)
        plan = sequence_batch(batch, tree=tree, known_event_ids=known, origin=ORIGIN, signer=SIGNER)
        await store.append(plan, base_size=tree.size)
        tree = plan.tree
    report(label, len(items), started, target)
    await store.close()
    assert tree.size == len(items)


class NullPublisher:
    async def publish(self, topic: str, records: Sequence[OutRecord]) -> None:
        return None


async def service_step(label: str, url: str, items: Sequence[PositionedDecision], size: int) -> None:
    records = [
        InRecord(p.topic, p.partition, p.offset, None, p.decision.model_dump_json().encode(), {})
        for p in items
    ]
    gc.collect()
    gc.freeze()  # the records are the benchmark's input (see main)
    store = SqlLedgerStore.from_url(url)
    await store.initialise()
    service = LedgerService(
        store, SIGNER, NullPublisher(), origin=ORIGIN, topic_of=str, tracer=trace.get_tracer("bench")
    )
    await service.start()
    started = Clock()
    for start in range(0, len(records), size):
        await service.append_records(records[start : start + size])
    report(label, len(items), started)
    await store.close()
    assert service.size == len(items)


async def fresh_postgres(url: str) -> tuple[str, str]:
    import asyncpg  # type: ignore[import-untyped]

    name = f"bench_ledger_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.rsplit("/", 1)[0] + f"/{name}", name


async def drop_postgres(url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    n, size = args.entries, args.batch

    items = decisions(n)
    plans = plan_all(items, size)
    leaves = [e.leaf for p in plans for e in p.entries]
    # The inputs (hundreds of thousands of pydantic objects) are the benchmark's, not the ledger's:
    # keep the garbage collector from walking them on every collection.
    gc.collect()
    gc.freeze()
    print(f"{n:,} decisions, batches of {size}, leaves of ~{sum(map(len, leaves)) // n} bytes")
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        reference_hashlib(leaves)
        reference_pymerkle(leaves[: min(n, 50_000)])
        reference_sqlite(plans, directory)
        sequence_only(items, size)
        asyncio.run(
            append_through_store(
                "append (SQLite file)", f"sqlite:///{directory / 'a.db'}", items, size, 100_000
            )
        )
        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            url, name = asyncio.run(fresh_postgres(database_url))
            try:
                asyncio.run(append_through_store("append (PostgreSQL)", url, items, size, 50_000))
            finally:
                asyncio.run(drop_postgres(database_url, name))
        else:
            print("  append (PostgreSQL)                    skipped: DATABASE_URL is not set")
        asyncio.run(
            service_step("service step (SQLite file)", f"sqlite:///{directory / 's.db'}", items, size)
        )


if __name__ == "__main__":
    main()
