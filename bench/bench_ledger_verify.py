"""``consentry ledger verify`` of an export, entries per second.

    .venv/bin/python bench/bench_ledger_verify.py [--entries 1000000]

Builds a tlog-tiles export of ``--entries`` production-like entries (the ledger's own sequencer
and ``write_export``), then measures, best of two:

- reference: ``hashlib.sha256`` over the same leaves;
- ``verify_export`` alone: signature, every entry re-hashed against its tile, every tile level,
  the root (what the library checks), one process;
- ``consentry ledger verify``: the above plus, per entry, the ledger schema, the RFC 8785 form,
  the index and per-partition offsets (what the CLI runs; ``verify_log``), step by step, in one
  process: the model path alone (``LedgerEntry.model_validate_json`` and the written form),
  the previous fast path (a pydantic-core validator translated from the model's schema, the
  values written back with ``to_json``; the reference for issue 4), the msgspec path (a bundle
  decoded into struct mirrors and written back, in C); then the msgspec path over ranges of
  bundles in one worker process per CPU (the default).

Each line also gives the CPU time per entry (this process and its workers): on a shared machine
the wall-clock rate depends on what else runs, the CPU time much less.

Target (issue 4): 500,000 entries/s for an export of 1,000,000 entries.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_core import SchemaValidator, core_schema, to_json

import consentry.ledger_tools
from consentry.ledger_tools import _EntryChecker, verify_log
from consentry_ledger.domain import sequence_batch
from consentry_shared.contracts.v1 import LedgerEntry
from consentry_shared.tlog import CompactRange, verify_export, write_export

sys.path.insert(0, str(Path(__file__).parent))
from bench_ledger_append import ORIGIN, SIGNER, batches, decisions


class ModelPath(_EntryChecker):
    """Every entry through the pydantic model (what verify did first)."""

    def __call__(self, index: int, leaf: bytes) -> str | None:
        return self._checked(index, leaf)

    def check_entries(self, first: int, leaves: list[bytes]) -> tuple[int, str] | None:
        for position, leaf in enumerate(leaves):
            if (problem := self(first + position, leaf)) is not None:
                return first + position, problem
        return None


_SAFE = 2**53 - 1


def pydantic_core_schema(schema: Any) -> Any:
    """The previous fast path's schema: LedgerEntry's, models as key-sorted typed dicts (no
    nulls, no unknown keys), enums as literals, integers up to 2**53 - 1 (enough for the
    current contract; the real translation refused anything it did not know)."""
    kind = schema["type"]
    if kind == "model":
        fields = schema["schema"]["fields"]
        typed = {}
        for name in sorted(fields):
            inner, required = fields[name]["schema"], True
            if inner["type"] == "default":
                inner, required = inner["schema"], False
            if inner["type"] == "nullable":
                inner = inner["schema"]
            typed[name] = core_schema.typed_dict_field(pydantic_core_schema(inner), required=required)
        return core_schema.typed_dict_schema(typed, extra_behavior="forbid")
    if kind == "list":
        return {**schema, "items_schema": pydantic_core_schema(schema["items_schema"])}
    if kind == "enum":
        return core_schema.literal_schema([member.value for member in schema["members"]])
    if kind == "int":
        return {**schema, "le": min(schema.get("le", _SAFE), _SAFE)}
    return schema


_PYDANTIC_CORE = SchemaValidator(
    pydantic_core_schema(LedgerEntry.__pydantic_core_schema__), {"cache_strings": "keys"}
)


class PydanticCorePath(ModelPath):
    """The previous fast path: validate into plain values, accept if ``to_json`` of them is the leaf."""

    def __call__(self, index: int, leaf: bytes) -> str | None:
        try:
            values = _PYDANTIC_CORE.validate_json(leaf)
            fast = to_json(values) == leaf
        except Exception:
            fast = False
        if not fast:
            return self._checked(index, leaf)
        if values["index"] != index:
            return f"carries index {values['index']} at position {index}"
        return self._follow(values["topic"], values["partition"], values["offset"])


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the verify workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def best(label: str, count: int, run: Callable[[], object], target: int | None = None) -> None:
    """Best of two runs: entries/s (wall clock) and CPU microseconds per entry."""
    results = []
    for _ in range(2):
        started, cpu = time.perf_counter(), cpu_seconds()
        run()
        results.append((time.perf_counter() - started, cpu_seconds() - cpu))
    wall, cpu = min(results)
    verdict = f"   target {target:,}: {'met' if count / wall >= target else 'NOT met'}" if target else ""
    print(f"  {label:<54} {count / wall:>12,.0f} entries/s  {cpu / count * 1e6:5.2f} us CPU{verdict}")


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
        print(f"  {os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
        best("reference hashlib.sha256(leaf)", n, lambda: [sha256(leaf).digest() for leaf in leaves])
        best("verify_export (structure, 1 process)", n, lambda: verify_export(directory, SIGNER.vkey))

        def cli(jobs: int | None) -> Callable[[], None]:
            def run() -> None:
                result = verify_log(directory, vkey=SIGNER.vkey, since=None, save=None, jobs=jobs)
                assert result.ok, result.message

            return run

        references = (("model path", ModelPath), ("previous fast path (pydantic-core)", PydanticCorePath))
        for label, checker in references:
            consentry.ledger_tools._EntryChecker = checker  # type: ignore[misc]
            try:
                best(f"verify, {label}, 1 process", n, cli(1))
            finally:
                consentry.ledger_tools._EntryChecker = _EntryChecker  # type: ignore[misc]
        best("verify, msgspec path, 1 process", n, cli(1))
        best(f"consentry ledger verify ({os.cpu_count()} processes)", n, cli(None), 500_000)


if __name__ == "__main__":
    main()
