"""Resident memory of hash-keyed reservations: CompactReservations vs ordinary records.

Builds a CompactReservations of N sha256-only reservations (default 10,000,000) from a stream
of fields, as a registry snapshot would arrive from the store, and prints the process's
resident memory (VmRSS now, and the peak, VmHWM) before and after, the build time and the
lookup rate of a RegistryView over it (hits and misses). The reference, measured in a child
process of the same run: the same kind of reservations as pydantic records in an ordinary
RegistryView (default 1,000,000 of them, since 10 million would not fit on this machine).

    .venv/bin/python bench/bench_registry_rss.py [--count N] [--reference-count M] [--lookups L]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from consentry_rights.domain import RegistryView
from consentry_rights.domain.compact import CompactReservationsBuilder
from consentry_shared.contracts.v1 import Reservation

AT = datetime(2025, 6, 1, tzinfo=UTC)
STARTS = [AT - timedelta(days=d) for d in range(0, 900, 7)]
PURPOSES = [["all"], ["ai-all"], ["ai-training"], ["ai-generative-training"]]
HOLDERS = [f"society-{n}" for n in range(50)]


def memory() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process, in bytes."""
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) * 1024
    return found


def sha(n: int) -> str:
    return hashlib.sha256(n.to_bytes(8, "big")).hexdigest()


def fields(n: int) -> dict[str, object]:
    return {
        "record_id": f"res-{n}",
        "holder": HOLDERS[n % len(HOLDERS)],
        "sha256": sha(n),
        "purposes": PURPOSES[n % len(PURPOSES)],
        "valid_from": STARTS[n % len(STARTS)],
        "valid_until": None if n % 3 else AT + timedelta(days=365),
    }


def reference(count: int) -> None:
    """Child process: ordinary records in a RegistryView; prints its memory as JSON."""
    before = memory()
    started = time.perf_counter()
    records = []
    for n in range(count):
        row = fields(n)
        records.append(
            Reservation.model_validate(
                {
                    "id": row["record_id"],
                    "holder": row["holder"],
                    "match": {"sha256": row["sha256"]},
                    "purposes": row["purposes"],
                    "from": row["valid_from"],
                    "until": row["valid_until"],
                }
            )
        )
    view = RegistryView(reservations=records)
    del records
    gc.collect()
    after = memory()
    built = time.perf_counter() - started
    assert view.reservations_for("https://x.example/", sha(0))
    print(json.dumps({"count": count, "before": before, "after": after, "seconds": built}))


def gib(value: float) -> str:
    return f"{value / 2**30:.2f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10_000_000)
    parser.add_argument("--reference-count", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--reference-only", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference_only:
        reference(args.reference_only)
        return

    before = memory()
    started = time.perf_counter()
    builder = CompactReservationsBuilder()
    for n in range(args.count):
        builder.add_fields(**fields(n))  # type: ignore[arg-type]
    streamed = time.perf_counter() - started
    compact = builder.build()
    del builder
    gc.collect()
    built = time.perf_counter() - started
    view = RegistryView(hashed_reservations=compact)
    after = memory()

    rng = random.Random(1)
    known = [sha(rng.randrange(args.count)) for _ in range(args.lookups)]
    unknown = [sha(args.count + n) for n in range(args.lookups)]
    started = time.perf_counter()
    hits = sum(1 for digest in known if view.reservations_for("https://x.example/a", digest))
    hit_rate = args.lookups / (time.perf_counter() - started)
    started = time.perf_counter()
    misses = sum(1 for digest in unknown if not view.reservations_for("https://x.example/a", digest))
    miss_rate = args.lookups / (time.perf_counter() - started)
    assert hits == misses == args.lookups

    child = subprocess.run(
        [sys.executable, __file__, "--reference-only", str(args.reference_count)],
        check=True,
        capture_output=True,
        text=True,
    )
    ref = json.loads(child.stdout)

    held = after["VmRSS"] - before["VmRSS"]
    ref_held = ref["after"]["VmRSS"] - ref["before"]["VmRSS"]
    header = f"{'store':<44} {'records':>12} {'RSS':>10} {'peak RSS':>10} {'held':>10}"
    print(f"{header} {'bytes/rec':>9} {'build':>8}")
    print(
        f"{'CompactReservations (RegistryView over it)':<44} {len(compact):>12,} {gib(after['VmRSS']):>10} "
        f"{gib(after['VmHWM']):>10} {gib(held):>10} {held / len(compact):>9.0f} {built:>7.1f}s"
    )
    print(
        f"{'reference: pydantic records in RegistryView':<44} {ref['count']:>12,} "
        f"{gib(ref['after']['VmRSS']):>10} {gib(ref['after']['VmHWM']):>10} {gib(ref_held):>10} "
        f"{ref_held / ref['count']:>9.0f} {ref['seconds']:>7.1f}s"
    )
    print(
        f"compact arrays: {gib(compact.nbytes())}; streaming the rows took {streamed:.1f}s of the build; "
        f"the process started at {gib(before['VmRSS'])}"
    )
    print(
        f"lookups through RegistryView.reservations_for: {hit_rate:,.0f}/s on hits (a Reservation built "
        f"per hit), {miss_rate:,.0f}/s on misses"
    )


if __name__ == "__main__":
    main()
