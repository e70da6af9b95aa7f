"""The JSONL parser reads lines with msgspec and falls back to the standard library's decoder.

Where msgspec reads a line at all it must read exactly the value ``json`` reads (type for type,
float for float), and the parser's results -- items and every error's line, field and message --
must be those of the reference reading alone.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from consentry_ingest.domain import ManifestParser, ParsedLine
from consentry_ingest.domain import manifest as manifest_module

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(st.characters(), max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    ["id", "url", "sha256", "md5", "license", "title", "isbn", "doi", "headers", "c2pa", "tdmrep_json", "x"]
)
item_like = st.dictionaries(field_names, json_values, max_size=6) | st.fixed_dictionaries(
    {"id": st.text(max_size=8) | st.integers(), "url": st.just("https://example.org/a")},
    optional={"c2pa": json_values, "tdmrep_json": json_values, "headers": json_values, "title": json_values},
)


def spellings(value: Any) -> st.SearchStrategy[bytes]:
    """``value`` as JSON text in a few spellings (escaped or not, spaced or not)."""
    return st.sampled_from(
        [
            json.dumps(value).encode(),
            json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"),
            json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"),
            b" \t" + json.dumps(value, indent=None).encode() + b" ",
        ]
    )


lines = st.one_of(
    (json_values | item_like).flatmap(spellings),
    st.binary(max_size=40),
    st.builds(
        lambda text, at, insert: text[:at] + insert + text[at:],
        item_like.flatmap(spellings),
        st.integers(min_value=0, max_value=60),
        st.sampled_from([b",", b"}", b'"', b"\\", b"\xff", b"\x01", b"NaN", b"1e999", b"\\ud800", b" "]),
    ),
)


def identical(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``1 != True``, ``0.0 != -0.0`` here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or repr(a) == repr(b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(identical(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def parse(data: bytes) -> list[ParsedLine]:
    parser = ManifestParser("jsonl")
    return [*parser.feed(data), *parser.close()]


def reference_parse(data: bytes) -> list[ParsedLine]:
    def refuse(_raw: bytes) -> object:
        raise ValueError("take the reference path")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_module, "_read_json_fast", refuse)
        return parse(data)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(line=lines)
@example(line=b"1" * 5000)
@example(line=b'{"a":1e400}')
@example(line=b'{"a":-0.0,"b":-0,"a":2}')
@example(line=b'{"a":"\\uDC00\\ud800"}')
@example(line=b'{"a":"\\ud83d\\ude00"}')
@example(line=b'{"a":"x\x7fy"}')
@example(line=b'{"a":1.7976931348623157e308,"b":5e-324,"c":2.2250738585072011e-308}')
@example(line=b"[" * 3000 + b"]" * 3000)
def test_msgspec_reads_what_json_reads_or_refuses(line: bytes) -> None:
    try:
        fast = manifest_module._read_json_fast(line)
    except (ValueError, RecursionError):
        return
    if b"\\ud" in line or b"\\uD" in line:
        return  # such lines never take the fast reading
    assert identical(fast, json.loads(line.decode("utf-8")))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.lists(lines, min_size=1, max_size=5), bom=st.booleans(), crlf=st.booleans())
def test_the_parser_gives_the_reference_results(body: list[bytes], bom: bool, crlf: bool) -> None:
    data = (b"\xef\xbb\xbf" if bom else b"") + b"".join(
        line.replace(b"\n", b"") + (b"\r\n" if crlf else b"\n") for line in body
    )
    assert parse(data) == reference_parse(data)


def test_the_fast_reading_is_taken_for_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    read = manifest_module._read_json_fast

    def spy(raw: bytes) -> object:
        calls.append(raw)
        return read(raw)

    monkeypatch.setattr(manifest_module, "_read_json_fast", spy)
    data = b'{"id": "a", "url": "https://example.org/"}\n{"id": "b", "title": "\\ud800"}\n'
    results = parse(data)
    assert calls == [b'{"id": "a", "url": "https://example.org/"}']  # not the surrogate line
    assert [type(result).__name__ for result in results] == ["RawItem", "LineError"]
