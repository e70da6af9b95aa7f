"""The bitemporal registry store: what keeping every version costs, and that the current snapshot
(what the engine loads) does not grow slower as the history grows.

Imports N reservations (default 100,000) as version 1, then K more imports (default 4) that each
re-import a fifth of them with a new purpose, so the history holds N + K*N/5 versions. Prints:

- import throughput (records/s) of the first import and of the re-imports (which also close the
  versions they replace);
- ``snapshot()`` (the current registry), ``snapshot(as_of_version=1)`` and a JSONL page walk of
  ``records_page`` at version 1, in seconds and records/s;
- references measured in the same run on the same database: a bare ``SELECT body`` of the current
  table through the driver (the I/O floor) and the pydantic parse of those bodies alone (the
  parse floor).

SQLite by default; with ``DATABASE_URL`` (``eval "$(make -s infra-env)"``) also PostgreSQL, in a
fresh database of its own.

    .venv/bin/python bench/bench_registry_store.py [--records N] [--reimports K]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from consentry_rights.adapters.store import RecordQuery, SqlRegistryStore
from consentry_shared.contracts.v1 import Reservation, registry_record_adapter

PURPOSES = [["ai-training"], ["all"], ["ai-all"], ["search"], ["ai-generative-training"]]


def reservation(n: int, round_: int) -> Reservation:
    return Reservation.model_validate(
        {
            "id": f"r{n:07d}",
            "holder": f"h{n % 97}",
            "match": {"url_prefix": f"https://site{n % 5000}.example/path/{n}/"},
            "purposes": PURPOSES[round_ % len(PURPOSES)],
            "from": "2024-01-01T00:00:00Z",
        }
    )


async def run(url: str, label: str, records: int, reimports: int) -> None:
    store = SqlRegistryStore.from_url(url)
    await store.initialise()
    first = [reservation(n, 0) for n in range(records)]
    started = time.perf_counter()
    await store.upsert(first)
    took = time.perf_counter() - started
    print(f"[{label}] first import: {records} records in {took:.2f} s = {records / took:,.0f} records/s")
    fifth = max(1, records // 5)
    total = 0.0
    for round_ in range(1, reimports + 1):
        again = [reservation(n, round_) for n in range((round_ - 1) * fifth % records, records)][:fifth]
        started = time.perf_counter()
        await store.upsert(again)
        total += time.perf_counter() - started
    if reimports:
        done = reimports * fifth
        print(f"[{label}] re-imports: {done} records in {total:.2f} s = {done / total:,.0f} records/s")

    started = time.perf_counter()
    version, current = await store.snapshot()
    took = time.perf_counter() - started
    print(f"[{label}] snapshot() v{version}: {len(current)} records in {took:.2f} s")
    started = time.perf_counter()
    _, old = await store.snapshot(as_of_version=1)
    took = time.perf_counter() - started
    print(
        f"[{label}] snapshot(as_of_version=1): {len(old)} records in {took:.2f} s = {len(old) / took:,.0f}/s"
    )
    started = time.perf_counter()
    listed, after = 0, None
    while page := await store.records_page(1, RecordQuery(), after=after, limit=2000):
        listed += len(page)
        after = page[-1][0], page[-1][1]
    took = time.perf_counter() - started
    print(f"[{label}] records_page walk at v1 (the JSONL listing): {listed} lines, {listed / took:,.0f}/s")

    # References, same run, same database.
    async with store._engine.connect() as conn:  # the bench reads the table directly
        started = time.perf_counter()
        bodies = [row[0] for row in (await conn.exec_driver_sql("SELECT body FROM rights_record")).all()]
        took = time.perf_counter() - started
    rate = len(bodies) / took
    print(f"[{label}] reference: bare SELECT body of the current table: {len(bodies)} rows, {rate:,.0f}/s")
    started = time.perf_counter()
    for body in bodies:
        registry_record_adapter.validate_json(body)
    took = time.perf_counter() - started
    print(f"[{label}] reference: pydantic parse of those bodies alone: {len(bodies) / took:,.0f}/s")
    await store.close()


async def postgres(url: str, records: int, reimports: int) -> None:
    import asyncpg

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base, _, _ = url.rpartition("/")
    try:
        await run(f"{base}/{name}", "postgresql", records, reimports)
    finally:
        admin = await asyncpg.connect(url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--reimports", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(run(f"sqlite:///{Path(scratch) / 'rights.db'}", "sqlite", args.records, args.reimports))
    if url := os.environ.get("DATABASE_URL"):
        asyncio.run(postgres(url, args.records, args.reimports))


if __name__ == "__main__":
    main()
