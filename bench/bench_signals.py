"""Throughput of the signal parsers on a typical crawl: headers per item, origin files cached.

Builds O origins, each with a realistic robots.txt (AI crawler groups, a Content-Signal line, a
License line) and a /.well-known/tdmrep.json, parsed once per origin as the fetcher's cache
would, and M items with their response headers (X-Robots-Tag, tdm-reservation, Content-Usage on
a share of them). For every item it reads robots.txt for the seven AI tokens and the platform,
TDMRep (well-known + headers), X-Robots-Tag and Content-Usage, then combines the readings.

In the same run, on the same items and the same robots.txt files, it times the standard
library's ``urllib.robotparser`` ``can_fetch`` for the same eight tokens: a reference that reads
one signal, first-match instead of longest-match, with no evidence. Numbers from different
machines compare by the ratio.

    .venv/bin/python bench/bench_signals.py [--origins O] [--items M] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import urllib.robotparser
from collections import Counter

from consentry_rights.domain.signals import (
    AI_USER_AGENTS,
    RobotsTxt,
    TdmRepFile,
    combine,
    read_content_usage_header,
    read_tdmrep,
    read_x_robots_tag,
)

PLATFORM = "acme-ai"
TOKENS = [*AI_USER_AGENTS, PLATFORM]


def robots_body(rng: random.Random, n: int) -> str:
    lines = ["# robots.txt", f"Sitemap: https://site{n}.example/sitemap.xml", "", "User-agent: *"]
    lines += [
        f"Disallow: /{word}/" for word in rng.sample(["admin", "cart", "search", "tmp", "login", "api"], 4)
    ]
    lines += ["Allow: /api/public/", "Disallow: /*.pdf$", "Disallow: /*?session="]
    if rng.random() < 0.4:
        lines.append("Content-Signal: search=yes, ai-train=no")
    if rng.random() < 0.2:
        lines.append("Content-Usage: / train-ai=n")
    for token in rng.sample(list(AI_USER_AGENTS), rng.randrange(0, 5)):
        lines += ["", f"User-agent: {token}", rng.choice(["Disallow: /", "Disallow: /gallery/", "Allow: /"])]
    if rng.random() < 0.3:
        lines += ["", f"License: https://site{n}.example/license.xml"]
    return "\n".join(lines) + "\n"


def tdmrep_body(rng: random.Random) -> str:
    rules = [
        {"location": "/premium/", "tdm-reservation": 1, "tdm-policy": "https://example.com/policy.json"},
        {"location": "/gallery/*.jpg", "tdm-reservation": rng.choice([0, 1])},
        {"location": "/", "tdm-reservation": rng.choice([0, 1])},
    ]
    return json.dumps(rng.sample(rules, rng.randrange(0, 4)))


def item_headers(rng: random.Random) -> list[tuple[str, str]]:
    headers = [("Content-Type", "image/jpeg"), ("Cache-Control", "max-age=3600")]
    if rng.random() < 0.3:
        headers.append(("X-Robots-Tag", rng.choice(["noai, noimageai", "noindex", "googlebot: noai", "all"])))
    if rng.random() < 0.2:
        headers.append(("tdm-reservation", rng.choice(["0", "1"])))
    if rng.random() < 0.1:
        headers.append(("Content-Usage", rng.choice(["train-ai=n", "train-ai=y, search=y", "train-ai=n;x"])))
    return headers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--origins", type=int, default=500)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    bodies = [robots_body(rng, n) for n in range(args.origins)]
    started = time.perf_counter()
    robots = [
        RobotsTxt.parse(body, source=f"https://site{n}.example/robots.txt") for n, body in enumerate(bodies)
    ]
    wells = [
        TdmRepFile.parse(tdmrep_body(rng), source=f"https://site{n}.example/.well-known/tdmrep.json")
        for n in range(args.origins)
    ]
    parsed = time.perf_counter() - started
    sections = ["gallery", "premium", "blog", "admin", "api/public"]
    items = [
        (origin, f"https://site{origin}.example/{rng.choice(sections)}/{n}.jpg", item_headers(rng))
        for n in range(args.items)
        for origin in (rng.randrange(args.origins),)
    ]
    print(
        f"origins:     {args.origins:,} robots.txt + tdmrep.json parsed in {parsed * 1e3:.0f} ms; "
        f"{len(items):,} items"
    )

    statuses: Counter[str] = Counter()
    readings_count = 0
    started = time.perf_counter()
    for origin, url, headers in items:
        readings = list(robots[origin].evaluate(url, platform_token=PLATFORM).readings)
        readings.append(read_tdmrep(url, well_known=wells[origin], headers=headers))
        readings.extend(read_x_robots_tag(headers, media_type="image/jpeg", platform_token=PLATFORM))
        readings.extend(read_content_usage_header(headers, source=url))
        readings_count += len(readings)
        statuses[combine(readings).status("ai-generative-training")] += 1
    elapsed = time.perf_counter() - started
    item_rate = len(items) / elapsed
    reading_rate = readings_count / elapsed

    started = time.perf_counter()
    ours_checks = 0
    for origin, url, _ in items:
        for token in TOKENS:
            robots[origin].is_allowed(url, token)
            ours_checks += 1
    ours_rate = ours_checks / (time.perf_counter() - started)

    reference = []
    for body in bodies:
        robot_parser = urllib.robotparser.RobotFileParser()
        robot_parser.parse(body.splitlines())
        reference.append(robot_parser)
    started = time.perf_counter()
    reference_checks = 0
    for origin, url, _ in items:
        for token in TOKENS:
            reference[origin].can_fetch(token, url)
            reference_checks += 1
    reference_rate = reference_checks / (time.perf_counter() - started)
    disagreements = sum(
        reference[origin].can_fetch(token, url) != robots[origin].is_allowed(url, token)
        for origin, url, _ in items
        for token in TOKENS
    )

    ours_per_item = 1e6 / item_rate
    reference_per_item = 1e6 * len(TOKENS) / reference_rate
    print(
        f"signals:     {item_rate:>11,.0f} items/s  {reading_rate:>11,.0f} readings/s "
        f"({readings_count / len(items):.1f} readings + one combine per item: {ours_per_item:.1f} us)"
    )
    print(f"robots only: {ours_rate:>11,.0f} token checks/s (RobotsTxt.is_allowed, RFC 9309 longest match)")
    print(
        f"robotparser: {reference_rate:>11,.0f} token checks/s (urllib.robotparser.can_fetch, reference; "
        f"RobotsTxt is {ours_rate / reference_rate:.2f}x)"
    )
    print(
        f"per item:    every signal + evidence {ours_per_item:.1f} us vs robotparser's {len(TOKENS)} checks "
        f"{reference_per_item:.1f} us (ratio {ours_per_item / reference_per_item:.2f})"
    )
    print(
        f"agreement:   {disagreements:,} of {reference_checks:,} checks differ from robotparser "
        "(it takes the first match, not the longest, and knows no '*' or '$')"
    )
    print("generative training:", dict(sorted(statuses.items())))


if __name__ == "__main__":
    main()
