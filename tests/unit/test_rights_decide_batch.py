"""decide_batch() against decide(): the fast batch path must give the very same Decisions.

A differential test: registries and items are generated from small vocabularies (a few hosts,
hashes, prefixes, licences, times and territories) so that items hit records of every kind,
alone and together, and the fast path's memos are shared between items that differ in one
field. Every Decision of the batch is compared, verdict, reasons and evidence, with the
reference engine's for the same item.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry_rights.domain import Policy, RegistryView, SignalCapture, decide
from consentry_rights.domain.batch import decide_batch
from consentry_shared.contracts.v1 import Deal, ItemEvent, Purpose, Reservation, Work

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TIMES = [
    AT - timedelta(days=400),
    AT - timedelta(days=1),
    AT,
    AT + timedelta(seconds=1),
    AT + timedelta(days=90),
]
SHAS = [c * 64 for c in "0a1b"]
MD5S = [c * 32 for c in "2c3d"]
# Canonical spellings (items and selectors carry them normalised by the contract).
IDENTIFIERS = ["isbn:9780306406157", "doi:10.1000/abc", "isrc:USRC17607839", "iswc:T0345246801"]
HOSTS = [
    "example.org",
    "img.example.org",
    "cdn.img.example.org",
    "example.org.",
    "other.net",
    "10.0.0.7",
    "[::1]",
]
PATHS = ["/", "/photos/", "/photos/cat.jpg", "/photos/cat.jpg?size=2", "/a%2fb", "/caf%C3%A9", "/Photos/x"]
SCHEMES = ["https", "http"]
PORTS = ["", ":443", ":8080"]
PREFIXES = [
    "https://example.org/",
    "https://example.org/photos/",
    "https://example.org/photos/cat",
    "http://example.org/photos/",
    "https://img.example.org/photos/",
    "https://img.example.org:8080/",
    "https://EXAMPLE.org/a%2Fb",
    "https://other.net/",
]
DOMAINS = ["example.org", "img.example.org", "Example.ORG", "other.net", "net", "10.0.0.7"]
PURPOSE_SETS = [
    ["all"],
    ["ai-all"],
    ["ai-training"],
    ["ai-generative-training"],
    ["search"],
    ["ai-inference"],
]
PLATFORMS = ["acme-ai", "globex-ml", "initech"]
TERRITORIES = [None, "DE", "US", " de ", ""]
JURISDICTIONS = [None, "EU", "JP", "US", "fr"]
LICENCES = [
    None,
    "",
    "  ",
    "CC0-1.0",
    "CC-BY-4.0",
    "cc-by-4.0",
    "CC-BY-SA-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-ND-4.0",
    "MIT OR Apache-2.0",
    "GPL-3.0-only",
    "LicenseRef-All-Rights-Reserved",
    "LicenseRef-Custom",
    "MIT AND (",
]
WORK_LICENCES = [licence for licence in LICENCES if licence and licence.strip()]
POLICIES = [Policy("p1"), Policy("p2", regime="opt-out", regimes={}), Policy("p3", regimes={"DE": "opt-out"})]


def match(rng: random.Random) -> dict[str, str]:
    chosen: dict[str, str] = {}
    while not chosen:  # any non-empty combination of selectors
        if rng.random() < 0.4:
            chosen["sha256"] = rng.choice(SHAS)
        if rng.random() < 0.4:
            chosen["domain"] = rng.choice(DOMAINS)
        if rng.random() < 0.4:
            chosen["url_prefix"] = rng.choice(PREFIXES)
        if rng.random() < 0.25:
            chosen["md5"] = rng.choice(MD5S)
        if rng.random() < 0.25:
            chosen["identifier"] = rng.choice(IDENTIFIERS)
    return chosen


def work_identity(rng: random.Random) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    while not chosen:
        if rng.random() < 0.6:
            chosen["sha256"] = rng.choice(SHAS)
        if rng.random() < 0.3:
            chosen["md5"] = rng.choice(MD5S)
        if rng.random() < 0.3:
            scheme, _, value = rng.choice(IDENTIFIERS).partition(":")
            chosen[scheme] = value
    return chosen


def build_registry(rng: random.Random, size: int) -> RegistryView:
    reservations = [
        Reservation.model_validate(
            {
                "id": f"r{rng.randrange(size)}",  # repeated ids: the later record replaces
                "holder": "h",
                "match": match(rng),
                "purposes": rng.choice(PURPOSE_SETS),
                "territories": rng.choice([["*"], ["*"], ["DE"], ["de", "FR"], ["US"]]),
                "from": rng.choice(TIMES),
                "until": rng.choice([None, *TIMES]),
            }
        )
        for _ in range(size)
    ]
    deals = []
    for _ in range(size):
        valid_from = rng.choice(TIMES)
        deals.append(
            Deal.model_validate(
                {
                    "id": f"d{rng.randrange(size)}",
                    "holder": "h",
                    "licensee": rng.choice(PLATFORMS),
                    "match": match(rng),
                    "purposes": rng.choice(PURPOSE_SETS),
                    "territories": rng.choice([["*"], ["DE"], ["de", "FR"], ["US"]]),
                    "from": valid_from,
                    "until": valid_from + timedelta(days=rng.choice([1, 300])),
                    "revoked_at": rng.choice([None, None, *TIMES]),
                    "attribution": rng.choice([None, None, True, False, "Photo: H"]),
                    "compensation": rng.choice(
                        [
                            None,
                            None,
                            {"basis": "flat", "amount": "1000", "currency": "EUR"},
                            {"basis": "revenue-share", "amount": "2.5"},
                        ]
                    ),
                }
            )
        )
    works = [
        Work.model_validate(
            {
                "id": f"w{rng.randrange(size)}",
                "holder": "h",
                **work_identity(rng),
                "license": rng.choice(WORK_LICENCES),
            }
        )
        for _ in range(size)
    ]
    return RegistryView(reservations=reservations, deals=deals, works=works, version=3)


# Crawl-time evidence of every kind the engine reads, with outcomes from not-reserved to
# reserved, constrained (RSL licence not read) and unknown (unreadable headers, hash-only files).
EVIDENCE: list[dict[str, str]] = [
    {
        "robots_txt": "User-agent: *\nAllow: /\nContent-Usage: /photos/ train-ai=n, search=y\n",
        "ai_txt": "User-Agent: *\nDisallow: *.jpg\n",
        "tdmrep_json": '[{"location":"/photos/*","tdm-reservation":1}]',
        "headers": '{"content-type":["image/jpeg"],"tdm-reservation":["0"]}',
        "fetched_at": "2025-05-12T07:40:01Z",
    },
    {
        "robots_txt": "User-agent: *\nAllow: /\nContent-Signal: search=yes, ai-train=no\n",
        "headers": '{"content-usage":["train-ai=y"]}',
    },
    {"robots_txt": "User-agent: *\nAllow: /\n", "ai_txt": "User-Agent: *\nAllow: /\n"},
    {"robots_txt": "User-agent: *\nLicense: https://rsl.example/licence.xml\n"},
    {"headers": "not json", "tdmrep_json": '[{"location":"/","tdm-reservation":0}]'},
    {"robots_txt_sha256": "e" * 64, "headers": '{"x-robots-tag":["googlebot: noai"]}'},
    {
        "html_meta": '{"robots":["noai"],"tdm-reservation":["1"]}',
        "xmp": (
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
            'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining='
            '"http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
        ),
    },
    {"headers": '{"x-robots-tag":["noimageai"]}', "html_meta": "<meta name=robots content=all>"},
    # Larger than the batch keeps captures of: read for each item.
    {"robots_txt": "User-agent: *\nDisallow: /photos/\n# " + "x" * 17_000 + "\n"},
]


def build_item(rng: random.Random, n: int, *, evidence: bool = False) -> ItemEvent:
    url = f"{rng.choice(SCHEMES)}://{rng.choice(HOSTS)}{rng.choice(PORTS)}{rng.choice(PATHS)}"
    fields: dict[str, Any] = {
        "event_id": f"e{n}",
        "manifest_id": rng.choice(["m1", "m2"]),
        "item_id": f"i{n}",
        "line": n + 1,
        "platform": rng.choice(PLATFORMS),
        "purpose": rng.choice(list(Purpose)),
        "territory": rng.choice(TERRITORIES),
        "jurisdiction": rng.choice(JURISDICTIONS),
        "commercial": rng.random() < 0.7,
        "url": url,
        "sha256": rng.choice([None, *SHAS, "f" * 64]),
        "md5": rng.choice([None, None, *MD5S, "e" * 32]),
        "identifiers": rng.choice(
            [None, None, [], [rng.choice(IDENTIFIERS)], rng.sample(IDENTIFIERS, 2), ["doi:10.9/unknown"]]
        ),
        "license": rng.choice(LICENCES),
        "submitted_at": AT,
    }
    if evidence:
        fields["evidence"] = rng.choice(
            [
                {"robots_txt": "User-agent: GPTBot\nDisallow: /photos/\n"},
                {"headers": '{"x-robots-tag":["noai"]}', "fetched_at": "2025-05-01T00:00:00Z"},
                {"tdmrep_json_sha256": "d" * 64},
                {"fetched_at": "2025-05-01T00:00:00Z"},  # nothing to read: no signals
                *EVIDENCE,
            ]
        )
    return ItemEvent.model_validate(fields)


def assert_same(items: Sequence[ItemEvent], view: RegistryView, policy: Policy, at: datetime = AT) -> None:
    fast = decide_batch(items, view, policy, at)
    assert len(fast) == len(items)
    for item, got in zip(items, fast, strict=True):
        assert got == decide(item, view, policy, at), item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    size=st.integers(min_value=0, max_value=25),
    policy=st.sampled_from(POLICIES),
    at=st.sampled_from(TIMES),
)
def test_the_batch_gives_what_decide_gives(seed: int, size: int, policy: Policy, at: datetime) -> None:
    rng = random.Random(seed)
    view = build_registry(rng, size)
    items = [build_item(rng, n, evidence=rng.random() < 0.1) for n in range(60)]
    assert_same(items, view, policy, at)


def test_a_larger_registry_and_batch_agree() -> None:
    rng = random.Random(20251128)
    view = build_registry(rng, 400)
    for policy in POLICIES:
        assert_same([build_item(rng, n) for n in range(3000)], view, policy)


def test_items_with_signals_and_fetched_captures_are_decided_as_decide_does() -> None:
    rng = random.Random(5)
    view = build_registry(rng, 30)
    items = [build_item(rng, n, evidence=n % 2 == 0) for n in range(200)]
    fetched = [
        SignalCapture(where="fetch", seen_at=AT, headers={"tdm-reservation": ["1"]}) if n % 3 == 0 else None
        for n in range(len(items))
    ]
    got = decide_batch(items, view, POLICIES[0], AT, fetched=fetched)
    for item, capture, decision in zip(items, fetched, got, strict=True):
        assert decision == decide(item, view, POLICIES[0], AT, fetched=capture)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    size=st.integers(min_value=0, max_value=25),
    policy=st.sampled_from(POLICIES),
    at=st.sampled_from(TIMES),
)
def test_items_with_crawl_time_evidence_get_what_decide_gives(
    seed: int, size: int, policy: Policy, at: datetime
) -> None:
    rng = random.Random(seed)
    view = build_registry(rng, size)
    items = [build_item(rng, n, evidence=rng.random() < 0.8) for n in range(60)]
    fetched = [
        rng.choice(
            [
                None,
                None,
                SignalCapture(where="fetch", seen_at=AT, headers={"tdm-reservation": ["1"]}),
                SignalCapture(where="fetch", seen_at=AT, item_error="HTTP 503"),
            ]
        )
        for _ in items
    ]
    for captures in (None, fetched):
        got = decide_batch(items, view, policy, at, fetched=captures)
        for n, (item, decision) in enumerate(zip(items, got, strict=True)):
            capture = None if captures is None else captures[n]
            assert decision == decide(item, view, policy, at, fetched=capture), item


def test_the_batch_matcher_finds_what_the_view_finds() -> None:
    rng = random.Random(11)
    view = build_registry(rng, 60)
    matcher = view.matcher()
    for n in range(2000):
        item = build_item(rng, n)
        url, sha256 = str(item.url), item.sha256
        for platform in PLATFORMS:
            assert matcher.matches(platform, url, sha256) == (
                view.deals_for(platform, url, sha256),
                view.reservations_for(url, sha256),
            )
    # Raw URLs that ingest would have normalised still agree (the matcher keys by their spelling).
    raw = ["HTTPS://Example.ORG/photos/x", "https://u@example.org/photos/", "https://example.org./photos/"]
    for url in [
        *raw,
        "https://example.org:443/photos/",
        "https://example.org?q=/x",
        "https://example.org",
        "x",
    ]:
        for platform in PLATFORMS:
            assert matcher.matches(platform, url, None) == (
                view.deals_for(platform, url, None),
                view.reservations_for(url, None),
            )


def test_an_empty_batch_and_an_empty_registry() -> None:
    assert decide_batch([], RegistryView(), POLICIES[0], AT) == []
    rng = random.Random(1)
    assert_same([build_item(rng, n) for n in range(50)], RegistryView(), POLICIES[1])


def test_a_naive_time_and_a_capture_count_mismatch_are_refused() -> None:
    rng = random.Random(2)
    items = [build_item(rng, 0)]
    with pytest.raises(ValueError, match="timezone-aware"):
        decide_batch(items, RegistryView(), POLICIES[0], datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="captures"):
        decide_batch(items, RegistryView(), POLICIES[0], AT, fetched=[])


def test_batches_at_other_times_reuse_nothing_stale() -> None:
    """Licence results are kept per view and policy from batch to batch and re-stamped with
    each batch's time: later batches, at other times and in other zones, still agree."""
    rng = random.Random(8)
    view = build_registry(rng, 40)
    items = [build_item(rng, n) for n in range(400)]
    zone = timezone(timedelta(hours=9))
    for at in [
        AT,
        AT + timedelta(days=200),
        (AT + timedelta(days=200)).astimezone(zone),
        AT - timedelta(days=2),
    ]:
        for policy in POLICIES:
            fast = decide_batch(items, view, policy, at)
            for item, got in zip(items, fast, strict=True):
                expected = decide(item, view, policy, at)
                assert got == expected
                assert [e.model_dump_json() for e in got.evidence] == [
                    e.model_dump_json() for e in expected.evidence
                ]
