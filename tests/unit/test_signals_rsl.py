"""RSL 1.0: content matching, the usage vocabulary, user/geo terms, payments, licence servers, bad input."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import ALL_PURPOSES, RslDocument, combine, read_rsl

SITE = "https://news.example"
SOURCE = f"{SITE}/license.xml"


def rsl(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<rsl xmlns="https://rslstandard.org/rsl">{body}</rsl>'


def statuses(document: str, path: str = "/article", **caller: str) -> dict[str, str]:
    combined = combine(read_rsl(document, SITE + path, source=SOURCE, **caller))
    return {purpose: combined.status(purpose) for purpose in sorted(ALL_PURPOSES)}


R, N, C, U, K = "reserved", "not-reserved", "constrained", "unset", "unknown"

# The RSL 1.0 site-wide example: prohibit AI use across the site.
SITE_WIDE_NO_AI = rsl(
    '<content url="/"><license><prohibits type="usage">ai-all</prohibits></license></content>'
)


def test_the_site_wide_ai_prohibition() -> None:
    assert statuses(SITE_WIDE_NO_AI) == {
        "ai-generative-training": R,
        "ai-inference": R,
        "ai-training": R,
        "search": N,  # nothing prohibits or limits search, and the licence is free
    }


@pytest.mark.parametrize(
    ("terms", "generative", "training", "inference", "search"),
    [
        ('<permits type="usage">all</permits>', N, N, N, N),
        ('<permits type="usage">ai-all</permits>', N, N, N, R),
        ('<permits type="usage">ai-train</permits>', N, N, R, R),
        ('<permits type="usage">ai-input</permits>', R, R, N, R),
        ('<permits type="usage">ai-index</permits>', R, R, R, R),
        ('<permits type="usage">search</permits>', R, R, R, N),
        ('<permits type="usage">search ai-input</permits>', R, R, N, N),  # RSL 1.0: space-separated
        ('<permits type="usage">search,ai-train</permits>', N, N, R, N),  # the draft's commas
        ('<prohibits type="usage">all</prohibits>', R, R, R, R),
        ('<prohibits type="usage">ai-train</prohibits>', R, R, N, N),
        ('<prohibits type="usage">ai-index</prohibits>', N, N, R, N),
        ('<permits type="usage">all</permits><prohibits type="usage">ai-train</prohibits>', R, R, N, N),
        ('<permits type="usage">something-new</permits>', R, R, R, R),
        ("", N, N, N, N),
    ],
)
def test_the_usage_vocabulary(
    terms: str, generative: str, training: str, inference: str, search: str
) -> None:
    document = rsl(f'<content url="/"><license>{terms}<payment type="free"/></license></content>')
    assert statuses(document) == {
        "ai-generative-training": generative,
        "ai-training": training,
        "ai-inference": inference,
        "search": search,
    }


@pytest.mark.parametrize(
    ("payment", "status", "requires_payment"),
    [
        ("", N, False),
        ('<payment type="free"/>', N, False),
        ("<payment/>", N, False),
        (
            '<payment type="attribution"><standard>https://creativecommons.org/licenses/by/4.0/</standard></payment>',
            C,
            False,
        ),
        ('<payment type="purchase"><amount currency="USD">10.00</amount></payment>', C, True),
        ('<payment type="subscription"/>', C, True),
        ('<payment type="training"><amount currency="USD">0.01</amount></payment>', C, True),
        ('<payment type="crawl"/>', C, True),
        ('<payment type="use"/>', C, True),
        ('<payment type="contribution"/>', C, True),
        ('<payment type="barter"/>', C, True),  # an unknown type is not free
    ],
)
def test_payments(payment: str, status: str, requires_payment: bool) -> None:
    document = rsl(
        f'<content url="/"><license><permits type="usage">ai-train</permits>{payment}</license></content>'
    )
    readings = read_rsl(document, f"{SITE}/a", source=SOURCE)
    (training,) = [r for r in readings if "ai-training" in r.purposes]
    assert (training.status, training.requires_payment) == (status, requires_payment)
    if "standard" in payment:
        assert training.policy_url == "https://creativecommons.org/licenses/by/4.0/"


def test_the_best_licence_on_offer_decides() -> None:
    document = rsl(
        '<content url="/">'
        '<license><permits type="usage">search ai-input</permits><payment type="free"/></license>'
        '<license><permits type="usage">ai-train</permits><payment type="attribution"/></license>'
        '<license><permits type="usage">all</permits><payment type="purchase"/></license>'
        "</content>"
    )
    readings = read_rsl(document, f"{SITE}/a", source=SOURCE)
    by_purpose = {purpose: r for r in readings for purpose in r.purposes}
    assert (by_purpose["search"].status, by_purpose["ai-inference"].status) == (N, N)
    assert (by_purpose["ai-training"].status, by_purpose["ai-training"].requires_payment) == (C, False)
    assert by_purpose["ai-training"].detail is not None
    assert "licence 2" in by_purpose["ai-training"].detail


def test_a_licence_server_means_a_licence_must_be_obtained() -> None:
    document = rsl(
        '<content url="/" server="https://license.example/olp">'
        '<license><permits type="usage">all</permits><payment type="free"/></license></content>'
    )
    readings = read_rsl(document, f"{SITE}/a", source=SOURCE)
    assert {(r.status, r.requires_payment, r.policy_url) for r in readings} == {
        (C, True, "https://license.example/olp")
    }


@pytest.mark.parametrize(
    ("terms", "caller", "status"),
    [
        ('<permits type="user">non-commercial education</permits>', {"user": "education"}, N),
        ('<permits type="user">non-commercial education</permits>', {"user": "commercial"}, R),
        ('<permits type="user">non-commercial</permits>', {}, C),  # cannot be checked
        ('<prohibits type="user">commercial</prohibits>', {"user": "Commercial"}, R),
        ('<prohibits type="user">commercial</prohibits>', {"user": "personal"}, N),
        ('<permits type="geo">US CA</permits>', {"territory": "us"}, N),
        ('<permits type="geo">US CA</permits>', {"territory": "DE"}, R),
        ('<prohibits type="geo">CN</prohibits>', {"territory": "CN"}, R),
        ('<permits type="geo">US</permits>', {}, C),
        ('<permits type="season">winter</permits>', {}, C),  # an unknown kind of term
    ],
)
def test_user_and_geo_terms(terms: str, caller: dict[str, str], status: str) -> None:
    document = rsl(
        f'<content url="/"><license><permits type="usage">all</permits>{terms}</license></content>'
    )
    assert set(statuses(document, **caller).values()) == {status}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/article", N),
        ("/premium/story", R),
        ("/premium/free/story", N),
        ("/images/a.jpg", R),
        ("/images/a.png", N),
    ],
)
def test_the_most_specific_content_wins(path: str, expected: str) -> None:
    document = rsl(
        '<content url="/"><license><permits type="usage">all</permits></license></content>'
        '<content url="/premium/"><license><prohibits type="usage">all</prohibits></license></content>'
        '<content url="/premium/free/"><license><permits type="usage">all</permits></license></content>'
        '<content url="/images/*.jpg$">'
        '<license><prohibits type="usage">ai-all</prohibits></license></content>'
    )
    assert statuses(document, path)["ai-training"] == expected


def test_full_urls_and_hosts() -> None:
    document = rsl(
        f'<content url="{SITE}/story/1"><license><prohibits type="usage">all</prohibits></license></content>'
    )
    assert statuses(document, "/story/1")["search"] == R
    assert statuses(document, "/story/2")["search"] == U
    other_host = read_rsl(document, "https://elsewhere.example/story/1", source=SOURCE)
    assert {r.status for r in other_host} == {U}
    path_only = rsl('<content url="/"><license><prohibits type="usage">all</prohibits></license></content>')
    assert {r.status for r in read_rsl(path_only, "https://elsewhere.example/x", source=SOURCE)} == {U}


def test_an_rss_feed_with_the_rsl_module() -> None:
    feed = (
        '<rss xmlns:rsl="https://rslstandard.org/rsl" version="2.0"><channel><item><title>t</title>'
        f'<rsl:content url="{SITE}/article"><rsl:license><rsl:prohibits type="usage">ai-train</rsl:prohibits>'
        "</rsl:license></rsl:content></item></channel></rss>"
    )
    assert statuses(feed)["ai-training"] == R


def test_no_match_or_no_licence_is_unset() -> None:
    assert set(statuses(rsl('<content url="/other/"><license/></content>')).values()) == {U}
    assert set(statuses(rsl('<content url="/"/>')).values()) == {U}
    assert set(statuses(rsl("")).values()) == {U}


@pytest.mark.parametrize(
    "document",
    [
        "",
        "not xml",
        '<rsl><content url="/"><license><permits type="usage">all</permits></license></content></rsl>',
        "<html><body>licence</body></html>",
        '<!DOCTYPE rsl [<!ENTITY all "all">]><rsl xmlns="https://rslstandard.org/rsl"/>',
    ],
)
def test_unreadable_documents_are_unknown(document: str) -> None:
    (reading,) = read_rsl(document, f"{SITE}/a", source=SOURCE)
    assert reading.status == K
    assert reading.detail


def test_parse_once_evaluate_many() -> None:
    parsed = RslDocument.parse(SITE_WIDE_NO_AI, source=SOURCE)
    assert parsed.error is None
    assert parsed.evaluate(f"{SITE}/a")[0].signal == "rsl"


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_documents(document: str | bytes) -> None:
    for reading in read_rsl(document, f"{SITE}/a", source=SOURCE):
        if reading.status == "not-reserved":
            text = document.decode("utf-8", "replace") if isinstance(document, bytes) else document
            assert "rslstandard.org/rsl" in text
            assert "license" in text


@given(st.text(alphabet="aitrn-lsech ,", max_size=30), st.text(alphabet="aitrn-lsech ,", max_size=30))
def test_arbitrary_terms_never_raise(permits: str, prohibits: str) -> None:
    document = rsl(
        f'<content url="/"><license><permits type="usage">{permits}</permits>'
        f'<prohibits type="usage">{prohibits}</prohibits></license></content>'
    )
    prohibited = set(re.split(r"[\s,]+", prohibits))
    for reading in read_rsl(document, f"{SITE}/a"):
        if reading.status == "not-reserved":
            assert "all" not in prohibited
            if "ai-all" in prohibited:
                assert reading.purposes == {"search"}
