"""RegistryView: which records cover an item, in which order, from an immutable snapshot."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain import RegistryView, normalise_url
from consentry_shared.contracts.v1 import Deal, Reservation, Work

T0 = datetime(2025, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64
ITEM_URL = "https://img.example.org/photos/2024/cat.jpg"


def reservation(record_id: str, **match: str) -> Reservation:
    return Reservation.model_validate(
        {"id": record_id, "holder": "h", "match": match, "purposes": ["all"], "from": T0}
    )


def deal(record_id: str, licensee: str = "acme-ai", **match: str) -> Deal:
    return Deal.model_validate(
        {
            "id": record_id,
            "holder": "h",
            "licensee": licensee,
            "match": match,
            "purposes": ["all"],
            "from": T0,
            "until": T1,
        }
    )


def work(record_id: str, sha256: str = SHA_A, licence: str = "CC-BY-4.0") -> Work:
    return Work(id=record_id, holder="h", sha256=sha256, license=licence)


def ids(records: tuple[Any, ...]) -> list[str]:
    return [record.id for record in records]


# --- normalisation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("HTTPS://Example.ORG/Photos/A.jpg", "https://example.org/Photos/A.jpg"),
        ("https://example.org:443/a", "https://example.org/a"),
        ("http://example.org:80/a", "http://example.org/a"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("http://example.org:443/a", "http://example.org:443/a"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org?q=1", "https://example.org/?q=1"),
        ("https://example.org./a#part", "https://example.org/a"),
        ("https://user:pw@example.org/a", "https://example.org/a"),
        ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("https://example.org/a b", "https://example.org/a%20b"),
        ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
        ("not a url", "not a url"),
    ],
)
def test_normalise_url(url: str, normalised: str) -> None:
    assert normalise_url(url) == normalised


# --- works ------------------------------------------------------------------------------------


def test_works_are_found_by_hash_in_id_order() -> None:
    view = RegistryView(works=[work("w2"), work("w1"), work("w3", SHA_B)])
    assert ids(view.works_for(SHA_A)) == ["w1", "w2"]
    assert ids(view.works_for(SHA_A.upper())) == ["w1", "w2"]
    assert view.works_for("c" * 64) == ()
    assert view.works_for(None) == ()


# --- selectors --------------------------------------------------------------------------------


def test_a_hash_selector_matches_the_same_hash_only() -> None:
    view = RegistryView(reservations=[reservation("r1", sha256=SHA_A)])
    assert ids(view.reservations_for(ITEM_URL, SHA_A)) == ["r1"]
    assert view.reservations_for(ITEM_URL, SHA_B) == ()
    assert view.reservations_for(ITEM_URL, None) == ()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/x.jpg",
        "https://img.example.org/x.jpg",
        "https://a.b.img.example.org/x.jpg",
        "http://EXAMPLE.org:8080/x.jpg",
        "https://example.org./x.jpg",
    ],
)
def test_a_domain_covers_itself_and_its_subdomains(url: str) -> None:
    view = RegistryView(reservations=[reservation("r1", domain="Example.org")])
    assert ids(view.reservations_for(url, None)) == ["r1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://badexample.org/x.jpg",
        "https://example.org.evil.net/x.jpg",
        "https://org/x.jpg",
        "https://example.com/x.jpg",
        "https://other.org/example.org/x.jpg",
    ],
)
def test_a_domain_does_not_cover_lookalikes_or_parents(url: str) -> None:
    view = RegistryView(reservations=[reservation("r1", domain="example.org")])
    assert view.reservations_for(url, None) == ()


def test_an_ip_address_host_has_no_parent_domains() -> None:
    view = RegistryView(reservations=[reservation("r1", domain="0.0.1")])
    assert view.reservations_for("http://10.0.0.1/x", None) == ()


@pytest.mark.parametrize(
    "url",
    [
        "https://img.example.org/photos/2024/cat.jpg",
        "https://img.example.org/photos/",
        "HTTPS://IMG.EXAMPLE.ORG:443/photos/x",
        "https://img.example.org/photos/a?b=c",
    ],
)
def test_a_url_prefix_matches_urls_that_start_with_it(url: str) -> None:
    view = RegistryView(reservations=[reservation("r1", url_prefix="https://img.example.org/photos/")])
    assert ids(view.reservations_for(url, None)) == ["r1"]


@pytest.mark.parametrize(
    "url",
    [
        "https://img.example.org/photos",  # shorter than the prefix
        "https://img.example.org/photo.jpg",
        "https://img.example.org/Photos/cat.jpg",  # paths are case-sensitive
        "http://img.example.org/photos/cat.jpg",  # the scheme is part of the prefix
        "https://img.example.org:8443/photos/cat.jpg",
        "https://example.org/photos/cat.jpg",
        "https://img.example.org.evil.net/photos/cat.jpg",
    ],
)
def test_a_url_prefix_does_not_match_other_urls(url: str) -> None:
    view = RegistryView(reservations=[reservation("r1", url_prefix="https://img.example.org/photos/")])
    assert view.reservations_for(url, None) == ()


def test_a_prefix_is_normalised_like_the_item_url() -> None:
    view = RegistryView(reservations=[reservation("r1", url_prefix="HTTPS://Img.Example.org:443")])
    assert ids(view.reservations_for(ITEM_URL, None)) == ["r1"]
    assert view.reservations_for("https://img.example.org.evil.net/", None) == ()


def test_a_record_matches_when_any_selector_matches_and_appears_once() -> None:
    both = reservation("r1", sha256=SHA_A, domain="example.org")
    view = RegistryView(reservations=[both])
    assert ids(view.reservations_for("https://other.net/x", SHA_A)) == ["r1"]
    assert ids(view.reservations_for(ITEM_URL, None)) == ["r1"]
    assert ids(view.reservations_for(ITEM_URL, SHA_A)) == ["r1"]


def test_results_are_ordered_most_specific_first() -> None:
    records = [
        reservation("r-tld", domain="org"),
        reservation("r-domain", domain="example.org"),
        reservation("r-subdomain", domain="img.example.org"),
        reservation("r-host-prefix", url_prefix="https://img.example.org/"),
        reservation("r-long-prefix", url_prefix="https://img.example.org/photos/2024/"),
        reservation("r-hash-b", sha256=SHA_A),
        reservation("r-hash-a", sha256=SHA_A),
    ]
    expected = [
        "r-hash-a",
        "r-hash-b",
        "r-long-prefix",
        "r-host-prefix",
        "r-subdomain",
        "r-domain",
        "r-tld",
    ]
    for seed in range(5):
        shuffled = records[:]
        random.Random(seed).shuffle(shuffled)
        view = RegistryView(reservations=shuffled)
        assert ids(view.reservations_for(ITEM_URL, SHA_A)) == expected


def test_a_record_ranks_by_its_most_specific_matching_selector() -> None:
    view = RegistryView(
        reservations=[
            reservation("r1", domain="example.org", sha256=SHA_A),
            reservation("r0", url_prefix="https://img.example.org/"),
        ]
    )
    assert ids(view.reservations_for(ITEM_URL, SHA_A)) == ["r1", "r0"]
    assert ids(view.reservations_for(ITEM_URL, None)) == ["r0", "r1"]


# --- deals ------------------------------------------------------------------------------------


def test_deals_are_found_for_their_licensee_only() -> None:
    view = RegistryView(
        deals=[
            deal("d1", "acme-ai", domain="example.org"),
            deal("d2", "other-ai", domain="example.org"),
            deal("d3", "acme-ai", sha256=SHA_B),
        ]
    )
    assert ids(view.deals_for("acme-ai", ITEM_URL, SHA_A)) == ["d1"]
    assert ids(view.deals_for("other-ai", ITEM_URL, SHA_A)) == ["d2"]
    assert ids(view.deals_for("acme-ai", "https://x.net/", SHA_B)) == ["d3"]
    assert view.deals_for("ACME-AI", ITEM_URL, SHA_A) == ()
    assert view.deals_for("nobody", ITEM_URL, SHA_A) == ()


# --- the snapshot -----------------------------------------------------------------------------


def test_a_later_record_with_the_same_id_replaces_the_earlier() -> None:
    view = RegistryView(
        reservations=[reservation("r1", domain="example.org"), reservation("r1", domain="x.net")],
        works=[work("w1", licence="MIT"), work("w1", licence="CC0-1.0")],
        version=7,
    )
    assert view.reservations_for(ITEM_URL, None) == ()
    assert ids(view.reservations_for("https://x.net/", None)) == ["r1"]
    assert [found.license for found in view.works_for(SHA_A)] == ["CC0-1.0"]
    assert len(view) == 2
    assert view.version == 7


def test_the_view_keeps_no_reference_to_the_callers_lists() -> None:
    reservations = [reservation("r1", domain="example.org")]
    view = RegistryView(reservations=reservations)
    reservations.append(reservation("r2", domain="example.org"))
    assert ids(view.reservations_for(ITEM_URL, None)) == ["r1"]


def test_an_empty_view() -> None:
    view = RegistryView()
    assert view.version == 0
    assert len(view) == 0
    assert view.reservations_for(ITEM_URL, SHA_A) == ()


def test_a_negative_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        RegistryView(version=-1)


# --- the prefix index against brute force -----------------------------------------------------

_SEGMENTS = st.text(alphabet="ab/", min_size=0, max_size=6)


@given(prefixes=st.lists(_SEGMENTS, min_size=1, max_size=40, unique=True), path=_SEGMENTS)
def test_prefix_lookup_equals_a_scan_of_every_prefix(prefixes: list[str], path: str) -> None:
    base = "https://h.example/"
    records = [reservation(f"r{index}", url_prefix=base + p) for index, p in enumerate(prefixes)]
    url = base + path
    expected = sorted(
        (record for record in records if url.startswith(base + prefixes[int(record.id[1:])])),
        key=lambda record: (-len(prefixes[int(record.id[1:])]), record.id),
    )
    assert ids(RegistryView(reservations=records).reservations_for(url, None)) == ids(tuple(expected))


def test_many_prefixes_on_one_host_still_match_exactly() -> None:
    records = [reservation(f"r{n:05}", url_prefix=f"https://cdn.example.org/u/{n}/") for n in range(5000)]
    view = RegistryView(reservations=records)
    assert ids(view.reservations_for("https://cdn.example.org/u/123/x.jpg", None)) == ["r00123"]
    assert ids(view.reservations_for("https://cdn.example.org/u/4999/", None)) == ["r04999"]
    assert view.reservations_for("https://cdn.example.org/u/5000/x.jpg", None) == ()
    assert view.reservations_for("https://cdn.example.org/u/12", None) == ()
