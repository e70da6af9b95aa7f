"""Ingest writes item URLs and rights matches registry prefixes against them: both spellings must agree,
or a reservation silently stops matching."""

from __future__ import annotations

import pytest

from consentry_ingest.domain import normalise_url as ingest_normalise
from consentry_rights.domain import normalise_url as rights_normalise

URLS = [
    "https://Example.ORG/a/b?q=1#frag",
    "HTTP://example.org:80/",
    "https://example.org:443",
    "https://example.org:8443/x",
    "https://user:pw@example.org/private",
    "https://example.org./trailing-dot",
    "https://photos.example/path%2fwith%2Fescapes",
    "https://xn--bcher-kva.example/b%C3%BCcher",
    "https://example.org/a%20b",
]


@pytest.mark.parametrize("url", URLS)
def test_rights_reads_an_ingested_url_as_ingest_wrote_it(url: str) -> None:
    ingested = ingest_normalise(url)
    assert rights_normalise(ingested) == ingested
    assert rights_normalise(url) == ingested
