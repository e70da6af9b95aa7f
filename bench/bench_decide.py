"""Decision throughput of the rights engine on a large registry.

Builds a RegistryView of N reservations, N deals and N works (default N = 100,000) spread over
hash, domain and URL-prefix selectors, then decides M items (default 200,000) of which a good
share hit the registry. Prints decisions/s next to the rate of a bare dict-lookup loop over the
same items in the same run, so numbers from different machines can be compared by their ratio.

    .venv/bin/python bench/bench_decide.py [--records N] [--items M] [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000, help="records of each kind")
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
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
    verdicts: Counter[str] = Counter()
    started = time.perf_counter()
    for item in items:
        verdicts[decide(item, view, policy, AT).verdict.value] += 1
    elapsed = time.perf_counter() - started
    rate = len(items) / elapsed

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


if __name__ == "__main__":
    main()
