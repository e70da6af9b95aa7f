"""Crawl-time evidence fields in JSONL and CSV manifests, normalised into ``RawItem.evidence``."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from consentry_ingest.domain import (
    EVIDENCE_FIELDS,
    MAX_EVIDENCE_CHARS,
    LineError,
    ManifestParser,
    ParsedLine,
    RawItem,
)

SHA = "ab" * 32


def parse(data: bytes, fmt: str = "jsonl") -> list[ParsedLine]:
    parser = ManifestParser(fmt)  # type: ignore[arg-type]
    return parser.feed(data) + parser.close()


def one(**fields: Any) -> ParsedLine:
    [result] = parse(json.dumps({"id": "a", "url": "http://x.org/", **fields}).encode() + b"\n")
    return result


def evidence(**fields: Any) -> dict[str, str]:
    result = one(**fields)
    assert isinstance(result, RawItem), result
    return dict(result.evidence)


def test_an_item_without_evidence_has_an_empty_mapping() -> None:
    item = one()
    assert isinstance(item, RawItem)
    assert item.evidence == {}
    assert item.extra == {}
    assert item == RawItem(1, "a", "http://x.org/")
    assert hash(item) == hash(RawItem(1, "a", "http://x.org/"))


def test_headers_as_an_object_or_its_json_text_normalise_alike() -> None:
    as_object = {"X-Robots-Tag": ["noai", "noimageai"], "tdm-reservation": "1", "Content-Length": 12}
    expected = '{"content-length":["12"],"tdm-reservation":["1"],"x-robots-tag":["noai","noimageai"]}'
    assert evidence(headers=as_object) == {"headers": expected}
    assert evidence(headers=json.dumps(as_object)) == {"headers": expected}
    assert evidence(headers=[["X-Robots-Tag", "noai"], ["x-robots-tag", "noimageai"]]) == {
        "headers": '{"x-robots-tag":["noai","noimageai"]}'
    }


def test_html_meta_may_be_names_or_the_raw_html() -> None:
    assert evidence(html_meta={"TDM-Reservation": "1"}) == {"html_meta": '{"tdm-reservation":["1"]}'}
    html = '<meta name="robots" content="noai, noimageai">'
    assert evidence(html_meta=html) == {"html_meta": html}


def test_bodies_hashes_json_and_times() -> None:
    tdmrep = [{"location": "/", "tdm-reservation": 1}]
    found = evidence(
        robots_txt="User-agent: CCBot\nDisallow: /\n",
        ai_txt="User-agent: *\nDisallow: *.jpg\n",
        tdmrep_json=tdmrep,
        tdmrep_json_sha256=SHA.upper(),
        xmp="<x:xmpmeta/>",
        c2pa={"b": 1, "a": {"d": 2, "c": 3}},
        fetched_at="2025-05-12T07:40:01+02:00",
    )
    assert found == {
        "xmp": "<x:xmpmeta/>",
        "c2pa": '{"a":{"c":3,"d":2},"b":1}',
        "robots_txt": "User-agent: CCBot\nDisallow: /\n",
        "ai_txt": "User-agent: *\nDisallow: *.jpg\n",
        "tdmrep_json": '[{"location":"/","tdm-reservation":1}]',
        "tdmrep_json_sha256": SHA,
        "fetched_at": "2025-05-12T05:40:01Z",
    }
    assert list(found) == [name for name in EVIDENCE_FIELDS if name in found]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20250512054001", "2025-05-12T05:40:01Z"),
        ("2025-05-12T05:40:01Z", "2025-05-12T05:40:01Z"),
        ("2025-05-12 05:40:01.250", "2025-05-12T05:40:01.250000Z"),
        ("2025-05-12", "2025-05-12T00:00:00Z"),
    ],
)
def test_fetched_at_forms(value: str, expected: str) -> None:
    assert evidence(fetched_at=value) == {"fetched_at": expected}


def test_empty_and_null_evidence_is_not_given() -> None:
    assert evidence(headers=None, robots_txt="", fetched_at="  ") == {}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"headers": "x-robots-tag: noai"}, "headers", "not valid JSON"),
        ({"headers": ["noai"]}, "headers", "JSON object of names to values, got an array"),
        ({"headers": {"x-robots-tag": {"a": 1}}}, "headers", "must be a string or a list of strings"),
        ({"headers": {"": "x"}}, "headers", "not a non-empty string"),
        ({"html_meta": "{broken"}, "html_meta", "not valid JSON"),
        ({"robots_txt": {"a": 1}}, "robots_txt", "must be a string, got an object"),
        ({"robots_txt": "a\u0000b"}, "robots_txt", "NUL"),
        ({"ai_txt_sha256": "beef"}, "ai_txt_sha256", "64 hexadecimal characters, got 'beef'"),
        ({"ai_txt_sha256": 5}, "ai_txt_sha256", "got a number"),
        ({"fetched_at": "yesterday"}, "fetched_at", "not an ISO 8601 time"),
        ({"fetched_at": 1715500000}, "fetched_at", "must be a string"),
        ({"c2pa": 3}, "c2pa", "must be a string, got a number"),
        ({"xmp": "x" * (MAX_EVIDENCE_CHARS + 1)}, "xmp", f"longer than {MAX_EVIDENCE_CHARS}"),
    ],
)
def test_bad_evidence_names_its_field(fields: dict[str, Any], field: str, message: str) -> None:
    result = one(**fields)
    assert isinstance(result, LineError), result
    assert (result.line, result.field) == (1, field)
    assert message in result.message


def test_unknown_fields_are_still_refused_beside_evidence() -> None:
    found = parse(json.dumps({"id": "a", "url": "http://x.org/", "headers": {}, "caption": "c"}).encode())
    assert [(e.field, e.message.split(";")[0]) for e in found if isinstance(e, LineError)] == [
        ("caption", "unknown field 'caption'")
    ]


def test_csv_evidence_columns() -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "url", "headers", "robots_txt", "fetched_at", "robots_txt_sha256"])
    writer.writerow(
        ["a", "http://x.org/a", '{"X-Robots-Tag": "noai"}', "User-agent: *\nDisallow: /\n", "", ""]
    )
    writer.writerow(["b", "http://x.org/b", "", "", "20250101000000", SHA])
    writer.writerow(["c", "http://x.org/c", "nope", "", "", ""])
    found = parse(buffer.getvalue().encode(), "csv")
    assert [r.evidence if isinstance(r, RawItem) else r for r in found] == [
        {"headers": '{"x-robots-tag":["noai"]}', "robots_txt": "User-agent: *\nDisallow: /\n"},
        {"fetched_at": "2025-01-01T00:00:00Z", "robots_txt_sha256": SHA},
        LineError(6, "headers", "headers is not valid JSON"),  # row a spans lines 2-4
    ]


def test_csv_still_refuses_unknown_columns() -> None:
    [error] = parse(b"id,url,headerz\n", "csv")
    assert isinstance(error, LineError)
    assert error.field == "headerz"
