"""X-Robots-Tag and meta robots: noai, noimageai (media type), noindex, user-agent scoping."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consentry_rights.domain.signals import (
    AI_PURPOSES,
    ALL_PURPOSES,
    combine,
    read_meta_robots,
    read_x_robots_tag,
)
from consentry_rights.domain.signals.robots_meta import Directive, parse_robots_directives


def statuses(readings: list) -> dict[str, str]:  # type: ignore[type-arg]
    combined = combine(readings)
    return {purpose: combined.status(purpose) for purpose in sorted(ALL_PURPOSES)}


@pytest.mark.parametrize(
    ("values", "media_type", "ai", "search"),
    [
        (["noai"], "text/html", "reserved", "unset"),
        (["noai, noimageai"], "image/jpeg", "reserved", "unset"),
        (["noimageai"], "image/png", "reserved", "unset"),
        (["noimageai"], "text/html", "unset", "unset"),
        (["noimageai"], None, "reserved", "unset"),  # unknown media type: assumed an image
        (["NoAI"], "text/plain", "reserved", "unset"),
        (["noindex"], "text/html", "unset", "reserved"),
        (["none"], "text/html", "unset", "reserved"),
        (["noindex, nofollow", "noai"], "text/html", "reserved", "reserved"),  # all header instances
        (["nofollow, noarchive"], "text/html", "unset", "unset"),
        (["all"], "text/html", "unset", "unset"),
        ([], "text/html", "unset", "unset"),
        (["googlebot: noai"], "text/html", "unset", "unset"),  # addressed to another crawler
        (["GPTBot: noai"], "text/html", "reserved", "unset"),  # addressed to an AI crawler
        (["acme-ai: noai"], "text/html", "reserved", "unset"),  # addressed to the platform
        (["googlebot: noindex, noai"], "text/html", "unset", "unset"),  # the scope lasts to the end
        (["googlebot: noindex", "noai"], "text/html", "reserved", "unset"),  # ...of that header only
        (["unavailable_after: 25 Jun 2010 15:00:00 PST, noai"], "text/html", "reserved", "unset"),
        (["unavailable_after: Wednesday, 03-Nov-2021 15:00:00 GMT, noai"], "text/html", "reserved", "unset"),
        (["max-snippet: 20, noimageai"], "image/webp", "reserved", "unset"),
    ],
)
def test_x_robots_tag(values: list[str], media_type: str | None, ai: str, search: str) -> None:
    headers = [("X-Robots-Tag", value) for value in values]
    result = statuses(read_x_robots_tag(headers, media_type=media_type, platform_token="acme-ai"))
    assert {result[p] for p in AI_PURPOSES} == {ai}
    assert result["search"] == search


def test_readings_carry_the_raw_values_and_ignored_scopes() -> None:
    readings = read_x_robots_tag(
        {"x-robots-tag": ["bingbot: noai", "noai"]}, media_type="text/html", source="https://s.example/p"
    )
    (reading,) = readings
    assert reading.signal == "x-robots-tag"
    assert reading.raw == "bingbot: noai | noai"
    assert reading.detail is not None
    assert "bingbot: noai" in reading.detail
    assert reading.source == "https://s.example/p"


def test_directive_parsing() -> None:
    assert parse_robots_directives("googlebot: noindex, nofollow, otherbot: noai") == [
        Directive("googlebot", "noindex"),
        Directive("googlebot", "nofollow"),
        Directive("otherbot", "noai"),
    ]
    assert parse_robots_directives(" , ,noai,") == [Directive(None, "noai")]


@pytest.mark.parametrize(
    ("html", "media_type", "ai", "search"),
    [
        ('<meta name="robots" content="noai, noimageai">', "image/jpeg", "reserved", "unset"),
        ('<meta name="robots" content="noimageai">', "text/html", "unset", "unset"),
        ('<META NAME="Robots" CONTENT="NOAI">', "text/html", "reserved", "unset"),
        ('<meta name="robots" content="noindex">', "text/html", "unset", "reserved"),
        ('<meta name="GPTBot" content="noai">', "text/html", "reserved", "unset"),
        ('<meta name="googlebot" content="noai">', "text/html", "unset", "unset"),
        ('<meta name="description" content="noai">', "text/html", "unset", "unset"),
        ("<html><body>nothing</body></html>", "text/html", "unset", "unset"),
        ("", None, "unset", "unset"),
    ],
)
def test_meta_robots(html: str, media_type: str | None, ai: str, search: str) -> None:
    result = statuses(read_meta_robots(html, media_type=media_type))
    assert {result[p] for p in AI_PURPOSES} == {ai}
    assert result["search"] == search


@given(st.lists(st.text(), max_size=4), st.one_of(st.none(), st.text()))
def test_header_vocabularies_only_restrict(values: list[str], media_type: str | None) -> None:
    readings = read_x_robots_tag([("x-robots-tag", v) for v in values], media_type=media_type)
    assert all(r.status in ("reserved", "unset") for r in readings)


@given(st.one_of(st.text(), st.binary()))
def test_arbitrary_html_only_restricts(html: str | bytes) -> None:
    assert all(r.status in ("reserved", "unset", "unknown") for r in read_meta_robots(html))
