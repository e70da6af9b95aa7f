"""Decision throughput of the rights engine on a large registry, with Spawning's checker as the
reference measured in the same run.

Builds a RegistryView of ``--records`` records (default 1,000,000: a third each reservations,
deals and works) spread over hash, domain and URL-prefix selectors, and ``--items`` items
(default 200,000) from ``--origins`` origins (default 10,000) of the registry's hosts, so that a
large share of them hit the registry (the verdict mix is printed). Then, on one core (CPU time
of this process, so other load on the machine does not count):

- ``decide()`` item by item, the reference path (on the first ``--reference-items``);
- ``decide_batch()`` in batches of ``--batch`` (default 2,000, the rights consumer's batch) and in
  one batch, checked equal to ``decide()`` item by item;
- the same items carrying crawl-time evidence: their origin's robots.txt, ai.txt and
  tdmrep.json (parsed once per origin: "cached origin signals") and their response headers
  (X-Robots-Tag, Content-Usage, tdm-reservation) and, one in four, an XMP packet; decided by
  ``decide()`` and by ``decide_batch()``, checked equal;
- ``datadiligence.is_allowed(headers=...)`` on those items' headers, sockets blocked (it must not
  need the network), and the ratio of our rates to its rate;
- a bare dict lookup per item: the floor of any Python engine.

    .venv/bin/python bench/bench_decide.py [--records N] [--items M] [--origins O] [--batch B]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import socket
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from consentry_rights.domain import Decision, ParsedDocuments, Policy, RegistryView, decide
from consentry_rights.domain.batch import decide_batch
from consentry_rights.domain.web_signals import DEFAULT_DOCUMENTS
from consentry_shared.contracts.v1 import Deal, ItemEvent, Purpose, Reservation, Work

AT = datetime(2025, 6, 1, tzinfo=UTC)
PLATFORMS = ["acme-ai", "globex-ml", "initech-labs", "umbrella-gen"]
LICENCES = [
    "CC0-1.0",
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-ND-4.0",
    "MIT OR Apache-2.0",
    "LicenseRef-All-Rights-Reserved",
    "LicenseRef-Custom",
    None,
]
PURPOSE_SETS = [["all"], ["ai-all"], ["ai-training"], ["ai-generative-training"], ["search"]]
ROBOTS = [
    "User-agent: *\nAllow: /\n",
    "User-agent: GPTBot\nDisallow: /\n\nUser-agent: CCBot\nDisallow: /gallery/\n\nUser-agent: *\nAllow: /\n",
    "User-agent: *\nDisallow: /private/\nContent-Usage: /gallery/ train-ai=n, search=y\n",
    "User-agent: *\nAllow: /\nContent-Signal: search=yes, ai-train=no, ai-input=yes\n",
]
AI_TXT = ["User-Agent: *\nDisallow: *.jpg\nDisallow: *.png\n", "User-Agent: *\nAllow: /\n"]
TDMREP = ['[{"location":"/gallery/*","tdm-reservation":1}]', '[{"location":"/","tdm-reservation":0}]']
HEADERS = [
    '{"content-type":["image/jpeg"]}',
    '{"content-type":["image/jpeg"],"x-robots-tag":["noai, noimageai"]}',
    '{"content-type":["image/jpeg"],"content-usage":["train-ai=n"]}',
    '{"content-type":["image/jpeg"],"tdm-reservation":["0"]}',
]
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" '
    'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
)


def sha(n: int, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{n}".encode()).hexdigest()


def host(n: int) -> str:
    return f"img{n % 7}.site{n}.example"


def selector(rng: random.Random, n: int, hosts: int) -> dict[str, str]:
    kind = rng.random()
    if kind < 0.5:
        return {"sha256": sha(rng.randrange(4 * hosts), "item")}
    target = rng.randrange(hosts)
    if kind < 0.75:
        return {"domain": f"site{target}.example"}
    return {"url_prefix": f"https://{host(target)}/gallery/{n % 50}/"}


def build_records(rng: random.Random, n: int, hosts: int) -> tuple[list[Reservation], list[Deal], list[Work]]:
    reservations = [
        Reservation.model_validate(
            {
                "id": f"r{n_}",
                "holder": "h",
                "match": selector(rng, n_, hosts),
                "purposes": rng.choice(PURPOSE_SETS),
                "from": AT - timedelta(days=rng.randrange(1, 900)),
                "until": rng.choice([None, AT + timedelta(days=30), AT - timedelta(days=1)]),
            }
        )
        for n_ in range(n)
    ]
    deals = [
        Deal.model_validate(
            {
                "id": f"d{n_}",
                "holder": "h",
                "licensee": rng.choice(PLATFORMS),
                "match": selector(rng, n_, hosts),
                "purposes": rng.choice(PURPOSE_SETS),
                "territories": rng.choice([["*"], ["DE", "FR"], ["US"]]),
                "from": AT - timedelta(days=rng.randrange(1, 900)),
                "until": AT + timedelta(days=rng.randrange(-100, 400)),
            }
        )
        for n_ in range(n)
    ]
    works = [
        Work(
            id=f"w{n_}",
            holder="h",
            sha256=sha(rng.randrange(4 * hosts), "item"),
            license=rng.choice([licence for licence in LICENCES if licence]),
        )
        for n_ in range(n)
    ]
    return reservations, deals, works


def build_items(rng: random.Random, m: int, origins: list[int], hosts: int) -> list[ItemEvent]:
    purposes = list(Purpose)
    return [
        ItemEvent(
            event_id=f"e{n}",
            manifest_id="bench",
            item_id=f"i{n}",
            line=n + 1,
            platform=rng.choice(PLATFORMS),
            purpose=rng.choice(purposes),
            territory=rng.choice([None, "DE", "US"]),
            commercial=rng.random() < 0.8,
            url=f"https://{host(rng.choice(origins))}/gallery/{n % 60}/{n}.jpg",
            sha256=sha(rng.randrange(8 * hosts), "item"),
            license=rng.choice(LICENCES),
            submitted_at=AT,
        )
        for n in range(m)
    ]


def with_evidence(rng: random.Random, items: list[ItemEvent]) -> list[ItemEvent]:
    """The items, each carrying crawl-time evidence; the origin files are fixed per host."""
    out = []
    for item in items:
        h = zlib.crc32((item.url.host or "").encode())
        evidence = {
            "robots_txt": ROBOTS[h % len(ROBOTS)] + f"# {item.url.host}\n",
            "ai_txt": AI_TXT[h % len(AI_TXT)],
            "tdmrep_json": TDMREP[h % len(TDMREP)],
            "headers": rng.choice(HEADERS),
            "fetched_at": "2025-05-12T07:40:01Z",
        }
        if rng.random() < 0.25:
            evidence["xmp"] = XMP
        out.append(item.model_copy(update={"evidence": evidence, "media_type": "image/jpeg"}))
    return out


def cpu_rate(count: int, run: Callable[[], object]) -> float:
    """Items per CPU second of this process (one core; other processes' load does not count)."""
    gc.collect()
    started = time.process_time()
    run()
    return count / (time.process_time() - started)


def in_batches(
    items: list[ItemEvent],
    size: int,
    view: RegistryView,
    policy: Policy,
    documents: ParsedDocuments = DEFAULT_DOCUMENTS,
) -> list[Decision]:
    return [
        decision
        for start in range(0, len(items), size)
        for decision in decide_batch(items[start : start + size], view, policy, AT, documents=documents)
    ]


def datadiligence_headers(items: list[ItemEvent]) -> list[Mapping[str, str]]:
    """Each item's crawl-time headers as a ``requests`` response holds them: one string per
    name, looked up case-insensitively. (Given a plain dict, datadiligence looks names up as
    spelled: the lower-case names of HTTP/2, and of our evidence, would go unseen: allowed.)"""
    from requests.structures import CaseInsensitiveDict

    return [
        CaseInsensitiveDict(
            {name: ", ".join(values) for name, values in json.loads(item.evidence["headers"]).items()}
        )
        for item in items
    ]


def datadiligence_rate(headers: list[Mapping[str, str]]) -> tuple[float, Counter[bool]]:
    """``datadiligence.is_allowed(headers=...)`` per item, with every socket connect refused."""
    import datadiligence  # type: ignore[import-untyped]

    allowed: Counter[bool] = Counter()

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("the benchmark blocks the network")

    connect = socket.socket.connect
    socket.socket.connect = refuse  # type: ignore[method-assign]
    try:

        def run() -> None:
            for found in headers:
                allowed[bool(datadiligence.is_allowed(headers=found))] += 1

        rate = cpu_rate(len(headers), run)
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]
    return rate, allowed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="records in all (a third of each kind)"
    )
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--origins", type=int, default=10_000, help="origins the items come from")
    parser.add_argument("--batch", type=int, default=2000, help="items per decide_batch call")
    parser.add_argument("--reference-items", type=int, default=50_000, help="items decided one by one")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    per_kind = max(args.records // 3, 1)
    hosts = max(per_kind // 2, 1)

    reservations, deals, works = build_records(rng, per_kind, hosts)
    started = time.perf_counter()
    view = RegistryView(reservations=reservations, deals=deals, works=works, version=1)
    del reservations, deals, works
    indexed = time.perf_counter() - started
    origins = [rng.randrange(2 * hosts) for _ in range(args.origins)]
    items = build_items(rng, args.items, origins, hosts)
    gc.freeze()  # the registry and the items live for the whole run: keep them out of GC passes
    policy = Policy("bench-1")
    matcher_started = time.perf_counter()
    view.matcher()
    matcher_built = time.perf_counter() - matcher_started
    print(
        f"registry: {len(view):,} records indexed in {indexed:.1f}s (+{matcher_built:.1f}s for the batch "
        f"matcher's hash set); {len(items):,} items from {len({i.url.host for i in items}):,} origins"
    )

    sample = items[: args.reference_items]
    reference: list[Decision] = []
    rows: list[tuple[str, float]] = []
    rows.append(
        (
            "decide(), item by item (reference path)",
            cpu_rate(len(sample), lambda: reference.extend(decide(i, view, policy, AT) for i in sample)),
        )
    )
    batched: list[Decision] = []
    rows.append(
        (
            f"decide_batch(), batches of {args.batch:,}, first pass",
            cpu_rate(len(items), lambda: batched.extend(in_batches(items, args.batch, view, policy))),
        )
    )
    # The view keeps its per-origin matches and licence results: what a running service has.
    rows.append(
        (
            f"decide_batch(), batches of {args.batch:,}, second pass",
            cpu_rate(len(items), lambda: in_batches(items, args.batch, view, policy)),
        )
    )
    rows.append(
        (
            "decide_batch(), one batch, second pass",
            cpu_rate(len(items), lambda: decide_batch(items, view, policy, AT)),
        )
    )
    assert batched[: len(reference)] == reference, "decide_batch differs from decide()"
    verdicts = Counter(decision.verdict.value for decision in batched)
    touched = sum(1 for d in batched if any(e.signal.startswith("registry.") for e in d.evidence))

    carrying = with_evidence(rng, items)
    carried_sample = carrying[: args.reference_items // 5]
    # Cached origin signals: every origin's robots.txt, ai.txt and tdmrep.json parsed once, kept.
    documents = ParsedDocuments(maxsize=4 * args.origins)
    carried_batched = in_batches(carrying, args.batch, view, policy, documents)
    carried_reference: list[Decision] = []
    rows.append(
        (
            "decide(), items with crawl-time evidence",
            cpu_rate(
                len(carried_sample),
                lambda: carried_reference.extend(
                    decide(i, view, policy, AT, documents=documents) for i in carried_sample
                ),
            ),
        )
    )
    rows.append(
        (
            "decide_batch(), items with crawl-time evidence",
            cpu_rate(
                len(carried_sample), lambda: in_batches(carried_sample, args.batch, view, policy, documents)
            ),
        )
    )
    assert carried_batched[: len(carried_reference)] == carried_reference, "with evidence: batch != decide()"
    dd_rate, dd_allowed = datadiligence_rate(datadiligence_headers(carrying))
    rows.append(("datadiligence.is_allowed(headers=...), same items' headers", dd_rate))

    plain = {sha(n, "item"): n for n in range(4 * hosts)}
    rows.append(
        (
            "dict lookup of the item's hash (floor)",
            cpu_rate(len(items), lambda: [plain.get(i.sha256 or "") for i in items]),
        )
    )

    header = f"| {'path (one core, CPU time)':<58} | {'decisions/s':>12} | {'us each':>8}"
    print(f"\n{header} | {'vs datadiligence':>16} |")
    print(f"|{'-' * 60}|{'-' * 14}|{'-' * 10}|{'-' * 18}|")
    for name, rate in rows:
        print(f"| {name:<58} | {rate:>12,.0f} | {1e6 / rate:>8.2f} | {rate / dd_rate:>15.2f}x |")
    print(
        f"\nverdicts: {dict(sorted(verdicts.items()))}; {touched / len(batched):.0%} of the items matched a "
        f"registry record; decide_batch equal to decide() on {len(reference):,} items"
    )
    print(
        f"with crawl-time evidence: decide_batch equal to decide() on {len(carried_reference):,} items; "
        f"verdicts {dict(sorted(Counter(d.verdict.value for d in carried_batched).items()))}"
    )
    print(f"datadiligence allowed {dd_allowed[True]:,} and refused {dd_allowed[False]:,} of the same items")


if __name__ == "__main__":
    main()
