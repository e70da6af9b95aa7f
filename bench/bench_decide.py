"""Decision throughput of the rights engine on a large registry.

Builds a RegistryView of N reservations, N deals and N works (default N = 100,000) spread over
hash, domain and URL-prefix selectors, then decides M items (default 200,000) of which a good
share hit the registry. Prints decisions/s next to the rate of a bare dict-lookup loop over the
same items in the same run, so numbers from different machines can be compared by their ratio.

Then as many items carrying crawl-time evidence (as ``items.v1`` delivers it), from ``--origins``
origins (default 1,000): every origin has its own robots.txt, ai.txt and tdmrep.json (shared by
its items, so parsed once: "cached origin signals"), and items carry their response headers
(X-Robots-Tag, Content-Usage, tdm-reservation) and, one in four, an XMP packet with
``plus:DataMining``.

    .venv/bin/python bench/bench_decide.py [--records N] [--items M] [--seed S] [--origins O]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

from consentry_rights.domain import Policy, RegistryView, decide
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


def build_items(rng: random.Random, m: int, hosts: int) -> list[ItemEvent]:
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
            url=f"https://{host(h)}/gallery/{n % 60}/{n}.jpg",  # type: ignore[arg-type]
            sha256=sha(rng.randrange(8 * hosts), "item"),
            license=rng.choice(LICENCES),
            submitted_at=AT,
        )
        for n in range(m)
        for h in (rng.randrange(2 * hosts),)
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


def rate_of(items: list[ItemEvent], view: RegistryView, policy: Policy) -> tuple[float, Counter[str]]:
    verdicts: Counter[str] = Counter()
    started = time.perf_counter()
    for item in items:
        verdicts[decide(item, view, policy, AT).verdict.value] += 1
    return len(items) / (time.perf_counter() - started), verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="records of each kind")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--origins", type=int, default=1000, help="origins of the evidence-carrying items")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    hosts = max(args.records // 2, 1)

    reservations, deals, works = build_records(rng, args.records, hosts)
    started = time.perf_counter()
    view = RegistryView(reservations=reservations, deals=deals, works=works, version=1)
    indexed = time.perf_counter() - started
    items = build_items(rng, args.items, hosts)
    print(f"registry:    {len(view):,} records indexed in {indexed:.2f}s; {len(items):,} items")

    policy = Policy("bench-1")
    rate, verdicts = rate_of(items, view, policy)

    plain = {sha(n, "item"): n for n in range(4 * hosts)}
    found = 0
    started = time.perf_counter()
    for item in items:
        if plain.get(item.sha256 or "") is not None:
            found += 1
    bare = len(items) / (time.perf_counter() - started)

    first = items[0]
    assert decide(first, view, policy, AT) == decide(first, view, policy, AT)
    print(f"decide:      {rate:>12,.0f} decisions/s  ({1e6 / rate:.1f} us each)")
    print(f"dict lookup: {bare:>12,.0f} lookups/s    (reference; decide is {bare / rate:.0f}x)")
    print("verdicts:", dict(sorted(verdicts.items())), f"| hash hits in reference: {found:,}")

    # Items of a manifest come from a bounded set of origins whose files stay parsed in the memo.
    carrying = with_evidence(rng, build_items(rng, args.items, max(args.origins // 2, 1)))
    origins = len({item.url.host for item in carrying})
    rate_evidence, verdicts_evidence = rate_of(carrying, view, policy)
    evidence_count = sum(len(decide(item, view, policy, AT).evidence) for item in carrying[:1000]) / 1000
    print(
        f"decide with crawl-time evidence ({origins:,} origins): {rate_evidence:>10,.0f} decisions/s  "
        f"({1e6 / rate_evidence:.1f} us each; {evidence_count:.1f} evidence records per decision)"
    )
    print("verdicts:", dict(sorted(verdicts_evidence.items())))


if __name__ == "__main__":
    main()
