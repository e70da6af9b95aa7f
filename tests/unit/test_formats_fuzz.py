"""Every new parser against arbitrary bytes and arbitrary JSON: only results, never an exception,
never a hang; and every item of a valid file comes out."""

from __future__ import annotations

import contextlib
import copy
import csv
import io
import itertools
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry_ingest.domain import LineError, ParsedLine, RawItem, UnsupportedFormatError
from consentry_ingest.domain.formats import (
    FORMATS,
    CardLicence,
    CdxjParser,
    detect_any_format,
    read_croissant,
    read_hf_card,
    read_parquet,
)

pytestmark = pytest.mark.timeout(240)

DATA = Path(__file__).parent / "data" / "formats"
CROISSANT = json.loads((DATA / "croissant-photos" / "metadata.json").read_text())
CROISSANT_CSV = (DATA / "croissant-photos" / "data" / "images.csv").read_bytes()
# CONSENTRY_FUZZ_EXAMPLES raises the count for a long run (a nightly job, or after changing a parser).
FUZZ = settings(
    max_examples=int(os.environ.get("CONSENTRY_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def only_results(results: list[Any]) -> list[ParsedLine]:
    assert all(isinstance(r, RawItem | LineError) for r in results), results
    for r in results:
        if isinstance(r, LineError):
            assert r.line >= 0
            (r.message + (r.field or "")).encode("utf-8")  # reportable as is
    return results


def parse_cdxj(data: bytes, cuts: list[int]) -> list[ParsedLine]:
    parser = CdxjParser()
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    results: list[ParsedLine] = []
    for start, end in itertools.pairwise(bounds):
        results += parser.feed(data[start:end])
    return results + parser.close()


def parse_parquet(data: bytes) -> list[ParsedLine]:
    return [r for batch in read_parquet(io.BytesIO(data)) for r in batch]


def parse_croissant(data: bytes, files: dict[str, bytes] | None = None) -> list[ParsedLine]:
    given = files or {}

    def open_file(name: str) -> io.BytesIO | None:
        return io.BytesIO(given[name]) if name in given else None

    def list_files(pattern: str) -> list[str]:
        return sorted(given)

    return [r for b in read_croissant(data, open_file=open_file, list_files=list_files) for r in b]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
croissant_keys = st.sampled_from(
    ["@context", "@type", "@id", "name", "license", "sdLicense", "creator", "distribution", "recordSet",
     "field", "source", "fileObject", "fileSet", "extract", "column", "jsonPath", "contentUrl", "sha256",
     "md5", "key", "dataType", "includes", "containedIn", "encodingFormat", "conformsTo", "transform", "data"]
)  # fmt: skip


# --- arbitrary bytes -----------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=2048), cuts=st.lists(st.integers(min_value=0), max_size=4))
def test_arbitrary_bytes_to_cdxj(data: bytes, cuts: list[int]) -> None:
    only_results(parse_cdxj(data, cuts))


@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_to_parquet(data: bytes) -> None:
    only_results(parse_parquet(data))
    only_results(parse_parquet(b"PAR1" + data + b"PAR1"))


def small_parquet() -> bytes:
    buffer = io.BytesIO()
    table = pa.table(
        {
            "key": ["a", "b", "c"],
            "url": ["https://x.org/1", "https://x.org/2", "https://x.org/3"],
            "caption": ["one", None, "three"],
            "headers": ['{"x-robots-tag": "noai"}', None, None],
        }
    )
    pq.write_table(table, buffer, row_group_size=2)
    return buffer.getvalue()


SMALL_PARQUET = small_parquet()


@FUZZ
@given(
    st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), min_size=1, max_size=8
    )
)
def test_corrupted_parquet_files(changes: list[tuple[int, int]]) -> None:
    data = bytearray(SMALL_PARQUET)
    for position, value in changes:
        data[position % len(data)] = value
    only_results(parse_parquet(bytes(data)))


@FUZZ
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_to_croissant_and_cards(data: bytes) -> None:
    only_results(parse_croissant(data))
    card = read_hf_card(data)
    assert isinstance(card, CardLicence) or only_results(card)  # type: ignore[arg-type]
    card = read_hf_card(b"---\n" + data + b"\n---\n")
    assert isinstance(card, CardLicence) or only_results(card)  # type: ignore[arg-type]


@FUZZ
@given(data=st.binary(max_size=256), name=st.none() | st.text(max_size=20))
def test_detection_answers_a_format_or_refuses_with_its_own_error(data: bytes, name: str | None) -> None:
    with contextlib.suppress(UnsupportedFormatError):
        assert detect_any_format(name, data) in FORMATS


# --- arbitrary JSON ------------------------------------------------------------------------------


@FUZZ
@given(value=json_values)
def test_arbitrary_json_documents_to_croissant(value: Any) -> None:
    only_results(parse_croissant(json.dumps(value).encode()))


@FUZZ
@given(
    replacements=st.lists(
        st.tuples(st.lists(st.integers(0, 12), min_size=1, max_size=5), json_values), max_size=4
    ),
    keys=st.lists(
        st.tuples(st.lists(st.integers(0, 12), max_size=4), croissant_keys, json_values), max_size=3
    ),
)
def test_mutated_croissant_documents(
    replacements: list[tuple[list[int], Any]], keys: list[tuple[list[int], str, Any]]
) -> None:
    document = copy.deepcopy(CROISSANT)

    def walk(node: Any, path: list[int]) -> tuple[Any, Any] | None:
        parent, key = None, None
        for step in path:
            if isinstance(node, dict) and node:
                key = sorted(node)[step % len(node)]
            elif isinstance(node, list) and node:
                key = step % len(node)
            else:
                break
            parent, node = node, node[key]
        return (parent, key) if parent is not None else None

    for path, value in replacements:
        found = walk(document, path)
        if found is not None:
            found[0][found[1]] = value
    for path, key, value in keys:
        found = walk(document, path)
        target = found[0][found[1]] if found else document
        if isinstance(target, dict):
            target[key] = value
    only_results(parse_croissant(json.dumps(document).encode(), {"data/images.csv": CROISSANT_CSV}))


@FUZZ
@given(value=json_values, timestamp=st.text(max_size=16))
def test_arbitrary_json_in_cdxj_lines(value: Any, timestamp: str) -> None:
    body = json.dumps(value)
    line = f"org,x)/ {timestamp} {body}\n".encode("utf-8", "surrogatepass")
    only_results(parse_cdxj(line + body.encode("utf-8", "surrogatepass") + b"\n", []))
    if isinstance(value, dict):
        with_url = {**value, "url": "https://x.org/", "digest": value.get("digest", "x")}
        only_results(
            parse_cdxj(
                f"org,x)/ 20250101000000 {json.dumps(with_url)}\n".encode("utf-8", "surrogatepass"), []
            )
        )


@FUZZ
@given(
    value=st.dictionaries(
        st.sampled_from(["license", "license_name", "license_link", "configs", "x"]), json_values
    )
)
def test_arbitrary_yaml_values_in_cards(value: dict[str, Any]) -> None:
    header = yaml.safe_dump(value, allow_unicode=True)
    card = read_hf_card(f"---\n{header}---\n".encode("utf-8", "surrogatepass"))
    assert isinstance(card, CardLicence) or only_results(card)  # type: ignore[arg-type]


# --- nothing lost from a valid file --------------------------------------------------------------

urls = st.builds(
    "https://{}.{}/{}".format,
    st.from_regex(r"[a-z][a-z0-9]{0,9}", fullmatch=True),
    st.sampled_from(["org", "com", "example"]),
    st.from_regex(r"[A-Za-z0-9_./-]{0,24}", fullmatch=True),
)
ids = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N", "P", "S"), max_codepoint=0x2FFF),
    min_size=1,
    max_size=12,
)
records = st.lists(st.tuples(ids, urls), unique_by=lambda r: r[0], max_size=40)


@FUZZ
@given(rows=records, batch_rows=st.integers(min_value=1, max_value=16))
def test_no_item_lost_from_a_valid_parquet_file(rows: list[tuple[str, str]], batch_rows: int) -> None:
    buffer = io.BytesIO()
    table = pa.table(
        {"key": [r[0] for r in rows], "URL": [r[1] for r in rows]},
        schema=pa.schema([("key", pa.string()), ("URL", pa.string())]),
    )
    pq.write_table(table, buffer, row_group_size=7)
    buffer.seek(0)
    found = [r for batch in read_parquet(buffer, batch_rows=batch_rows) for r in batch]
    assert all(isinstance(r, RawItem) for r in found), found
    assert [(r.line, r.id) for r in found] == [(n + 1, row[0]) for n, row in enumerate(rows)]  # type: ignore[union-attr]


@FUZZ
@given(rows=st.lists(urls, unique=True, max_size=40), cuts=st.lists(st.integers(min_value=0), max_size=3))
def test_no_item_lost_from_a_valid_cdxj_file(rows: list[str], cuts: list[int]) -> None:
    data = b"".join(
        f"org,x)/{n} 2025010100{n % 60:02d}00 {json.dumps({'url': url, 'status': '200'})}\n".encode()
        for n, url in enumerate(rows)
    )
    found = parse_cdxj(data, cuts)
    assert all(isinstance(r, RawItem) for r in found), found
    assert [r.line for r in found] == list(range(1, len(rows) + 1))


@FUZZ
@given(files=records, rows=records)
def test_no_item_lost_from_a_valid_croissant(
    files: list[tuple[str, str]], rows: list[tuple[str, str]]
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["image_id", "url", "caption", "license", "sha256"])
    writer.writerows([row_id, url, "", "", ""] for row_id, url in rows)
    document = copy.deepcopy(CROISSANT)
    document["distribution"] = [
        {"@type": "cr:FileObject", "@id": f"file/{file_id}", "contentUrl": url} for file_id, url in files
    ] + [document["distribution"][2]]
    del document["recordSet"][2]
    found = parse_croissant(json.dumps(document).encode(), {"data/images.csv": buffer.getvalue().encode()})
    if not files and not rows:  # nothing to check is said, not left silent
        assert [(r.line, r.field) for r in found if isinstance(r, LineError)] == [(0, "$.distribution")]
        return
    assert all(isinstance(r, RawItem) for r in found), [r for r in found if isinstance(r, LineError)]
    assert [r.id for r in found] == [f"file/{f}" for f, _ in files] + [f"images/{r}" for r, _ in rows]  # type: ignore[union-attr]
