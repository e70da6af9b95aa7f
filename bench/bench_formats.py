"""Throughput of the Parquet (and CDXJ) readers on LAION-shaped data, against pyarrow alone.

    .venv/bin/python bench/bench_formats.py [--items 200000] [--rounds 3] [--batch-rows 8192]

Builds, in memory, a LAION/img2dataset-shaped Parquet file (``key``, ``url``, ``caption``,
``LICENSE`` as Creative Commons URLs, ``sha256``, plus ``width``/``height``/``similarity`` that
the reader skips) and a Common Crawl-shaped CDXJ index of the same size, then prints items/s
of CPU time (best of ``--rounds``) for:

- ``pyarrow.parquet.read_table`` alone: decoding the file into Arrow memory, the reference;
- ``read_table`` + ``to_pylist`` of the five columns used: the floor of any Python reader,
  which must hand Python strings to the item checks;
- ``read_parquet``: parse + validate (URL canonicalisation, hashes, ids, duplicate index,
  licence mapping) into ``RawItem``;
- the same + ``to_event`` (the validated ``items.v1`` event): what ingest published before;
- the same + ``ItemEventWriter.record`` (the same event's bytes, by msgspec): what it publishes;
- ``read_parquet`` without an id column (ids are row numbers: no duplicate index);
- ``CdxjParser``: parse + validate a CDXJ index (JSON per line, base32 digests).
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from consentry_ingest.domain import RawItem, manifest_id_for, to_event
from consentry_ingest.domain.formats import CdxjParser, read_parquet
from consentry_ingest.domain.wire import ItemEventWriter
from consentry_shared.contracts.v1 import Purpose

SUBMITTED_AT = datetime(2025, 1, 1, tzinfo=UTC)
LICENCES = (
    "https://creativecommons.org/licenses/by/4.0/",
    "https://creativecommons.org/licenses/by-nc-sa/2.0/",
    "?",
    "https://creativecommons.org/publicdomain/zero/1.0/",
)


def make_parquet(items: int, *, with_id: bool = True) -> bytes:
    columns: dict[str, list[object]] = {
        "url": [
            f"https://images{n % 50}.example.org/photos/{n // 1000}/{n:08d}.jpg?size=large"
            for n in range(items)
        ],
        "caption": [f"A photograph, number {n}, of a lake at dawn" for n in range(items)],
        "LICENSE": [LICENCES[n % len(LICENCES)] for n in range(items)],
        "sha256": [hashlib.sha256(str(n).encode()).hexdigest() for n in range(items)],
        "width": [512] * items,
        "height": [384] * items,
        "similarity": [0.31] * items,
    }
    if with_id:
        columns = {"key": [f"{n:09d}" for n in range(items)], **columns}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)  # pyarrow's defaults: snappy, 1M-row row groups
    return buffer.getvalue()


def make_cdxj(items: int) -> bytes:
    lines = []
    for n in range(items):
        digest = base64.b32encode(hashlib.sha1(str(n).encode(), usedforsecurity=False).digest()).decode()
        body = {
            "url": f"https://images{n % 50}.example.org/photos/{n:08d}.jpg",
            "mime": "image/jpeg",
            "mime-detected": "image/jpeg",
            "status": "200",
            "digest": digest,
            "length": "48213",
            "offset": str(n * 50_000),
            "filename": "crawl-data/CC-MAIN-2025-21/segments/1746990412231.65/warc/CC-MAIN-00410.warc.gz",
        }
        second = n % 86400
        stamp = f"20250512{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"
        lines.append(f"org,example,images{n % 50})/photos/{n:08d}.jpg {stamp} {json.dumps(body)}")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch-rows", type=int, default=8192)
    args = ap.parse_args()

    data = make_parquet(args.items)
    without_id = make_parquet(args.items, with_id=False)
    cdxj = make_cdxj(args.items)
    manifest_id = manifest_id_for("acme", "bench", hashlib.sha256(data).hexdigest())
    print(
        f"{args.items} rows: Parquet {len(data) / 1e6:.1f} MB (7 columns, 5 read), "
        f"CDXJ {len(cdxj) / 1e6:.1f} MB; pyarrow {pa.__version__}"
    )

    def read_table() -> int:
        return int(pq.read_table(io.BytesIO(data)).num_rows)

    def read_table_to_python() -> int:
        table = pq.read_table(io.BytesIO(data), columns=["key", "url", "caption", "LICENSE", "sha256"])
        columns = [table.column(name).to_pylist() for name in table.column_names]
        return len(columns[0])

    def parquet(source: bytes, build: Callable[[RawItem], object] | None = None) -> Callable[[], int]:
        def run() -> int:
            count = 0
            for batch in read_parquet(io.BytesIO(source), batch_rows=args.batch_rows):
                for parsed in batch:
                    if type(parsed) is not RawItem:
                        raise SystemExit(f"unexpected error: {parsed}")
                    if build is not None:
                        build(parsed)
                    count += 1
            return count

        return run

    def event(raw: RawItem) -> object:
        return to_event(
            raw,
            manifest_id=manifest_id,
            platform="acme",
            purpose=Purpose.AI_TRAINING,
            territory=None,
            commercial=True,
            submitted_at=SUBMITTED_AT,
        )

    writer = ItemEventWriter(
        manifest_id=manifest_id,
        platform="acme",
        purpose=Purpose.AI_TRAINING,
        territory=None,
        commercial=True,
        submitted_at=SUBMITTED_AT,
    )

    def cdxj_parse() -> int:
        parser = CdxjParser()
        count = 0
        chunks = [cdxj[start : start + (1 << 20)] for start in range(0, len(cdxj), 1 << 20)]
        for results in [*map(parser.feed, chunks), parser.close()]:
            for parsed in results:
                if type(parsed) is not RawItem:
                    raise SystemExit(f"unexpected error: {parsed}")
                count += 1
        return count

    cases: list[tuple[str, Callable[[], int]]] = [
        ("pyarrow.parquet.read_table alone (reference)", read_table),
        ("read_table + to_pylist of the 5 columns used", read_table_to_python),
        ("read_parquet: parse + validate", parquet(data)),
        ("read_parquet + ItemEvent (to_event, validated)", parquet(data, event)),
        ("read_parquet + items.v1 record (ItemEventWriter)", parquet(data, writer.record)),
        ("read_parquet, no id column (row-number ids)", parquet(without_id)),
        ("CdxjParser: parse + validate", cdxj_parse),
    ]
    reference = 0.0
    for name, run in cases:
        seconds, count = best_of(args.rounds, run)
        if count != args.items:
            raise SystemExit(f"{name}: {count} results for {args.items} rows")
        rate = count / seconds
        reference = reference or rate
        print(
            f"{name:<48} {rate:>11,.0f} items/s  {seconds * 1e6 / count:6.2f} us/item  "
            f"{reference / rate:6.1f}x read_table"
        )


if __name__ == "__main__":
    main()
