"""CDXJ capture indexes: a Common Crawl excerpt, the index server's JSON lines, every error named."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from pathlib import Path

import pytest

from consentry_ingest.domain import LineError, ParsedLine, ParserClosedError, RawItem
from consentry_ingest.domain.formats import CdxjParser, read_cdxj

EXCERPT = Path(__file__).parent / "data" / "formats" / "cc-main-2025-21-excerpt.cdxj"
DIGEST = "ZA6MPPJEFGZ53KWFSLWMF7NDO7RKOWR4"
DIGEST_HEX = base64.b32decode(DIGEST).hex()


def parse(data: bytes, *, cuts: list[int] | None = None, **kw: object) -> list[ParsedLine]:
    parser = CdxjParser(**kw)  # type: ignore[arg-type]
    bounds = [0, *sorted(cuts or []), len(data)]
    results: list[ParsedLine] = []
    for start, end in itertools.pairwise(bounds):
        results += parser.feed(data[start:end])
    return results + parser.close()


def line(surt: str = "org,x)/", timestamp: str = "20250512054001", **fields: object) -> bytes:
    body = {"url": "https://x.org/", "digest": DIGEST, **fields}
    return f"{surt} {timestamp} {json.dumps(body)}\n".encode()


def errors(results: list[ParsedLine]) -> list[LineError]:
    return [r for r in results if isinstance(r, LineError)]


def test_a_common_crawl_excerpt() -> None:
    data = EXCERPT.read_bytes()
    found = parse(data)
    assert not errors(found)
    assert [(r.line, r.url, r.media_type) for r in found if isinstance(r, RawItem)] == [
        (2, "https://example.org/", "text/html"),
        (3, "https://example.org/images/cat.jpg", "image/jpeg"),
        (4, "http://example.org/old-page", "text/html"),
        (5, "https://www.example.org/robots.txt", "text/plain"),
        (6, "https://example-shop.com/products?lang=en&id=42", "application/xhtml+xml"),
    ]
    cat = found[1]
    assert isinstance(cat, RawItem)
    assert cat.id == "20250512054433/https://example.org/images/cat.jpg"
    digest = json.loads(data.splitlines()[2].split(b" ", 2)[2])["digest"]
    assert dict(cat.extra) == {
        "mime": "image/jpeg",
        "mime_detected": "image/jpeg",
        "sha1": base64.b32decode(digest).hex(),
        "status": "200",
        "timestamp": "20250512054433",
        "warc_filename": "crawl-data/CC-MAIN-2025-21/segments/1746990412231.65/warc/"
        "CC-MAIN-20250512042640-20250512072640-00411.warc.gz",
        "warc_length": "48213",
        "warc_offset": "1033451",
    }
    assert dict(cat.evidence) == {"fetched_at": "2025-05-12T05:44:33Z"}


def test_results_do_not_depend_on_chunk_boundaries() -> None:
    data = EXCERPT.read_bytes()
    whole = parse(data)
    for cut in range(0, len(data), 37):
        assert parse(data, cuts=[cut, cut + 5]) == whole


def test_read_cdxj_reads_a_file() -> None:
    data = EXCERPT.read_bytes()
    assert [r for batch in read_cdxj(io.BytesIO(data)) for r in batch] == parse(data)


def test_the_index_servers_json_lines_are_read_too() -> None:
    body = {"urlkey": "org,x)/a", "timestamp": "20240101000000", "url": "http://x.org/a", "digest": DIGEST}
    [item] = parse(json.dumps(body).encode() + b"\n")
    assert isinstance(item, RawItem)
    assert (item.id, item.extra["timestamp"], item.extra["sha1"]) == (
        "20240101000000/http://x.org/a",
        "20240101000000",
        DIGEST_HEX,
    )


@pytest.mark.parametrize(
    ("digest", "sha1", "sha256"),
    [
        (DIGEST, DIGEST_HEX, None),
        ("sha1:" + DIGEST.lower(), DIGEST_HEX, None),
        ("sha1:" + DIGEST_HEX.upper(), DIGEST_HEX, None),
        ("sha256:" + "AB" * 32, None, "ab" * 32),
    ],
)
def test_digest_forms(digest: str, sha1: str | None, sha256: str | None) -> None:
    [item] = parse(line(digest=digest))
    assert isinstance(item, RawItem)
    assert (item.extra.get("sha1"), item.sha256) == (sha1, sha256)


def test_ids_from_digests_are_optional_and_repeat_payloads_collide() -> None:
    data = (
        line(url="https://x.org/a") + line(url="https://x.org/b") + line(url="https://x.org/c", digest=None)
    )
    found = parse(data, id_from="digest")
    assert isinstance(found[0], RawItem)
    assert found[0].id == f"sha1:{DIGEST}"
    assert found[1] == LineError(2, "id", f"duplicate id 'sha1:{DIGEST}', first seen on line 1")
    assert isinstance(found[2], RawItem)
    assert found[2].id == "20250512054001/https://x.org/c"  # no digest: the capture id
    with pytest.raises(ValueError, match="id_from"):
        CdxjParser(id_from="url")  # type: ignore[arg-type]


def test_capture_ids_keep_repeat_payloads_apart_but_not_repeat_captures() -> None:
    data = line(url="https://x.org/a") + line(url="https://x.org/b") + line(url="https://x.org/a")
    found = parse(data)
    assert [type(r) for r in found] == [RawItem, RawItem, LineError]
    assert found[2] == LineError(
        3, "id", "duplicate id '20250512054001/https://x.org/a', first seen on line 1"
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (line(timestamp="2025051205400"), "timestamp", "timestamp must be 14 digits"),
        (line(timestamp="20251312054001"), "timestamp", "got '20251312054001'"),
        (line(timestamp="20250230000000"), "timestamp", "14 digits"),
        (line(url="mailto:a@x.org"), "url", "must be an absolute http:// or https:// URL"),
        (line(url=None), "url", "missing url"),
        (line(digest="abc"), "digest", "digest must be a SHA-1"),
        (line(digest=7), "digest", "must be a string, got a number"),
        (b"org,x)/ 20250512054001\n", None, "not a CDXJ line"),
        (b"org,x)/ 20250512054001 [1]\n", None, "not a CDXJ line"),
        (b"org,x)/ 20250512054001 {oops}\n", None, "invalid JSON"),
        (b"[1, 2]\n", None, "not a CDXJ line"),
        (b"{}\n", "timestamp", "got null"),
        (b'"{"\n', None, "not a CDXJ line"),
        (b'org,x)/ 20250512054001 {"url": "\xff"}\n', None, "not valid UTF-8"),
        (b'org,x)/ 20250512054001 {"url": "http://x.org/\\udc80"}\n', None, "unpaired surrogate"),
        (b"org,x)/ 20250512054001 " + b"[" * 100_000 + b"\n", None, "not a CDXJ line"),
        (b"org,x)/ 20250512054001 {" + b'"a":[' * 100_000 + b"\n", None, "invalid JSON"),
    ],
)
def test_errors_name_the_line_and_field(data: bytes, field: str | None, message: str) -> None:
    found = errors(parse(b"\n!comment\n" + data))
    assert found, data
    assert found[0].line == 3
    assert found[0].field == field
    assert message in found[0].message


def test_a_bad_timestamp_and_a_bad_url_are_both_reported() -> None:
    found = parse(line(timestamp="x", url="ftp://x.org/"))
    assert [(e.field) for e in errors(found)] == ["timestamp", "url"]


def test_unknown_mime_values_give_no_media_type() -> None:
    [item] = parse(line(mime="unk", **{"mime-detected": "warc/revisit"}))
    assert isinstance(item, RawItem)
    assert item.media_type is None
    assert item.extra["mime"] == "unk"


def test_evidence_fields_in_the_json_are_kept() -> None:
    [item] = parse(line(headers={"X-Robots-Tag": "noai"}, robots_txt_sha256="AB" * 32))
    assert isinstance(item, RawItem)
    assert dict(item.evidence) == {
        "headers": '{"x-robots-tag":["noai"]}',
        "robots_txt_sha256": "ab" * 32,
        "fetched_at": "2025-05-12T05:40:01Z",
    }


def test_long_lines_are_dropped_not_buffered() -> None:
    data = line() + b"org,y)/ 20250512054001 {" + b" " * 5000 + b"}\n" + line(url="https://x.org/z")
    found = parse(data, max_line_bytes=1000, cuts=[100, 3000])
    assert [type(r) for r in found] == [RawItem, LineError, RawItem]
    assert found[1] == LineError(2, None, "line is longer than 1000 bytes")


def test_bom_crlf_blank_lines_and_an_unterminated_last_line() -> None:
    data = b"\xef\xbb\xbf" + line().replace(b"\n", b"\r\n") + b"\r\n\n" + line(url="https://x.org/b").rstrip()
    assert [r.line for r in parse(data)] == [1, 4]


def test_lifecycle() -> None:
    parser = CdxjParser()
    parser.feed(line())
    assert parser.lines_read == 1
    assert parser.close() == []
    assert parser.close() == []
    assert parser.content_sha256 == hashlib.sha256(line()).hexdigest()
    with pytest.raises(ParserClosedError):
        parser.feed(b"x")


# --- shapes of real indexes: redirects, revisits and pywb's "-" ---------------------------------


def test_redirects_revisits_and_error_pages_are_items_with_their_status() -> None:
    """Common Crawl's crawldiagnostics captures (301 with ``redirect``), a warc/revisit record,
    a 404: each is a capture of its URL and stays an item, told apart by ``extra``."""
    data = b"".join(
        [
            line(
                "org,x)/old",
                mime="text/html",
                **{"mime-detected": "text/html"},
                status="301",
                redirect="https://x.org/new",
                filename="crawl-data/CC-MAIN-2024-30/segments/1/crawldiagnostics/a.warc.gz",
            ),
            line("org,x)/", "20250512054002", mime="warc/revisit", status="200"),
            line("org,x)/gone", "20250512054003", mime="text/html", status="404"),
        ]
    )
    found = parse(data)
    assert not errors(found)
    summary = [
        (r.line, r.media_type, r.extra.get("status"), r.extra.get("redirect"))
        for r in found
        if isinstance(r, RawItem)
    ]
    assert summary == [
        (1, "text/html", "301", "https://x.org/new"),
        (2, None, "200", None),
        (3, "text/html", "404", None),
    ]


def test_pywb_dashes_are_no_value() -> None:
    """pywb writes ``-`` for what a record lacks: a revisit's status, no redirect, an ARC-era
    length, and sometimes the digest itself. None of it is an error or a value."""
    revisit = line(
        "com,example)/?example=1",
        "20140103030341",
        url="http://example.com?example=1",
        mime="warc/revisit",
        status="-",
        redirect="-",
        robotflags="-",
        length="-",
        offset="1864",
        filename="example.warc.gz",
        source="pywb:example.cdx",
        **{"source-coll": "pywb"},
    )
    no_digest = line("org,x)/", "20140103030342", digest="-", status="200")
    found = parse(revisit + no_digest)
    assert not errors(found)
    first, second = found
    assert isinstance(first, RawItem) and isinstance(second, RawItem)
    assert dict(first.extra) == {
        "sha1": DIGEST_HEX,
        "mime": "warc/revisit",
        "warc_filename": "example.warc.gz",
        "warc_offset": "1864",
        "timestamp": "20140103030341",
    }
    assert "sha1" not in second.extra
    assert parse(no_digest, id_from="digest")[0].id == "20140103030342/https://x.org/"  # type: ignore[union-attr]


def test_an_index_servers_rows_without_urlkey() -> None:
    """A Wayback server's JSON rows with ``url`` and ``timestamp`` but no ``urlkey``, a numeric
    status 0 on a revisit, and a 32-character digest: read like Common Crawl's."""
    rows = [
        {"url": "http://www.x.hu/", "timestamp": "20191022145707", "status": "200", "mime": "text/html",
         "digest": "BBEC6NCMPYX7TKM6Z37K7NPBDS3PBNNA", "length": "13163"},
        {"url": "http://www.x.hu/", "timestamp": "20190218140048", "status": "0", "mime": "warc/revisit",
         "digest": "BA54CFE46A76DBCAE726BD32CFB7E54C", "length": "646"},
    ]  # fmt: skip
    found = parse(b"".join(json.dumps(row).encode() + b"\n" for row in rows))
    assert not errors(found)
    assert [(r.id, r.extra["status"]) for r in found if isinstance(r, RawItem)] == [
        ("20191022145707/http://www.x.hu/", "200"),
        ("20190218140048/http://www.x.hu/", "0"),
    ]


# --- the Wayback CDX server's answers and classic CDX files ---------------------------------------

CDX_DIGEST = "HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA"


def test_the_cdx_servers_default_answer() -> None:
    """Seven space-separated fields: urlkey timestamp original mimetype statuscode digest length."""
    data = (
        f"com,example)/ 20020120142510 http://example.com:80/ text/html 200 {CDX_DIGEST} 1792\n"
        f"com,example)/ 20020328012821 http://www.example.com:80/ warc/revisit - {CDX_DIGEST} 791\n"
    ).encode()
    found = parse(data, cuts=[7, 90])
    assert not errors(found)
    assert [(r.id, r.url, r.media_type, dict(r.extra)) for r in found if isinstance(r, RawItem)] == [
        (
            "20020120142510/http://example.com:80/",
            "http://example.com/",
            "text/html",
            {
                "sha1": base64.b32decode(CDX_DIGEST).hex(),
                "status": "200",
                "mime": "text/html",
                "warc_length": "1792",
                "timestamp": "20020120142510",
            },
        ),
        (
            "20020328012821/http://www.example.com:80/",
            "http://www.example.com/",
            None,
            {
                "sha1": base64.b32decode(CDX_DIGEST).hex(),
                "mime": "warc/revisit",
                "warc_length": "791",
                "timestamp": "20020328012821",
            },
        ),
    ]


def test_a_cdx_file_with_its_header() -> None:
    """A CDX file's `` CDX N b a m s k r M S V g`` legend names the fields of every line."""
    data = (
        b" CDX N b a m s k r M S V g\n"
        b"com,example)/ 20020120142510 http://example.com:80/ text/html 200 "
        + CDX_DIGEST.encode()
        + b" - - 1792 4823 DJ_crawl3.20020120141301.arc.gz\n"
    )
    [item] = parse(data)
    assert isinstance(item, RawItem)
    assert (item.line, item.extra["warc_filename"], item.extra["warc_offset"]) == (
        2,
        "DJ_crawl3.20020120141301.arc.gz",
        "4823",
    )
    [error] = parse(b"com,example)/ 20020120142510 http://example.com/ text/html 200\n")
    assert isinstance(error, LineError) and error.line == 1 and "nor a CDX line" in error.message


def test_the_cdx_servers_json_answer() -> None:
    """``output=json``: an array whose first row names the fields, one row a line or all on one."""
    rows = [
        ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
        ["com,example)/", "20020120142510", "http://example.com:80/", "text/html", "200", CDX_DIGEST, "1792"],
        ["com,example)/", "20020328012821", "http://www.example.com:80/", "text/html", "301", "-", "-"],
    ]
    one_a_line = ("[" + ",\n".join(json.dumps(row) for row in rows) + "]\n").encode()
    all_on_one = json.dumps(rows).encode()
    for data in (one_a_line, all_on_one):
        found = parse(data)
        assert not errors(found), errors(found)
        assert [
            (r.url, r.extra.get("status"), r.extra.get("sha1")) for r in found if isinstance(r, RawItem)
        ] == [
            ("http://example.com/", "200", base64.b32decode(CDX_DIGEST).hex()),
            ("http://www.example.com/", "301", None),
        ]
    assert parse(b"[]\n") == []
    [error] = parse(b'[["timestamp", "original"],\n["20020120142510"]]\n')
    assert isinstance(error, LineError) and "1 values for the 2 fields" in error.message
