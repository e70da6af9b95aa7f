"""Throughput of the transparency-log primitives, against raw ``hashlib`` first.

    .venv/bin/python bench/bench_tlog.py [--entries 200000] [--size 500] [--rounds 3]

Prints (best of ``--rounds``):

- reference: ``hashlib.sha256(leaf).digest()`` over ``--entries`` leaves of ``--size`` bytes,
  the floor any pure-Python leaf hashing pays;
- ``leaf_hashes`` (RFC 6962 leaf hashes) and ``root_from_leaf_hashes`` (the root from them);
- ``CompactRange.append`` one leaf hash at a time, and ``CompactRange.extend``;
- ``canonical_json`` of a ~1 KB decision-like event, against ``json.dumps(sort_keys=True)``;
- ``write_export`` and ``verify_export`` of a log of ``--entries`` entries (entries/s),
  the latter with no ``entry_check`` so it measures the library alone.

Compare machines by the ratio to the reference line, not by absolute numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from consentry_shared.tlog import (
    Checkpoint,
    CompactRange,
    Signer,
    canonical_json,
    leaf_hashes,
    root_from_leaf_hashes,
    sign_note,
    verify_export,
    write_export,
)


def best_rate(count: int, rounds: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=500, help="bytes per entry (average)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = args.entries, args.rounds

    seed = os.urandom(args.size * 2)
    entries = [
        b'{"index":%d,' % i + seed[(i * 7) % args.size : (i * 7) % args.size + args.size - 14]
        for i in range(n)
    ]
    average = sum(map(len, entries)) / n
    print(f"{n:,} entries of ~{average:.0f} bytes, best of {rounds}")

    sha256 = hashlib.sha256
    rate = best_rate(n, rounds, lambda: [sha256(e).digest() for e in entries])
    print(f"  reference hashlib.sha256(leaf)        {rate:>12,.0f} leaves/s")
    rate = best_rate(n, rounds, lambda: leaf_hashes(entries))
    print(f"  leaf_hashes                           {rate:>12,.0f} leaves/s")
    hashes = leaf_hashes(entries)
    rate = best_rate(n, rounds, lambda: root_from_leaf_hashes(hashes))
    print(f"  root_from_leaf_hashes                 {rate:>12,.0f} leaves/s")

    def append_each() -> None:
        compact = CompactRange()
        for value in hashes:
            compact.append(value)

    rate = best_rate(n, rounds, append_each)
    print(f"  CompactRange.append                   {rate:>12,.0f} leaves/s")
    rate = best_rate(n, rounds, lambda: CompactRange().extend(hashes))
    print(f"  CompactRange.extend                   {rate:>12,.0f} leaves/s")

    event = {
        "index": 123456,
        "topic": "decisions.v1",
        "partition": 3,
        "offset": 987654,
        "decision": {
            "item_id": "it_9f8e7d6c5b4a",
            "verdict": {"generative_training": "CONSENT", "inference": "UNKNOWN", "search": "CONSENT"},
            "reasons": ["deal-matched", "reservation-tdmrep", "licence-cc-by"],
            "evidence": [
                {"signal": "tdmrep", "raw": "1", "url": "https://example.com/.well-known/tdmrep.json",
                 "sha256": "ab" * 32, "fetched_at": "2025-06-01T00:00:00Z"}
                for _ in range(4)
            ],
        },
    }  # fmt: skip
    events = n // 4
    rate = best_rate(
        events,
        rounds,
        lambda: [
            json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            for _ in range(events)
        ],
    )
    print(f"  reference json.dumps(sort_keys) ~1 KB  {rate:>12,.0f} events/s")
    rate = best_rate(events, rounds, lambda: [canonical_json(event) for _ in range(events)])
    print(f"  canonical_json ~1 KB                  {rate:>12,.0f} events/s")

    signer = Signer.generate("bench.consentry.example/log")
    root = root_from_leaf_hashes(hashes)
    note = sign_note(Checkpoint(signer.name, n, root).to_text(), [signer])
    with tempfile.TemporaryDirectory() as scratch:

        def export() -> None:
            target = Path(tempfile.mkdtemp(dir=scratch))
            write_export(target, note, signer.vkey, lambda start, end: entries[start:end])

        rate = best_rate(n, rounds, export)
        print(f"  write_export (fresh)                  {rate:>12,.0f} entries/s")
        directory = Path(scratch) / "verify"
        write_export(directory, note, signer.vkey, entries)
        rate = best_rate(n, rounds, lambda: verify_export(directory, signer.vkey))
        print(f"  verify_export                         {rate:>12,.0f} entries/s")
        since = sign_note(
            Checkpoint(signer.name, n // 3, root_from_leaf_hashes(hashes[: n // 3])).to_text(), [signer]
        )
        rate = best_rate(n, rounds, lambda: verify_export(directory, signer.vkey, since=since))
        print(f"  verify_export --since                 {rate:>12,.0f} entries/s")


if __name__ == "__main__":
    main()
