"""Throughput of the ingest domain on a JSONL manifest, against ``json.loads`` alone.

    .venv/bin/python bench/bench_parse.py [--items 200000] [--rounds 3] [--chunk 1048576]

Prints items/s of CPU time (best of ``--rounds``) for:

- ``json.loads`` over the same lines: the floor any Python JSONL parser pays;
- parse + validate (``ManifestParser`` fed ``--chunk``-byte chunks);
- parse + validate + build the ``ItemEvent`` with ``to_event`` (full pydantic validation);
- the same with ``ItemEvent.model_construct`` instead: the "skip validation" alternative that
  ``to_event`` rejected, kept here so the comparison can be re-run;
- the ``items.v1`` record bytes, through ``to_event`` and ``model_dump_json`` (what ingest
  published before) and through ``ItemEventWriter`` (msgspec, the same bytes: what it publishes);

and the memory the duplicate-id index costs per item.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import HttpUrl

from consentry_ingest.domain import (
    ManifestParser,
    RawItem,
    item_event_id,
    manifest_id_for,
    to_event,
)
from consentry_ingest.domain.id_index import IdIndex, id_digest
from consentry_ingest.domain.wire import ItemEventWriter
from consentry_shared.contracts.v1 import ItemEvent, Purpose

SUBMITTED_AT = datetime(2025, 1, 1, tzinfo=UTC)
LICENSES = ("CC-BY-4.0", "CC0-1.0", "MIT", "CC-BY-NC-SA-4.0", "LicenseRef-proprietary")


def make_manifest(items: int) -> bytes:
    header = {"manifest": {"id": "bench", "dataset": "bench", "platform": "acme"}}
    lines = [json.dumps(header)]
    for n in range(items):
        item: dict[str, str] = {
            "id": f"item-{n:08d}",
            "url": f"https://images{n % 50}.example.org/photos/{n // 1000}/{n:08d}.jpg?size=large",
            "sha256": hashlib.sha256(str(n).encode()).hexdigest(),
            "license": LICENSES[n % len(LICENSES)],
            "creator": f"photographer {n % 977}",
            "title": f"A photograph, number {n}",
            "media_type": "image/jpeg",
        }
        lines.append(json.dumps(item))
    return ("\n".join(lines) + "\n").encode()


def best_of(rounds: int, run: Callable[[], int]) -> tuple[float, int]:
    best = float("inf")
    count = 0
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        count = run()
        best = min(best, time.process_time() - start)
    return best, count


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=1 << 20)
    args = ap.parse_args()

    data = make_manifest(args.items)
    parts = chunks(data, args.chunk)
    lines = data.splitlines()[1:]
    manifest_id = manifest_id_for("acme", "bench", hashlib.sha256(data).hexdigest())
    print(f"{args.items} items, {len(data) / 1e6:.1f} MB, {len(parts)} chunks of {args.chunk} B")

    def loads_only() -> int:
        loads = json.loads
        for line in lines:
            loads(line.decode())
        return len(lines)

    def parse(build: Callable[[RawItem], object] | None) -> Callable[[], int]:
        def run() -> int:
            parser = ManifestParser("jsonl")
            count = 0
            for part in [*parts, None]:
                results = parser.close() if part is None else parser.feed(part)
                for parsed in results:
                    if type(parsed) is not RawItem:
                        raise SystemExit(f"unexpected error: {parsed}")
                    if build is not None:
                        build(parsed)
                    count += 1
            return count

        return run

    def validated(raw: RawItem) -> ItemEvent:
        return to_event(
            raw,
            manifest_id=manifest_id,
            platform="acme",
            purpose=Purpose.AI_TRAINING,
            territory=None,
            commercial=True,
            submitted_at=SUBMITTED_AT,
        )

    def constructed(raw: RawItem) -> object:
        return ItemEvent.model_construct(
            event_id=item_event_id(manifest_id, raw.id),
            manifest_id=manifest_id,
            item_id=raw.id,
            line=raw.line,
            platform="acme",
            purpose=Purpose.AI_TRAINING,
            territory=None,
            commercial=True,
            url=HttpUrl(raw.url),
            sha256=raw.sha256,
            md5=raw.md5,
            license=raw.license,
            creator=raw.creator,
            title=raw.title,
            media_type=raw.media_type,
            submitted_at=SUBMITTED_AT,
        )

    def dumped(raw: RawItem) -> object:
        return validated(raw).model_dump_json(exclude_none=True).encode()

    writer = ItemEventWriter(
        manifest_id=manifest_id,
        platform="acme",
        purpose=Purpose.AI_TRAINING,
        territory=None,
        commercial=True,
        submitted_at=SUBMITTED_AT,
    )

    cases: list[tuple[str, Callable[[], int]]] = [
        ("json.loads alone (reference)", loads_only),
        ("parse + validate", parse(None)),
        ("parse + validate + ItemEvent (to_event, validated)", parse(validated)),
        ("parse + validate + ItemEvent.model_construct", parse(constructed)),
        ("parse + validate + to_event + model_dump_json", parse(dumped)),
        ("parse + validate + ItemEventWriter.record (msgspec)", parse(writer.record)),
    ]
    reference = 0.0
    for name, run in cases:
        seconds, count = best_of(args.rounds, run)
        rate = count / seconds
        reference = reference or rate
        print(
            f"{name:<52} {rate:>9,.0f} items/s  {seconds * 1e6 / count:6.2f} us/item  "
            f"{reference / rate:5.1f}x json.loads"
        )

    # The one structure that grows with the manifest: digest of each id -> first line. The
    # IdIndex the parsers use, and a plain dict of the same entries as the reference.
    for label, make in (("IdIndex", IdIndex), ("dict[int, int] (reference)", dict)):
        gc.collect()
        tracemalloc.start()
        table: IdIndex | dict[int, int] = make()
        for n in range(args.items):
            digest = id_digest(f"item-{n:08d}")
            if isinstance(table, IdIndex):
                table.first_seen(digest, n + 1_000)
            else:
                table[digest] = n + 1_000
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del table
        print(f"duplicate-id index, {label}: peak {peak / args.items:.0f} bytes/item ({peak / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
