"""ManifestParser: streaming JSONL and CSV, every error with its line and field."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry_ingest.domain import (
    ITEM_FIELDS,
    LineError,
    ManifestParser,
    ParsedLine,
    ParserClosedError,
    RawItem,
    UnsupportedFormatError,
    to_event,
)
from consentry_shared.contracts.v1 import ItemEvent, Purpose

SHA = "ab" * 32
MD5 = "cd" * 16
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def parse(data: bytes, fmt: str = "jsonl", *, cuts: list[int] | None = None, **kw: Any) -> list[ParsedLine]:
    """Everything a parser returns for ``data``, fed in pieces split at ``cuts``."""
    parser = ManifestParser(fmt, **kw)  # type: ignore[arg-type]
    bounds = [0, *sorted(cuts or []), len(data)]
    results: list[ParsedLine] = []
    for start, end in itertools.pairwise(bounds):
        results += parser.feed(data[start:end])
    return results + parser.close()


def items(results: list[ParsedLine]) -> list[RawItem]:
    return [r for r in results if isinstance(r, RawItem)]


def errors(results: list[ParsedLine]) -> list[LineError]:
    return [r for r in results if isinstance(r, LineError)]


def jsonl(*objects: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def only_error(results: list[ParsedLine]) -> LineError:
    found = errors(results)
    assert len(found) == 1, results
    return found[0]


def event_for(raw: RawItem) -> ItemEvent:
    return to_event(
        raw,
        manifest_id="acme:id:m",
        platform="acme",
        purpose=Purpose.AI_TRAINING,
        territory=None,
        commercial=True,
        submitted_at=NOW,
    )


# --- JSONL: what is read -----------------------------------------------------------------------


def test_jsonl_items_with_header_are_read_validated_and_normalised() -> None:
    data = jsonl(
        {"manifest": {"id": "m1", "dataset": "photos", "platform": "acme", "purpose": "search"}},
        {
            "id": "a",
            "url": "HTTPS://Example.ORG:443/Cat.JPG#top",
            "sha256": SHA.upper(),
            "md5": MD5,
            "license": "CC-BY-4.0",
            "creator": "Ann",
            "title": "Cat",
            "media_type": "image/jpeg",
        },
        {"id": 7, "url": "http://example.org"},
    )
    parser = ManifestParser("jsonl")
    results = parser.feed(data) + parser.close()
    assert results == [
        RawItem(2, "a", "https://example.org/Cat.JPG", SHA, MD5, "CC-BY-4.0", "Ann", "Cat", "image/jpeg"),
        RawItem(3, "7", "http://example.org/"),
    ]
    assert parser.header is not None
    assert (parser.header.id, parser.header.purpose) == ("m1", Purpose.SEARCH)
    assert parser.lines_read == 3
    assert parser.content_sha256 == hashlib.sha256(data).hexdigest()


def test_header_is_optional_and_never_set_by_items() -> None:
    parser = ManifestParser("jsonl")
    results = parser.feed(jsonl({"id": "a", "url": "http://x.org/"})) + parser.close()
    assert results == [RawItem(1, "a", "http://x.org/")]
    assert parser.header is None


def test_header_is_exposed_as_soon_as_its_line_is_complete() -> None:
    parser = ManifestParser("jsonl")
    assert parser.feed(b'{"manifest": {"platform": "acme"}}') == []
    assert parser.header is None
    assert parser.feed(b"\r\n") == []
    assert parser.header is not None
    assert parser.header.platform == "acme"


def test_blank_lines_crlf_and_a_bom_are_tolerated() -> None:
    data = (
        b"\xef\xbb\xbf\r\n  \n"
        b'{"manifest": {"id": "m"}}\r\n'
        b"\r\n"
        b'{"id": "a", "url": "http://x.org/a"}\r\n'
        b"\t\n"
        b'{"id": "b", "url": "http://x.org/b"}'  # no final line break
    )
    assert parse(data) == [RawItem(5, "a", "http://x.org/a"), RawItem(7, "b", "http://x.org/b")]


def test_optional_fields_null_or_empty_mean_absent() -> None:
    data = jsonl({"id": "a", "url": "http://x.org/", "sha256": None, "md5": "", "title": "", "license": None})
    assert parse(data) == [RawItem(1, "a", "http://x.org/")]


def test_empty_input_gives_nothing() -> None:
    assert parse(b"") == []
    assert parse(b"\n\n  \r\n") == []


# --- JSONL: every error names its line and field -----------------------------------------------

GOOD = {"id": "first", "url": "http://x.org/1"}

ERROR_CASES: list[tuple[str, bytes, str | None, str]] = [
    ("bad utf-8", b'{"id": "\xff", "url": "http://x.org/"}', None, "not valid UTF-8 at byte 9"),
    ("truncated utf-8", b'{"id": "\xc3', None, "not valid UTF-8 at byte 9"),
    ("invalid json", b'{"id": "a", "url": }', None, "invalid JSON: Expecting value at column 20"),
    ("trailing garbage", b'{"id": "a"} x', None, "invalid JSON: Extra data at column 13"),
    ("array", b'["a"]', None, "expected a JSON object, got an array"),
    ("string", b'"a"', None, "expected a JSON object, got a string"),
    ("too deep", b"[" * 100_000, None, "invalid JSON: nested too deeply"),
    ("huge int", b'{"id": ' + b"9" * 5000 + b"}", None, "invalid JSON"),
    ("missing id", b'{"url": "http://x.org/"}', "id", "missing id"),
    ("null id", b'{"id": null, "url": "http://x.org/"}', "id", "missing id"),
    ("empty id", b'{"id": "", "url": "http://x.org/"}', "id", "id is empty"),
    ("blank id", b'{"id": "  ", "url": "http://x.org/"}', "id", "id is empty"),
    (
        "bool id",
        b'{"id": true, "url": "http://x.org/"}',
        "id",
        "must be a string or an integer, got a boolean",
    ),
    ("float id", b'{"id": 1.5, "url": "http://x.org/"}', "id", "got a number"),
    ("long id", b'{"id": "' + b"i" * 4097 + b'", "url": "http://x.org/"}', "id", "longer than 4096"),
    ("control in id", b'{"id": "a\\nb", "url": "http://x.org/"}', "id", "control character (U+000A)"),
    ("surrogate", b'{"id": "a\\ud800", "url": "http://x.org/"}', "id", "unpaired surrogate"),
    ("missing url", b'{"id": "a"}', "url", "missing url"),
    ("empty url", b'{"id": "a", "url": ""}', "url", "missing url"),
    ("url not a string", b'{"id": "a", "url": 5}', "url", "url must be a string, got a number"),
    ("ftp url", b'{"id": "a", "url": "ftp://x.org/f"}', "url", "must be an absolute http:// or https:// URL"),
    ("relative url", b'{"id": "a", "url": "/a/b.jpg"}', "url", "must be an absolute http"),
    ("url without host", b'{"id": "a", "url": "http:///a.jpg"}', "url", "has no host"),
    ("url empty host", b'{"id": "a", "url": "http://:80/a.jpg"}', "url", "has no host"),
    ("url bad port", b'{"id": "a", "url": "http://x.org:99999/"}', "url", "invalid port number"),
    ("url bad idna", b'{"id": "a", "url": "http://xn--a.org/"}', "url", "invalid international domain"),
    ("short sha256", b'{"id": "a", "url": "http://x.org/", "sha256": "abc"}', "sha256", "64 hexadecimal"),
    (
        "non-hex sha256",
        b'{"id": "a", "url": "http://x.org/", "sha256": "' + b"g" * 64 + b'"}',
        "sha256",
        "64 hexadecimal",
    ),
    ("sha256 number", b'{"id": "a", "url": "http://x.org/", "sha256": 12}', "sha256", "must be a string"),
    ("bad md5", b'{"id": "a", "url": "http://x.org/", "md5": "' + b"a" * 31 + b'"}', "md5", "32 hexadecimal"),
    (
        "license not a string",
        b'{"id": "a", "url": "http://x.org/", "license": ["MIT"]}',
        "license",
        "got an array",
    ),
    ("nul in title", b'{"id": "a", "url": "http://x.org/", "title": "a\\u0000b"}', "title", "NUL"),
    ("creator object", b'{"id": "a", "url": "http://x.org/", "creator": {}}', "creator", "got an object"),
    (
        "unknown field",
        b'{"id": "a", "url": "http://x.org/", "caption": "c"}',
        "caption",
        "unknown field 'caption'",
    ),
    (
        "duplicate id",
        b'{"id": "first", "url": "http://x.org/2"}',
        "id",
        "duplicate id 'first', first seen on line 1",
    ),
    ("late header", b'{"manifest": {"id": "m"}}', "manifest", "must be the first line"),
]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_each_bad_line_is_reported_with_its_line_and_field(
    line: bytes, field: str | None, message: str
) -> None:
    results = parse(jsonl(GOOD) + line + b"\n" + jsonl({"id": "last", "url": "http://x.org/3"}))
    error = only_error(results)
    assert (error.line, error.field) == (2, field)
    assert message in error.message
    # the lines around it are unaffected
    assert [(r.line, r.id) for r in items(results)] == [(1, "first"), (3, "last")]


def test_every_error_of_a_line_is_reported_in_field_order() -> None:
    line = {"zz": 1, "url": "gopher://x", "id": "", "md5": "x", "sha256": "y", "title": 3}
    found = errors(parse(jsonl(line)))
    assert [(e.line, e.field) for e in found] == [
        (1, "zz"),
        (1, "id"),
        (1, "url"),
        (1, "sha256"),
        (1, "md5"),
        (1, "title"),
    ]


def test_an_integer_id_and_its_string_are_the_same_id() -> None:
    error = only_error(parse(jsonl({"id": 42, "url": "http://x.org/"}, {"id": "42", "url": "http://x.org/"})))
    assert (error.line, error.field) == (2, "id")
    assert "first seen on line 1" in error.message


def test_messages_quote_offending_values_briefly_and_safely() -> None:
    key = "k\ud83d\ude00" + "x" * 500  # a valid (paired) emoji and a long name
    error = only_error(parse(jsonl({"id": "a", "url": "http://x.org/", key: 1})))
    assert error.field is not None
    assert len(error.field) < 80
    assert error.field.isascii()
    assert len(error.message) < 250
    error.message.encode("utf-8")  # never a lone surrogate in a report


def test_unknown_field_name_with_a_lone_surrogate_is_reported_encodably() -> None:
    error = only_error(parse(b'{"id": "a", "url": "http://x.org/", "\\udc80": 1}\n'))
    assert error.line == 1
    assert error.field is not None
    (error.field + error.message).encode("utf-8")


# --- the header --------------------------------------------------------------------------------


def test_an_invalid_header_names_the_header_field() -> None:
    parser = ManifestParser("jsonl")
    results = parser.feed(jsonl({"manifest": {"purpose": "mining", "territory": "france"}}))
    assert sorted((e.line, e.field) for e in errors(results)) == [
        (1, "manifest.purpose"),
        (1, "manifest.territory"),
    ]
    assert parser.header is None


def test_header_unknown_fields_inside_and_beside_are_errors() -> None:
    results = parse(jsonl({"manifest": {"owner": "x"}, "extra": 1}))
    assert sorted((e.line, e.field) for e in errors(results)) == [(1, "extra"), (1, "manifest.owner")]


def test_header_must_be_an_object() -> None:
    error = only_error(parse(jsonl({"manifest": "m1"})))
    assert (error.line, error.field) == (1, "manifest")


def test_a_header_after_an_unreadable_first_line_is_not_first() -> None:
    results = parse(b"{oops\n" + jsonl({"manifest": {"id": "m"}}))
    assert [(e.line, e.field) for e in errors(results)] == [(1, None), (2, "manifest")]


# --- long lines and memory ---------------------------------------------------------------------


@pytest.mark.parametrize("cut", [None, 3, 10, 17])
def test_a_line_over_the_limit_is_an_error_and_skipped(cut: int | None) -> None:
    long_line = json.dumps({"id": "x", "url": "http://x.org/", "title": "t" * 40}).encode()
    data = jsonl(GOOD) + long_line + b"\n" + jsonl({"id": "b", "url": "http://x.org/b"})
    results = parse(data, cuts=None if cut is None else [len(jsonl(GOOD)) + cut], max_line_bytes=64)
    error = only_error(results)
    assert (error.line, error.field) == (2, None)
    assert "longer than 64 bytes" in error.message
    assert [r.line for r in items(results)] == [1, 3]


def test_an_over_long_last_line_without_line_break_is_reported_at_close() -> None:
    parser = ManifestParser("jsonl", max_line_bytes=16)
    assert parser.feed(b'{"id": "a", "url": ') == []
    assert parser.feed(b'"http://x.org/"}') == []
    [error] = parser.close()
    assert error == LineError(1, None, "line is longer than 16 bytes")


def test_the_default_limit_is_one_mebibyte() -> None:
    just_fits = b'{"id": "a", "url": "http://x.org/", "title": "' + b"t" * ((1 << 20) - 50)
    just_fits += b"t" * ((1 << 20) - len(just_fits) - 2) + b'"}'
    assert len(just_fits) == 1 << 20
    assert items(parse(just_fits + b"\n"))
    error = only_error(parse(just_fits + b" \n"))
    assert error.message == "line is longer than 1048576 bytes"


def test_memory_stays_bounded_for_a_huge_line() -> None:
    parser = ManifestParser("jsonl")
    chunk = b"x" * (64 * 1024)
    tracemalloc.start()
    try:
        for _ in range(128):  # 8 MiB without a line break
            assert parser.feed(chunk) == []
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * (1 << 20)
    assert [e.message for e in errors(parser.feed(b"\n"))] == ["line is longer than 1048576 bytes"]


@pytest.mark.timeout(60)
def test_tiny_chunks_of_a_long_line_take_linear_time() -> None:
    # A parser that re-scanned or re-copied its buffer per chunk would need ~10^11 byte moves.
    title = "t" * 900_000
    data = jsonl({"id": "a", "url": "http://x.org/", "title": title})
    parser = ManifestParser("jsonl")
    results: list[ParsedLine] = []
    for start in range(0, len(data), 16):
        results += parser.feed(data[start : start + 16])
    results += parser.close()
    assert [r.title for r in items(results)] == [title]


# --- the parser's contract ---------------------------------------------------------------------


def test_feed_after_close_raises_and_close_is_idempotent() -> None:
    parser = ManifestParser("jsonl")
    parser.feed(b'{"id": "a", "url": "http://x.org/"}')
    assert len(parser.close()) == 1
    assert parser.close() == []
    with pytest.raises(ParserClosedError):
        parser.feed(b"\n")


def test_unknown_format_is_refused() -> None:
    with pytest.raises(UnsupportedFormatError):
        ManifestParser("parquet")  # type: ignore[arg-type]


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_with_quoted_commas_quotes_and_line_breaks() -> None:
    data = (
        b"id,url,title,license\r\n"
        b'a,http://x.org/a,"Hello, world",MIT\r\n'
        b'b,http://x.org/b,"She said ""hi""",\r\n'
        b'c,http://x.org/c,"two\r\nlines, and a comma","CC-BY-4.0"\r\n'
        b"d,http://x.org/d,,\r\n"
    )
    assert parse(data, "csv") == [
        RawItem(2, "a", "http://x.org/a", title="Hello, world", license="MIT"),
        RawItem(3, "b", "http://x.org/b", title='She said "hi"'),
        RawItem(4, "c", "http://x.org/c", title="two\nlines, and a comma", license="CC-BY-4.0"),
        RawItem(6, "d", "http://x.org/d"),
    ]


def test_csv_header_is_matched_without_case_or_spaces_in_any_order() -> None:
    data = b'\xef\xbb\xbf URL ,Sha256,ID\n"http://x.org/a",' + SHA.encode() + b",a\n\n"
    assert parse(data, "csv") == [RawItem(2, "a", "http://x.org/a", sha256=SHA)]


def test_csv_header_less_file_is_an_error_naming_the_column() -> None:
    results = parse(b"a,http://x.org/a\nb,http://x.org/b\n", "csv")
    found = errors(results)
    assert items(results) == []
    assert (found[0].line, found[0].field) == (1, "a")
    assert "is the header row missing?" in found[0].message
    assert {e.field for e in found} >= {"a", "http://x.org/a", "id", "url"}
    assert all(e.line == 1 for e in found)  # the rows after a bad header are not read


def test_csv_unknown_missing_and_duplicate_columns() -> None:
    found = errors(parse(b"id,caption,id\n", "csv"))
    assert [(e.field, e.message.split(";")[0]) for e in found] == [
        ("caption", "unknown column 'caption'"),
        ("id", "duplicate column 'id'"),
        ("url", "missing column 'url'"),
    ]


def test_csv_row_errors_name_line_and_column() -> None:
    data = (
        b"id,url,sha256\n"
        b"a,http://x.org/a,\n"
        b",http://x.org/b,\n"
        b"c,mailto:c@x.org,\n"
        b"d,http://x.org/d,beef\n"
        b"a,http://x.org/e,\n"
        b"f,http://x.org/f\n"
        b'g,"http://x.org/g"x,\n'
        b"h,http://x.org/\xff,\n"
    )
    assert [(e.line, e.field) for e in errors(parse(data, "csv"))] == [
        (3, "id"),
        (4, "url"),
        (5, "sha256"),
        (6, "id"),
        (7, None),  # expected 3 columns, got 2
        (8, None),  # invalid CSV
        (9, None),  # not valid UTF-8
    ]


def test_csv_unterminated_quote_is_reported_at_its_first_line() -> None:
    data = b'id,url,title\na,http://x.org/a,"open\nb,http://x.org/b,\n'
    error = only_error(parse(data, "csv"))
    assert (error.line, error.field) == (2, None)
    assert "unterminated quoted field" in error.message


def test_csv_record_over_the_limit_spanning_lines() -> None:
    data = b'id,url,title\na,http://x.org/a,"' + b"long\n" * 20 + b'"\nb,http://x.org/b,\n'
    results = parse(data, "csv", max_line_bytes=64)
    assert only_error(results) == LineError(2, None, "CSV record is longer than 64 bytes")
    assert [(r.line, r.id) for r in items(results)] == [(23, "b")]


def test_csv_physical_line_over_the_limit_keeps_quote_parity() -> None:
    data = b'id,url,title\na,http://x.org/a,"' + b"x" * 200 + b'\nstill "" quoted"\nb,http://x.org/b,\n'
    results = parse(data, "csv", max_line_bytes=64)
    assert only_error(results) == LineError(2, None, "CSV record is longer than 64 bytes")
    assert [(r.line, r.id) for r in items(results)] == [(4, "b")]


# --- chunk boundaries anywhere: same results ---------------------------------------------------

ids = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12).filter(
    lambda s: not s.isspace()
)
hosts = st.sampled_from(["example.org", "EXAMPLE.org", "bücher.de", "127.0.0.1", "[::1]", "x.y"])
paths = st.text(st.sampled_from("abcXYZ019-._~!$&'()*+,;=:@/% é"), max_size=15)
urls = st.builds(
    lambda scheme, host, port, path, query: f"{scheme}://{host}{port}/{path}{query}",
    st.sampled_from(["http", "https", "HTTP"]),
    hosts,
    st.sampled_from(["", ":80", ":443", ":8080"]),
    paths.map(lambda p: p.replace("%", "%2f")),
    st.sampled_from(["", "?a=1", "?q=%c3%a9&b", "#frag"]),
)
texts = st.none() | st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=20
)


@st.composite
def manifests(draw: st.DrawFn) -> list[dict[str, str | None]]:
    chosen = draw(st.lists(ids, min_size=0, max_size=8, unique=True))
    return [
        {
            "id": item_id,
            "url": draw(urls),
            "sha256": draw(st.none() | st.just(SHA)),
            "md5": draw(st.none() | st.just(MD5.upper())),
            "license": draw(texts),
            "creator": draw(texts),
            "title": draw(texts),
            "media_type": draw(st.none() | st.just("image/png")),
            # Each identifier in one of its spellings: the parsed item carries the canonical one.
            "isbn": draw(
                st.none() | st.sampled_from(["0-306-40615-2", "978 0 306 40615 7", "9780306406157"])
            ),
            "isrc": draw(st.none() | st.sampled_from(["US-RC1-76-07839", "usrc17607839"])),
            "iswc": draw(st.none() | st.sampled_from(["T-034.524.680-1", "T0345246801"])),
            "doi": draw(st.none() | st.sampled_from(["10.1000/ABC-1", "https://doi.org/10.1000/abc-1"])),
        }
        for item_id in chosen
    ]


def render_jsonl(rows: list[dict[str, str | None]], *, header: bool, crlf: bool, blank: bool) -> bytes:
    newline = b"\r\n" if crlf else b"\n"
    out = [json.dumps({"manifest": {"id": "m"}}).encode()] if header else []
    for row in rows:
        out.append(json.dumps({k: v for k, v in row.items() if v is not None}).encode())
        if blank:
            out.append(b"")
    return newline.join(out) + newline


def render_csv(rows: list[dict[str, str | None]], *, crlf: bool) -> bytes:
    buffer = io.StringIO(newline="")
    # RFC 4180 quotes a field holding CR; csv.writer only does so when CR ends its lines.
    quoting = csv.QUOTE_MINIMAL if crlf else csv.QUOTE_ALL
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n", quoting=quoting)
    writer.writerow(ITEM_FIELDS)
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name in ITEM_FIELDS])
    return buffer.getvalue().encode()


def same_items(
    results: list[ParsedLine], rows: list[dict[str, str | None]], *, csv_text: bool = False
) -> None:
    assert errors(results) == []
    got = items(results)
    assert [r.id for r in got] == [row["id"] for row in rows]

    def text(value: str | None) -> str | None:
        # CSV line breaks inside quoted fields are read as \n whatever their spelling
        return (value.replace("\r\n", "\n") if csv_text else value) if value else None

    for raw, row in zip(got, rows, strict=True):
        assert (raw.license, raw.title, raw.creator) == (
            text(row["license"]),
            text(row["title"]),
            text(row["creator"]),
        )
        assert raw.md5 == (row["md5"].lower() if row["md5"] else None)
        canonical = {
            "isbn": "isbn:9780306406157",
            "isrc": "isrc:USRC17607839",
            "iswc": "iswc:T0345246801",
            "doi": "doi:10.1000/abc-1",
        }
        assert raw.identifiers == tuple(canonical[name] for name in canonical if row[name])
        event = event_for(raw)
        assert str(event.url) == raw.url
        assert (event.identifiers or []) == list(raw.identifiers)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=manifests(),
    header=st.booleans(),
    crlf=st.booleans(),
    blank=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_jsonl_chunk_boundaries_do_not_matter(
    rows: list[dict[str, str | None]], header: bool, crlf: bool, blank: bool, cuts: list[int]
) -> None:
    data = render_jsonl(rows, header=header, crlf=crlf, blank=blank)
    whole = parse(data)
    same_items(whole, rows)
    assert parse(data, cuts=[c % (len(data) + 1) for c in cuts]) == whole


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=manifests(),
    crlf=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_csv_chunk_boundaries_do_not_matter(
    rows: list[dict[str, str | None]], crlf: bool, cuts: list[int]
) -> None:
    data = render_csv(rows, crlf=crlf)
    whole = parse(data, "csv")
    same_items(whole, rows, csv_text=True)
    assert parse(data, "csv", cuts=[c % (len(data) + 1) for c in cuts]) == whole


def test_every_single_byte_split_of_a_mixed_manifest_gives_the_same_results() -> None:
    data = (
        b'\xef\xbb\xbf{"manifest": {"id": "m"}}\r\n'
        + jsonl(GOOD, {"id": "b\u00e9", "url": "http://b\u00fccher.de/x"})
        + b'{"id": "first", "url": "http://x.org/"}\r\n{bad\n\xe2\x82\xac\n'
        + b'{"id": "z", "url": "http://x.org/z"}'
    )
    whole = parse(data, max_line_bytes=48)
    assert len(errors(whole)) >= 3
    for cut in range(len(data) + 1):
        assert parse(data, cuts=[cut], max_line_bytes=48) == whole, cut


# --- arbitrary input never breaks the parser ---------------------------------------------------


def check_results(results: list[ParsedLine], data: bytes) -> None:
    last_line = data.count(b"\n") + 1
    for result in results:
        assert type(result) in (RawItem, LineError)
        assert 1 <= result.line <= last_line
        if isinstance(result, RawItem):
            event_for(result)  # every item the parser lets through is a valid items.v1 event
        else:
            (result.message + (result.field or "")).encode("utf-8")


@settings(max_examples=300)
@given(
    data=st.binary(max_size=400),
    fmt=st.sampled_from(["jsonl", "csv"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
    limit=st.sampled_from([8, 64, 1 << 20]),
)
def test_arbitrary_bytes_give_only_items_and_errors(
    data: bytes, fmt: str, cuts: list[int], limit: int
) -> None:
    results = parse(data, fmt, cuts=[c % (len(data) + 1) for c in cuts], max_line_bytes=limit)
    check_results(results, data)
    assert results == parse(data, fmt, max_line_bytes=limit)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | urls,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
near_items = st.dictionaries(
    st.sampled_from([*ITEM_FIELDS, "manifest", "extra"]) | st.text(max_size=6),
    json_values | ids | st.just(SHA),
    max_size=9,
)


@settings(max_examples=300)
@given(lines=st.lists(near_items, max_size=6), crlf=st.booleans())
def test_almost_valid_json_lines_give_only_items_and_errors(lines: list[dict[str, Any]], crlf: bool) -> None:
    data = b"".join(json.dumps(o).encode() + (b"\r\n" if crlf else b"\n") for o in lines)
    check_results(parse(data), data)


@settings(max_examples=200)
@given(
    text=st.text(st.sampled_from('ab,"\r\n\t \x00é'), max_size=120),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_quote_heavy_csv_gives_only_items_and_errors(text: str, cuts: list[int]) -> None:
    data = b"id,url,title\n" + text.encode()
    results = parse(data, "csv", cuts=[c % (len(data) + 1) for c in cuts])
    check_results(results, data)
    assert results == parse(data, "csv")


def test_csv_field_over_the_csv_module_limit_is_an_error_not_a_crash() -> None:
    data = b"id,url,title\na,http://x.org/a," + b"t" * 200_000 + b"\nb,http://x.org/b,\n"
    results = parse(data, "csv")
    error = only_error(results)
    assert (error.line, error.field) == (2, None)
    assert "field larger than field limit" in error.message
    assert [r.id for r in items(results)] == ["b"]


def test_csv_after_a_bad_header_nothing_more_is_reported() -> None:
    results = parse(b'nope\na,"unterminated\n', "csv")
    assert [(e.line, e.field) for e in errors(results)] == [(1, "nope"), (1, "id"), (1, "url")]


# --- work identifiers --------------------------------------------------------------------------


def test_identifiers_are_read_normalised_and_carried_on_the_event() -> None:
    data = jsonl(
        {"id": "book", "url": "http://x.org/b", "isbn": "0-306-40615-2", "doi": "10.1000/ABC"},
        {"id": "isbn-number", "url": "http://x.org/n", "isbn": 9780306406157},
        {"id": "song", "url": "http://x.org/s", "isrc": "us-rc1-76-07839", "iswc": "T-034.524.680-1"},
        {"id": "plain", "url": "http://x.org/p", "doi": ""},
    )
    got = {raw.id: raw.identifiers for raw in items(parse(data))}
    assert got == {
        "book": ("isbn:9780306406157", "doi:10.1000/abc"),
        "isbn-number": ("isbn:9780306406157",),
        "song": ("isrc:USRC17607839", "iswc:T0345246801"),
        "plain": (),
    }
    book = next(raw for raw in items(parse(data)) if raw.id == "book")
    assert event_for(book).identifiers == ["isbn:9780306406157", "doi:10.1000/abc"]
    plain = next(raw for raw in items(parse(data)) if raw.id == "plain")
    assert event_for(plain).identifiers is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("isbn", "0-306-40615-3", "wrong check digit"),
        ("isbn", "12345", "10 or 13 digits"),
        ("isrc", "USRC1760783", "2 letters"),
        ("iswc", "T-034.524.680-2", "wrong check digit"),
        ("doi", "not a doi", "10.<registrant>/<suffix>"),
        ("doi", 10.1, "must be a string"),
    ],
)
def test_a_bad_identifier_names_its_line_and_field(field: str, value: object, message: str) -> None:
    data = jsonl({"id": "ok", "url": "http://x.org/a"}, {"id": "bad", "url": "http://x.org/b", field: value})
    error = only_error(parse(data))
    assert (error.line, error.field) == (2, field)
    assert message in error.message
    assert [raw.id for raw in items(parse(data))] == ["ok"]


def test_csv_identifier_columns() -> None:
    data = (
        b"id,url,ISBN,doi\na,http://x.org/a,0-306-40615-2,\nb,http://x.org/b,,10.1/X\nc,http://x.org/c,978,\n"
    )
    results = parse(data, "csv")
    assert [(raw.id, raw.identifiers) for raw in items(results)] == [
        ("a", ("isbn:9780306406157",)),
        ("b", ("doi:10.1/x",)),
    ]
    error = only_error(results)
    assert (error.line, error.field) == (4, "isbn")
