"""normalise_url: one canonical spelling per URL, a fixed point of the contract's HttpUrl."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import HttpUrl

from consentry_ingest.domain import MAX_URL_CHARS, InvalidURLError, normalise_url


@pytest.mark.parametrize(
    ("given_url", "canonical"),
    [
        ("HTTP://Example.COM", "http://example.com/"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a?q=1#", "https://example.com/a?q=1"),
        ("https://Bücher.example/Straße", "https://xn--bcher-kva.example/Stra%C3%9Fe"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),
        ("https://example.com/A/B.JPG?X=Y&y=Z", "https://example.com/A/B.JPG?X=Y&y=Z"),
        ("https://example.com/a%2fb%c3%a9?x=%2f", "https://example.com/a%2Fb%C3%A9?x=%2F"),
        ("https://example.com/a%zz", "https://example.com/a%zz"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com.:8080/a", "https://example.com:8080/a"),
        ("http://[::1]:80/a", "http://[::1]/a"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
        # what the WHATWG URL Standard (and so HttpUrl) does to every URL anyway
        ("https://example.com/a/../b/./c", "https://example.com/b/c"),
        ("https://example.com/a b", "https://example.com/a%20b"),
    ],
)
def test_canonical_form(given_url: str, canonical: str) -> None:
    assert normalise_url(given_url) == canonical


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "must be an absolute http:// or https:// URL"),
        ("example.com/a", "must be an absolute http"),
        ("//example.com/a", "must be an absolute http"),
        ("ftp://example.com/a", "must be an absolute http"),
        ("file:///etc/passwd", "must be an absolute http"),
        ("javascript:alert(1)", "must be an absolute http"),
        ("http:example.com", "must be an absolute http"),
        ("http://", "has no host"),
        ("http:///a", "has no host"),
        ("http://?q", "has no host"),
        ("http://user@:80/", "has no host"),
        ("http://./", "has no host"),
        ("http://exa mple.com/", "invalid international domain name"),
        ("http://example.com:65536/", "invalid port number"),
        ("http://[::g]/", "invalid IPv6 address"),
        ("http://x/\ud800", "not valid Unicode"),
        ("http://x.org/" + "a" * MAX_URL_CHARS, f"longer than {MAX_URL_CHARS}"),
    ],
)
def test_rejects_with_a_reason(bad: str, reason: str) -> None:
    with pytest.raises(InvalidURLError, match=reason):
        normalise_url(bad)


def test_invalid_url_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="http"):
        normalise_url("mailto:a@example.com")


url_chars = st.characters(blacklist_categories=("Cs",)) | st.sampled_from("%/?#@:[].\\ 2fAa")


@settings(max_examples=500)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS"]),
    rest=st.text(url_chars, max_size=40),
)
def test_the_result_is_a_fixed_point_of_itself_and_of_httpurl(scheme: str, rest: str) -> None:
    try:
        canonical = normalise_url(f"{scheme}://{rest}")
    except InvalidURLError:
        return
    assert normalise_url(canonical) == canonical
    assert str(HttpUrl(canonical)) == canonical
    assert "#" not in canonical
    assert canonical.startswith(("http://", "https://"))
    assert "@" not in canonical.split("/")[2]


@settings(max_examples=300)
@given(st.text(max_size=60))
def test_arbitrary_text_is_either_rejected_or_normalised(text: str) -> None:
    try:
        canonical = normalise_url(text)
    except InvalidURLError:
        return
    assert normalise_url(canonical) == canonical
