"""The item-level readings memoised without their URL give what the readers give at the URL.

``web_signals`` keeps the readings of a header set, an XMP packet or a C2PA store by their
inputs, read at a placeholder source, and puts each item's URL back. Compared here with the
readers called directly with the item's URL, over every combination of a small vocabulary of
header values, media types, platform tokens, bodies and URLs (read twice: filling the memo, then
from it).
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from consentry_rights.domain.signals import (
    read_c2pa_training_mining,
    read_content_usage_header,
    read_iptc_data_mining,
    read_x_robots_tag,
)
from consentry_rights.domain.web_signals import _read_body, _read_headers

URLS = ["https://example.org/a.jpg", "https://cdn.example.net/p/b.png?x=1", "http://[::1]/c"]
MEDIA_TYPES = [None, "image/jpeg", "text/html", " IMAGE/PNG "]
TOKENS = [None, "acme-ai", "GPTBot"]
HEADER_VALUES = {
    "x-robots-tag": ["noai, noimageai", "googlebot: noai", "acme-ai: noindex", "none", "all", ""],
    "content-usage": ["train-ai=n", "train-ai=y, search=n", "bad;;value", "tdm=n"],
    "content-type": ["image/jpeg"],
}
XMP = [
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining="'
    f'http://ns.useplus.org/ldf/vocab/{term}"/></rdf:RDF></x:xmpmeta>'
    for term in [
        "DMI-PROHIBITED-AIMLTRAINING",
        "DMI-ALLOWED",
        "NOT-A-TERM",
        "DMI-PROHIBITED-SEELINKEDRIGHTSEXPR",
    ]
]
BODIES: list[str | bytes] = [*XMP, "<not xml", "", b"<?xpacket begin?><x:xmpmeta xmlns:x='adobe:ns:meta/'/>"]
C2PA = ['{"manifests": {}}', "not json", '{"manifests": {"m": {"assertions": []}}}']


def header_sets() -> list[dict[str, list[str]]]:
    rng = random.Random(4)
    found: list[dict[str, list[str]]] = [{}]
    for _ in range(60):
        headers: dict[str, list[str]] = {}
        for name, values in HEADER_VALUES.items():
            if rng.random() < 0.6:
                headers[name] = rng.sample(values, min(len(values), rng.choice([1, 1, 2])))
        found.append(headers)
    return found


def test_header_readings_from_the_memo_are_those_read_at_the_url() -> None:
    for headers, url, media_type, token in itertools.product(header_sets(), URLS, MEDIA_TYPES, TOKENS):
        expected = read_x_robots_tag(headers, media_type=media_type, platform_token=token, source=url)
        expected.extend(read_content_usage_header(headers, source=url))
        for _ in range(2):
            assert _read_headers(headers, url, media_type, token) == expected


def test_body_readings_from_the_memo_are_those_read_at_the_url() -> None:
    for url in URLS:
        for xmp in BODIES:
            for _ in range(2):
                assert _read_body(read_iptc_data_mining, xmp, url) == read_iptc_data_mining(xmp, source=url)
        for store in C2PA:
            for _ in range(2):
                assert _read_body(read_c2pa_training_mining, store, url) == read_c2pa_training_mining(
                    store, source=url
                )


@settings(max_examples=200, deadline=None)
@given(
    value=st.text(max_size=40),
    name=st.sampled_from(["x-robots-tag", "content-usage", "X-Robots-Tag"]),
    url=st.sampled_from(URLS),
    token=st.sampled_from(TOKENS),
)
def test_any_header_value_reads_the_same_through_the_memo(
    value: str, name: str, url: str, token: str | None
) -> None:
    headers = {name: [value]}
    expected = read_x_robots_tag(headers, media_type="image/jpeg", platform_token=token, source=url)
    expected.extend(read_content_usage_header(headers, source=url))
    assert _read_headers(headers, url, "image/jpeg", token) == expected


def test_a_value_holding_the_placeholder_is_read_directly() -> None:
    """A reading whose text holds the placeholder is not memoised (its text would be misread
    as the item's URL): the readers are called with the URL itself."""
    url = URLS[0]
    for headers in ({"x-robots-tag": ["\x00item-url\x00, noai"]}, {"content-usage": ["\x00item-url\x00"]}):
        expected = read_x_robots_tag(headers, media_type=None, platform_token=None, source=url)
        expected.extend(read_content_usage_header(headers, source=url))
        assert any("\x00item-url\x00" in (reading.raw or "") for reading in expected)
        assert _read_headers(headers, url, None, None) == expected
