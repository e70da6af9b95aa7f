"""``consentry ledger verify`` of an export, entries per second.

    .venv/bin/python bench/bench_ledger_verify.py [--entries 1000000]

Builds a tlog-tiles export of ``--entries`` production-like entries (the ledger's own sequencer
and ``write_export``), then measures, best of two:

- reference: ``hashlib.sha256`` over the same leaves;
- ``verify_export`` alone: signature, every entry re-hashed against its tile, every tile level,
  the root (what the library checks);
- ``consentry ledger verify``: the above plus, per entry, the ledger schema, the RFC 8785 form,
  the index and per-partition offsets (what the CLI runs; ``verify_log``).

Target (issue 4): 500,000 entries/s for an export of 1,000,000 entries.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import sys
import tempfile
import time
from pathlib import Path

from consentry.ledger_tools import verify_log
from consentry_ledger.domain import sequence_batch
from consentry_shared.tlog import CompactRange, verify_export, write_export

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger_append import ORIGIN, SIGNER, batches, decisions


def best(count: int, run: object) -> float:
    times = []
    for _ in range(2):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return count / min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.entries
    started = time.perf_counter()
    leaves: list[bytes] = []
    tree = CompactRange()
    note = ""
    for first in range(0, n, 100_000):
        for batch in batches(decisions(min(100_000, n - first), first), 1000):
            plan = sequence_batch(batch, tree=tree, known_event_ids=(), origin=ORIGIN, signer=SIGNER)
            tree = plan.tree
            leaves += [e.leaf for e in plan.entries]
            note = plan.checkpoint_note or note
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        write_export(directory, note, SIGNER.vkey, leaves)
        print(
            f"export of {n:,} entries (~{sum(map(len, leaves)) // n} bytes) built in "
            f"{time.perf_counter() - started:.0f} s"
        )
        sha256 = hashlib.sha256
        rate = best(n, lambda: [sha256(leaf).digest() for leaf in leaves])
        print(f"  {'reference hashlib.sha256(leaf)':<36} {rate:>12,.0f} entries/s")
        rate = best(n, lambda: verify_export(directory, SIGNER.vkey))
        print(f"  {'verify_export (structure)':<36} {rate:>12,.0f} entries/s")

        def cli() -> None:
            result = verify_log(directory, vkey=SIGNER.vkey, since=None, save=None)
            assert result.ok, result.message

        rate = best(n, cli)
        verdict = "met" if rate >= 500_000 else "NOT met"
        print(f"  {'consentry ledger verify':<36} {rate:>12,.0f} entries/s   target 500,000: {verdict}")


if __name__ == "__main__":
    main()
