"""Parquet manifests: LAION / img2dataset shaped files written with pyarrow, read a batch at a time."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consentry_ingest.domain import LineError, ParsedLine, RawItem
from consentry_ingest.domain.formats import ColumnMappingError, read_parquet

SHA = "ab" * 32
MD5 = "cd" * 16


def parquet(table: pa.Table, **kw: Any) -> io.BytesIO:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **kw)
    buffer.seek(0)
    return buffer


def read(source: io.BytesIO, **kw: Any) -> list[ParsedLine]:
    return [result for batch in read_parquet(source, **kw) for result in batch]


def items(results: list[ParsedLine]) -> list[RawItem]:
    return [r for r in results if isinstance(r, RawItem)]


def errors(results: list[ParsedLine]) -> list[LineError]:
    return [r for r in results if isinstance(r, LineError)]


def laion_400m(rows: int = 4) -> pa.Table:
    """The columns of LAION-400M's metadata parquet files."""
    licences = [
        "?",
        "https://creativecommons.org/licenses/by-nc-sa/2.0/",
        None,
        "https://creativecommons.org/licenses/by/4.0/",
    ]
    return pa.table(
        {
            "SAMPLE_ID": pa.array([1000 + n for n in range(rows)], pa.int64()),
            "URL": [f"https://images.example.org/{n}.JPG#frag" for n in range(rows)],
            "TEXT": [f"a photo of cat {n}" for n in range(rows)],
            "HEIGHT": [256] * rows,
            "WIDTH": [320] * rows,
            "LICENSE": [licences[n % 4] for n in range(rows)],
            "NSFW": ["UNLIKELY"] * rows,
            "similarity": [0.31] * rows,
        }
    )


def test_laion_400m_columns_become_items() -> None:
    found = read(parquet(laion_400m()))
    assert found == [
        RawItem(1, "1000", "https://images.example.org/0.JPG", title="a photo of cat 0"),
        RawItem(
            2, "1001", "https://images.example.org/1.JPG", license="CC-BY-NC-SA-2.0", title="a photo of cat 1"
        ),
        RawItem(3, "1002", "https://images.example.org/2.JPG", title="a photo of cat 2"),
        RawItem(4, "1003", "https://images.example.org/3.JPG", license="CC-BY-4.0", title="a photo of cat 3"),
    ]


def test_without_an_id_column_the_id_is_the_row_number() -> None:
    """LAION-5B's files carry no id: the 1-based data row is the id, as documented."""
    table = pa.table(
        {
            "URL": ["http://a.org/1", "http://a.org/2", "http://a.org/3"],
            "TEXT": ["one", "two", "three"],
            "WIDTH": [1, 2, 3],
            "HEIGHT": [1, 2, 3],
            "similarity": [0.3, 0.3, 0.3],
            "punsafe": [0.01, 0.02, 0.03],
            "pwatermark": [0.1, 0.2, 0.3],
        }
    )
    assert [(i.line, i.id, i.title) for i in items(read(parquet(table)))] == [
        (1, "1", "one"),
        (2, "2", "two"),
        (3, "3", "three"),
    ]


def test_img2dataset_output_columns() -> None:
    table = pa.table(
        {
            "key": ["000000000", "000000001"],
            "url": ["https://x.org/a.png", "https://x.org/b.png"],
            "caption": ["a", None],
            "status": ["success", "success"],
            "error_message": pa.array([None, None], pa.null()),
            "width": [64, 64],
            "height": [64, 64],
            "original_width": [512, 640],
            "original_height": [512, 480],
            "exif": ["{}", "{}"],
            "sha256": [SHA.upper(), None],
            "md5": [MD5, ""],
        }
    )
    assert read(parquet(table)) == [
        RawItem(1, "000000000", "https://x.org/a.png", sha256=SHA, md5=MD5, title="a"),
        RawItem(2, "000000001", "https://x.org/b.png"),
    ]


def test_a_column_mapping_reads_other_schemas() -> None:
    """PD12M-like: the MD5 is in ``hash``; a Flickr-like URL column; a text column kept out."""
    table = pa.table(
        {
            "id": ["p1"],
            "downloadurl": ["https://flickr.example/p1.jpg"],
            "url": ["https://flickr.example/page/p1"],
            "hash": [MD5],
            "mime_type": ["image/jpeg"],
            "license": ["https://creativecommons.org/publicdomain/zero/1.0/"],
            "caption": ["a very long text"],
            "owner": ["ann"],
        }
    )
    mapping = {"url": "downloadurl", "md5": "hash", "title": None, "creator": "owner"}
    assert read(parquet(table), columns=mapping) == [
        RawItem(
            1,
            "p1",
            "https://flickr.example/p1.jpg",
            md5=MD5,
            license="CC0-1.0",
            creator="ann",
            media_type="image/jpeg",
        )
    ]


def test_errors_name_the_row_and_the_files_column() -> None:
    table = pa.table(
        {
            "key": ["a", "b", "c", "a", "e"],
            "URL": ["http://x.org/1", "ftp://x.org/2", None, "http://x.org/4", "http://x.org/5"],
            "sha256": [None, None, None, None, "beef"],
        }
    )
    assert [(e.line, e.field, e.message) for e in errors(read(parquet(table)))] == [
        (2, "URL", "url 'ftp://x.org/2' must be an absolute http:// or https:// URL"),
        (3, "URL", "missing url"),
        (4, "key", "duplicate id 'a', first seen on row 1"),
        (5, "sha256", "sha256 must be 64 hexadecimal characters, got 'beef'"),
    ]


def test_rows_are_numbered_across_batches_and_row_groups() -> None:
    table = pa.table({"url": [f"http://x.org/{n}" for n in range(10)], "id": [f"i{n}" for n in range(10)]})
    source = parquet(table, row_group_size=4)
    batches = list(read_parquet(source, batch_rows=3))
    assert len(batches) >= 4
    assert [(i.line, i.id) for batch in batches for i in batch if isinstance(i, RawItem)] == [
        (n + 1, f"i{n}") for n in range(10)
    ]


@pytest.mark.parametrize(
    ("columns", "mapping", "field", "message"),
    [
        ({"link": ["http://x.org/"]}, None, "url", "no url column"),
        ({"url": ["http://x.org/"]}, {"url": "URL"}, "URL", "no column 'URL' (mapped to url)"),
        ({"url": ["http://x.org/"], "URL": ["http://x.org/"]}, None, "url", "all read as url"),
        ({"url": [1]}, None, "url", "must hold strings, not int64"),
        ({"url": ["http://x.org/"], "id": [1.5]}, None, "id", "must hold strings or integers"),
        ({"url": ["http://x.org/"]}, {"url": None}, "url", "every item needs one"),
    ],
)
def test_schema_problems_are_file_errors_on_line_0(
    columns: dict[str, list[Any]], mapping: dict[str, str | None] | None, field: str, message: str
) -> None:
    found = read(parquet(pa.table(columns)), columns=mapping)
    assert all(isinstance(r, LineError) and r.line == 0 for r in found), found
    assert any(e.field == field and message in e.message for e in errors(found)), found


def test_a_mapping_to_a_field_items_do_not_have_is_refused_at_once() -> None:
    with pytest.raises(ColumnMappingError, match="'caption'"):
        read_parquet(io.BytesIO(b""), columns={"caption": "TEXT"})
    with pytest.raises(ValueError, match="batch_rows"):
        read_parquet(io.BytesIO(b""), batch_rows=0)


@pytest.mark.parametrize(
    "data", [b"", b"PAR1", b"id,url\na,http://x.org/\n", b"PAR1" + b"\x00" * 64 + b"PAR1"]
)
def test_what_is_not_parquet_is_one_error(data: bytes) -> None:
    [error] = read(io.BytesIO(data))
    assert isinstance(error, LineError)
    assert (error.line, error.field) == (0, None)
    assert error.message.startswith("not a readable Parquet file")


def test_a_truncated_file_is_an_error_not_a_crash() -> None:
    data = parquet(laion_400m(50)).getvalue()
    for cut in (len(data) // 2, len(data) - 9, 12):
        found = read(io.BytesIO(data[:cut] + data[-8:]))
        assert errors(found), cut


def test_binary_columns_raw_digests_and_bad_utf8() -> None:
    table = pa.table(
        {
            "url": pa.array([b"http://x.org/1", b"http://x.org/\xff"], pa.binary()),
            "id": pa.array([b"a", b"b"], pa.binary()),
            "sha256": pa.array([bytes.fromhex(SHA), bytes.fromhex(SHA)], pa.binary(32)),
        }
    )
    assert read(parquet(table)) == [
        RawItem(1, "a", "http://x.org/1", sha256=SHA),
        LineError(2, "url", "url is not valid UTF-8"),
    ]


def test_dictionary_encoded_and_large_string_columns() -> None:
    table = pa.table(
        {
            "url": pa.array(["http://x.org/1", "http://x.org/2"], pa.large_string()),
            "license": pa.array(["MIT", "MIT"]).dictionary_encode(),
        }
    )
    assert [i.license for i in items(read(parquet(table)))] == ["MIT", "MIT"]


def test_laion_5b_columns_with_an_all_null_licence_column() -> None:
    """laion2B-en metadata: large strings, NaN sizes, an int64 ``hash``, and a ``LICENSE`` column
    that holds only nulls, which Arrow types as ``null``: read as no licence, not refused."""
    table = pa.table(
        {
            "URL": pa.array(
                ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"], pa.large_string()
            ),
            "TEXT": pa.array(["a cat", None], pa.large_string()),
            "WIDTH": [640.0, float("nan")],
            "HEIGHT": [480.0, float("nan")],
            "similarity": [0.35, 0.31],
            "hash": pa.array([-5275683834187745616, 42], pa.int64()),
            "punsafe": [0.01, float("nan")],
            "pwatermark": pa.array([0.2, 0.9], pa.float32()),
            "LICENSE": pa.nulls(2),
        }
    )
    assert table.schema.field("LICENSE").type == pa.null()
    assert read(parquet(table)) == [
        RawItem(1, "1", "https://cdn.example.com/a.jpg", title="a cat"),
        RawItem(2, "2", "https://cdn.example.com/b.png"),
    ]


def test_null_typed_columns_for_other_fields_give_nothing_and_the_url_is_still_required() -> None:
    table = pa.table({"url": ["https://x.org/1"], "sha256": pa.nulls(1), "fetched_at": pa.nulls(1)})
    assert read(parquet(table)) == [RawItem(1, "1", "https://x.org/1")]
    found = read(parquet(pa.table({"url": pa.nulls(2)})))
    assert [(e.line, e.field) for e in errors(found)] == [(1, "url"), (2, "url")]
    assert not items(found)


def test_common_crawls_columnar_index() -> None:
    """cc-index-table rows: the URL, the detected media type over the declared one, the fetch time
    as crawl-time evidence; the SURT key, status, digest and WARC location are not item fields."""
    fetched = datetime(2025, 5, 12, 5, 40, 1)
    table = pa.table(
        {
            "url_surtkey": ["org,example)/cat.jpg"],
            "url": ["https://example.org/cat.jpg"],
            "url_host_name": ["example.org"],
            "fetch_time": pa.array([fetched], pa.timestamp("ms")),
            "fetch_status": pa.array([200], pa.int16()),
            "content_digest": ["ZA6MPPJEFGZ53KWFSLWMF7NDO7RKOWR4"],
            "content_mime_type": ["image/jpg"],
            "content_mime_detected": ["image/jpeg"],
            "warc_filename": ["crawl-data/CC-MAIN-2025-21/segments/1/warc/a.warc.gz"],
            "warc_record_offset": pa.array([243658810], pa.int32()),
            "warc_record_length": pa.array([78501], pa.int32()),
            "crawl": ["CC-MAIN-2025-21"],
            "subset": ["warc"],
        }
    )
    [item] = read(parquet(table))
    assert isinstance(item, RawItem)
    assert (item.id, item.url, item.media_type, dict(item.evidence)) == (
        "1",
        "https://example.org/cat.jpg",
        "image/jpeg",
        {"fetched_at": "2025-05-12T05:40:01Z"},
    )


def test_datacomp_uid_is_the_id() -> None:
    table = pa.table(
        {
            "uid": ["f2a1e0c9b7d64e1e9a4c1b2d3e4f5a6b", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"],
            "url": ["https://img.example.net/x.jpg", "https://img.example.net/y.jpg"],
            "text": ["x", "y"],
            "clip_b32_similarity_score": pa.array([0.28, 0.31], pa.float32()),
            "face_bboxes": pa.array([[], [[0.1, 0.1, 0.2, 0.2]]], pa.list_(pa.list_(pa.float64()))),
            "sha256": [SHA, None],
        }
    )
    assert [(i.id, i.sha256) for i in items(read(parquet(table)))] == [
        ("f2a1e0c9b7d64e1e9a4c1b2d3e4f5a6b", SHA),
        ("0a1b2c3d4e5f60718293a4b5c6d7e8f9", None),
    ]


def test_long_titles_are_cut() -> None:
    table = pa.table({"url": ["http://x.org/"], "text": ["w" * 10_000]})
    [item] = items(read(parquet(table)))
    assert item.title is not None
    assert len(item.title) == 4096
    assert item.title.endswith("…")


def test_evidence_columns_in_their_parquet_types() -> None:
    headers_type = pa.map_(pa.string(), pa.string())
    table = pa.table(
        {
            "url": ["http://x.org/1", "http://x.org/2", "http://x.org/3"],
            "headers": pa.array(
                [
                    [("X-Robots-Tag", "noai"), ("Content-Type", "image/png")],
                    None,
                    [("x-robots-tag", "noimageai")],
                ],
                headers_type,
            ),
            "html_meta": pa.array(
                [{"tdm-reservation": "1", "robots": None}, None, None],
                pa.struct([("tdm-reservation", pa.string()), ("robots", pa.string())]),
            ),
            "robots_txt": ["User-agent: GPTBot\nDisallow: /\n", None, ""],
            "ai_txt_sha256": [None, SHA.upper(), None],
            "fetched_at": pa.array(
                [datetime(2025, 5, 12, 5, 40, 1), None, datetime(2025, 5, 12, 7, 40, 1, tzinfo=UTC)],
                pa.timestamp("s", tz="UTC"),
            ),
        }
    )
    first, second, third = read(parquet(table))
    assert isinstance(first, RawItem)
    assert dict(first.evidence) == {
        "headers": json.dumps(
            {"content-type": ["image/png"], "x-robots-tag": ["noai"]}, separators=(",", ":")
        ),
        "html_meta": '{"tdm-reservation":["1"]}',
        "robots_txt": "User-agent: GPTBot\nDisallow: /\n",
        "fetched_at": "2025-05-12T05:40:01Z",
    }
    assert isinstance(second, RawItem)
    assert dict(second.evidence) == {"ai_txt_sha256": SHA}
    assert isinstance(third, RawItem)
    assert dict(third.evidence) == {
        "headers": '{"x-robots-tag":["noimageai"]}',
        "fetched_at": "2025-05-12T07:40:01Z",
    }


def test_bad_evidence_names_its_column_and_row() -> None:
    table = pa.table(
        {"url": ["http://x.org/1", "http://x.org/2"], "headers": ['{"x-robots-tag": "noai"}', "not json"]}
    )
    found = read(parquet(table))
    assert isinstance(found[0], RawItem)
    assert found[1] == LineError(2, "headers", "headers is not valid JSON")


def arrow_peak_while_reading(rows: int) -> int:
    table = pa.table(
        {
            "url": [f"https://images{n % 50}.example.org/photos/{n:08d}.jpg" for n in range(rows)],
            "caption": [f"a photograph, number {n}, of something quite ordinary" for n in range(rows)],
        }
    )
    source = parquet(table, row_group_size=rows)  # one row group: the worst case
    del table
    start = pa.total_allocated_bytes()
    peak = count = 0
    for batch in read_parquet(source, batch_rows=1000):
        peak = max(peak, pa.total_allocated_bytes() - start)
        count += len(batch)
    assert count == rows
    return peak


def test_memory_is_bounded_by_the_batch_not_the_file() -> None:
    """Four times the rows (in one row group) must not cost four times the Arrow memory."""
    small, large = arrow_peak_while_reading(50_000), arrow_peak_while_reading(200_000)
    assert large < 1.5 * small, (small, large)


def test_identifier_columns_are_read_and_checked() -> None:
    table = pa.table(
        {
            "url": ["http://x.org/a", "http://x.org/b", "http://x.org/c"],
            "isbn": pa.array([9780306406157, None, None], pa.int64()),
            "doi": ["10.1000/ABC", None, "nope"],
        }
    )
    results = read(parquet(table))
    assert [(raw.id, raw.identifiers) for raw in items(results)] == [
        ("1", ("isbn:9780306406157", "doi:10.1000/abc")),
        ("2", ()),
    ]
    [error] = errors(results)
    assert (error.line, error.field) == (3, "doi")
