"""Audit replay and rebuild checks: entries per second, with the engine's own rate as reference.

Builds a log of N entries (default 100,000) the way the pipeline does — ``decide()`` on items
(a third carrying a crawl-time robots.txt, so their entries record signal readings) against a
registry of a few thousand records, the fields rights publishes, the ledger's sequencer — and
writes it as a tlog-tiles export. Then, in the same run:

- reference: ``decide()`` alone on the same items (what the rights service spends per decision);
- ``consentry audit replay``'s core: read the export, validate each entry, rebuild its inputs
  and signal readings, decide again, compare (``Replayer`` over ``ExportSource``). It can beat
  the reference: a replay takes the recorded signal readings instead of parsing robots.txt;
- the rebuild's per-entry checks (``LogRebuilder.accept``: schema, canonical form, index,
  offsets, leaf hash, tree), against a bare SHA-256 of the same leaves.

    .venv/bin/python bench/bench_replay.py [--entries N]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from consentry.replay import ExportSource, FileRegistry, Replayer
from consentry_ledger.domain import PositionedDecision, sequence_batch
from consentry_ledger.domain.rebuild import LogRebuilder
from consentry_rights.domain import Decision, Policy, RegistryView, decide
from consentry_shared.contracts.v1 import DecisionEvent, ItemEvent, Purpose, Reservation, Work
from consentry_shared.tlog import CompactRange, Signer, write_export

AT = datetime(2026, 5, 1, tzinfo=UTC)
POLICY = Policy("consentry-policy/1")
ORIGIN = "bench.example/ledger"
LICENCES = ["CC-BY-4.0", "MIT", "CC-BY-NC-4.0", None, "CC0-1.0", "LicenseRef-All-Rights-Reserved"]
ROBOTS = "User-agent: GPTBot\nDisallow: /\n\nUser-agent: *\nDisallow: /private/\n"


def registry_lines(records: int) -> list[str]:
    lines = []
    for n in range(records):
        if n % 2:
            lines.append(
                Reservation.model_validate(
                    {
                        "id": f"res-{n}",
                        "holder": "h",
                        "match": {"domain": f"site{n}.example"},
                        "purposes": ["ai-training"],
                        "from": "2024-01-01T00:00:00Z",
                    }
                ).model_dump_json(by_alias=True, exclude_none=True)
            )
        else:
            work = Work(id=f"w-{n}", holder="h", sha256=f"{n:064x}", license="CC0-1.0")
            lines.append(work.model_dump_json(exclude_none=True))
    return lines


def items(count: int) -> list[ItemEvent]:
    return [
        ItemEvent(
            event_id=f"item-{n}",
            manifest_id="acme-ai:bench",
            item_id=f"i-{n}",
            line=n + 1,
            platform="acme-ai",
            purpose=Purpose.AI_TRAINING,
            territory="US",
            url=f"https://site{n % 5000}.example/{'private' if n % 6 == 0 else 'img'}/{n}.jpg",
            sha256=f"{n % 5000:064x}" if n % 4 == 0 else None,
            license=LICENCES[n % len(LICENCES)],
            submitted_at=AT,
            evidence={"robots_txt": ROBOTS} if n % 3 == 0 else {},
        )
        for n in range(count)
    ]


def event(item: ItemEvent, made: Decision, n: int) -> DecisionEvent:
    return DecisionEvent(
        event_id=f"d-{n}",
        item_event_id=item.event_id,
        manifest_id=item.manifest_id,
        item_id=item.item_id,
        platform=item.platform,
        purpose=item.purpose,
        url=str(item.url),
        sha256=item.sha256,
        verdict=made.verdict,
        reasons=list(made.reasons),
        evidence=list(made.evidence),
        policy_version=POLICY.version,
        registry_version=0,
        decided_at=AT,
        license=item.license,
        territory=item.territory,
        jurisdiction=item.jurisdiction,
        commercial=item.commercial,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--records", type=int, default=5_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as scratch:
        root = Path(scratch)
        registry_file = root / "registry.jsonl"
        registry_file.write_text("\n".join(registry_lines(args.records)) + "\n")
        registry = FileRegistry(registry_file)
        view: RegistryView = registry.view(0)
        the_items = items(args.entries)

        started = time.perf_counter()
        decisions = [decide(item, view, POLICY, AT) for item in the_items]
        decide_s = time.perf_counter() - started

        signer = Signer.generate(ORIGIN)
        plan = sequence_batch(
            [
                PositionedDecision(event(item, made, n), "decisions.v1", 0, n)
                for n, (item, made) in enumerate(zip(the_items, decisions, strict=True))
            ],
            tree=CompactRange(),
            known_event_ids=(),
            origin=ORIGIN,
            signer=signer,
        )
        assert plan.checkpoint_note is not None
        leaves = [e.leaf for e in plan.entries]
        export = root / "export"
        write_export(export, plan.checkpoint_note, signer.vkey, leaves)
        signals = sum(1 for item in the_items if item.evidence)
        print(f"log: {len(leaves)} entries ({signals} with signal readings), registry {len(view)} records")

        started = time.perf_counter()
        report = Replayer(registry, POLICY, source="bench", start=0).run(ExportSource(export).entries(0))
        replay_s = time.perf_counter() - started
        assert report.replayed == len(leaves)
        assert not report.differ
        assert not report.not_replayed

        started = time.perf_counter()
        rebuilder = LogRebuilder(len(leaves), plan.tree.root())
        for index, leaf in enumerate(leaves):
            rebuilder.accept(index, leaf)
        rebuilder.finish()
        rebuild_s = time.perf_counter() - started

        started = time.perf_counter()
        for leaf in leaves:
            hashlib.sha256(b"\x00" + leaf).digest()
        sha_s = time.perf_counter() - started

    n = len(leaves)
    print(f"{'what':<58} {'entries/s':>12} {'µs/entry':>9}")
    rows = [
        ("reference: decide() alone on the same items", decide_s),
        ("audit replay from the export (read, validate, decide, compare)", replay_s),
        ("reference: SHA-256 of each leaf", sha_s),
        ("rebuild checks (schema, canonical form, offsets, hash, tree)", rebuild_s),
    ]
    for what, seconds in rows:
        print(f"{what:<58} {n / seconds:>12,.0f} {seconds / n * 1e6:>9.1f}")


if __name__ == "__main__":
    main()
