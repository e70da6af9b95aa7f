"""Memory of the rights registry view: one instance holding all of items.v1's partitions vs one
holding its share (default 3 of 6), with N hash-keyed reservations (default 1,000,000).

Each configuration runs in a child process of its own, doing what the rights service does on a
rebalance: the registry arrives in pages of 5,000 JSON bodies (as the store keeps them), each
record is parsed and handed to the service's ``ViewBuilder``, which keeps the share's hash-only
reservations in ``CompactReservations`` (about 90 bytes each) and only the hash of the others,
and indexes the rest. The reference in the same run, ``plain``: the same whole registry with
every record held as a pydantic object (``ViewBuilder(compact=False)``, the service before the
compact store was wired in). tracemalloc
counts the bytes still allocated afterwards (what the view holds: records, indexes, left-out
hashes) and the peak during the rebuild; VmRSS and VmHWM are printed too. ``--snapshot`` parses
the whole registry into one list first and filters it afterwards (how an unsharded instance
reads it): its peak is the whole registry whatever the share.

Every child times ``decide_batch`` on items whose hashes are keyed to held partitions (half of
them with a reserved hash: a compact view rebuilds those reservations as records on each hit,
the plain one has them; the plain one has a million objects for the garbage collector to
traverse). The sharded child's figures also give, on the same items, the per-item
check a sharded instance runs on every batch (``ShardedRecords.missing``: is the item's hash
among those left out?) and, for comparison, murmur2 of each item's key (what the check would
cost by partition), against ``decide_batch`` on the same items and view: the reference,
measured in the same run. Parse and rebuild times are taken under tracemalloc, which slows
every allocation; they are there for proportion, not as the service's rebuild time.

    .venv/bin/python bench/bench_registry_shard.py [--records N] [--partitions P] [--held K]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.sharding import RegistryShard, ShardedRecords
from consentry_rights.service import ViewBuilder
from consentry_rights.settings import RightsSettings
from consentry_shared.contracts.v1 import ItemEvent, registry_record_adapter
from consentry_shared.kafka import partition_for

PURPOSES = [["all"], ["ai-all"], ["ai-training"], ["ai-generative-training"]]
AT = datetime(2026, 6, 1, tzinfo=UTC)
PAGE = 5000  # the service's page of registry records


def sha(n: int) -> str:
    return hashlib.sha256(f"work-{n}".encode()).hexdigest()


def record_json(n: int) -> bytes:
    """A hash-only reservation as the store keeps it (an import line)."""
    return json.dumps(
        {
            "kind": "reservation",
            "id": f"society-{n % 50}:res-{n}",
            "holder": f"society-{n % 50}",
            "match": {"sha256": sha(n)},
            "purposes": PURPOSES[n % len(PURPOSES)],
            "from": f"20{20 + n % 6}-01-01T00:00:00Z",
        }
    ).encode()


def proc_status() -> dict[str, int]:
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) * 1024
    return found


def child(
    count: int, partitions: int, held: int, *, traced: bool, snapshot: bool, compact: bool
) -> dict[str, Any]:
    share = RegistryShard(partitions, frozenset(range(held)), partition_for)
    gc.collect()
    rss_before = proc_status()["VmRSS"]
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    builder = ViewBuilder(share, compact=compact)
    if snapshot:
        records = [registry_record_adapter.validate_json(record_json(n)) for n in range(count)]
        for record in records:
            builder.add(record)
        del records
    else:
        for start in range(0, count, PAGE):
            page = [record_json(n) for n in range(start, min(count, start + PAGE))]
            for body in page:
                builder.add(registry_record_adapter.validate_json(body))
    parsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    view, kept = builder.build(1)
    rebuild = time.perf_counter() - t1
    gc.collect()
    held_bytes, peak_bytes = tracemalloc.get_traced_memory() if traced else (0, 0)
    if traced:
        tracemalloc.stop()
    status = proc_status()
    result: dict[str, Any] = {
        "held": held,
        "compact": compact,
        "held_compactly": builder.held_compactly,
        "records": len(view),
        "hash_keyed": kept.hash_keyed_kept,
        "left_out": kept.hash_keyed_left_out,
        "view_bytes": held_bytes,
        "peak_bytes": peak_bytes,
        "rss_delta": status["VmRSS"] - rss_before,
        "hwm": status["VmHWM"],
        "parse_s": parsed,
        "rebuild_s": rebuild,
    }
    result["left_out_set_bytes"] = kept.left_out.nbytes()
    result.update(check_cost(view, kept, share, count))
    return result


def check_cost(view: Any, kept: ShardedRecords, share: RegistryShard, count: int) -> dict[str, float]:
    """Microseconds per item: the batch check, murmur2 of the key, decide_batch; on items of held
    partitions (half with a reserved hash, half with an unregistered one)."""
    hashes = [s for s in (sha(n) for n in range(min(count, 40_000))) if share.holds_hash(s)][:10_000]
    hashes += [s for s in (sha(-1 - n) for n in range(40_000)) if share.holds_hash(s)][: len(hashes)]
    items = [
        ItemEvent(
            event_id=f"e{n}",
            manifest_id="m",
            item_id=f"i{n}",
            line=n + 1,
            platform="acme-ai",
            purpose="ai-training",
            url=f"https://site{n % 997}.example/{n}.jpg",
            sha256=h,
            license="CC-BY-4.0",
            submitted_at=AT,
        )
        for n, h in enumerate(hashes)
    ]
    policy = RightsSettings().policy()
    best_check = best_murmur = best_decide = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        missing = kept.missing(item.sha256 for item in items)
        best_check = min(best_check, time.perf_counter() - t0)
        assert not missing
        t0 = time.perf_counter()
        outside = [item for item in items if item.sha256 is not None and not share.holds_hash(item.sha256)]
        best_murmur = min(best_murmur, time.perf_counter() - t0)
        assert not outside
        t0 = time.perf_counter()
        decide_batch(items, view, policy, AT)
        best_decide = min(best_decide, time.perf_counter() - t0)
    per_item = 1e6 / len(items)
    return {
        "items": len(items),
        "check_us": best_check * per_item,
        "murmur_us": best_murmur * per_item,
        "decide_us": best_decide * per_item,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--held", type=int, default=3, help="partitions held by the sharded instance")
    parser.add_argument(
        "--untraced",
        action="store_true",
        help="no tracemalloc: the service's parse and rebuild times, memory as RSS only",
    )
    parser.add_argument(
        "--snapshot", action="store_true", help="read the whole registry into one list, then filter"
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(
            json.dumps(
                child(
                    args.records,
                    args.partitions,
                    args.child,
                    traced=not args.untraced,
                    snapshot=args.snapshot,
                    compact=not args.plain,
                )
            )
        )
        return
    runs = []
    for held, plain in ((args.partitions, True), (args.partitions, False), (args.held, False)):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--records",
                str(args.records),
                "--partitions",
                str(args.partitions),
                "--child",
                str(held),
                *(["--untraced"] if args.untraced else []),
                *(["--snapshot"] if args.snapshot else []),
                *(["--plain"] if plain else []),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        runs.append(json.loads(out.splitlines()[-1]))
    mib = 1024 * 1024
    how = "one snapshot list, then filtered" if args.snapshot else f"read in pages of {PAGE:,}"
    print(
        f"registry view, {args.records:,} hash-only reservations ({how}), "
        f"items.v1 of {args.partitions} partitions"
    )
    for run in runs:
        form = "plain (reference)" if not run["compact"] else f"compact ({run['held_compactly']:,} compactly)"
        print(
            f"  holding {run['held']} of {args.partitions}, {form}: {run['records']:>9,} records "
            f"({run['left_out']:,} left out, their hashes in {run['left_out_set_bytes'] / mib:.1f} MiB)"
        )
        traced = "" if args.untraced else f"view holds {run['view_bytes'] / mib:.1f} MiB (tracemalloc), "
        traced += "" if args.untraced else f"rebuild peak {run['peak_bytes'] / mib:.1f} MiB; "
        print(f"    {traced}RSS +{run['rss_delta'] / mib:.0f} MiB, VmHWM {run['hwm'] / mib:.0f} MiB")
        clock = "no tracemalloc" if args.untraced else "under tracemalloc"
        print(f"    {clock}: parse + shard {run['parse_s']:.1f} s, index {run['rebuild_s']:.1f} s")
        print(f"    decide_batch {run['decide_us']:.2f} us per item ({run['items']:,} items, half hits)")
    plain_run, whole, part = runs
    if not args.untraced:
        ratio = whole["view_bytes"] / plain_run["view_bytes"]
        print(f"  compact / plain, whole registry, bytes held: {ratio:.3f}")
        print(f"  share / whole (compact), bytes held: {part['view_bytes'] / whole['view_bytes']:.3f}")
    print(f"  compact / plain, whole registry, RSS growth: {whole['rss_delta'] / plain_run['rss_delta']:.3f}")
    print(
        f"  per item, same run, {part['items']:,} items of held partitions: check {part['check_us']:.2f} us "
        f"(murmur2 of the key instead: {part['murmur_us']:.2f} us); decide_batch {part['decide_us']:.2f} us"
    )


if __name__ == "__main__":
    main()
